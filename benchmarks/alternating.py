"""What the side-by-side latency benchmarks share (answering_latency.py, code_latency.py):
their questions, the alternating run and its summary.

A change's effect on latency is a few milliseconds and this machine's speed moves by more than
that from run to run, so both sides are timed together: every question is asked of both, one
after the other, the order alternating from question to question, so that the machine's drift
weighs on both alike."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

WARM_UP = 5
"""Questions asked of each side first and not timed: model loading and first reads."""


def questions_of(paths: Sequence[Path]) -> list[str]:
    """The questions of these .jsonl question files, in order."""
    return [
        json.loads(line)["question"]
        for path in paths
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def alternate(
    sides: Mapping[str, Callable[[str], float]], questions: Sequence[str], pause: float = 0.0
) -> dict[str, list[float]]:
    """Seconds each side took per question; each side is a function asking one question and
    returning the seconds it took. `pause`: idle time before each question."""
    for question in questions[:WARM_UP]:
        for ask in sides.values():
            ask(question)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for n, question in enumerate(questions):
        order = list(sides) if n % 2 == 0 else list(reversed(sides))
        for name in order:
            time.sleep(pause)
            times[name].append(sides[name](question))
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(times: Mapping[str, list[float]], new: str, old: str) -> dict:
    """p50, p95 and mean per side in ms, and the ratio of the `new` side's p50 to the `old`'s."""
    return {
        **{
            name: {
                "p50_ms": round(1000 * statistics.median(t), 1),
                "p95_ms": round(1000 * percentile(t, 0.95), 1),
                "mean_ms": round(1000 * statistics.mean(t), 1),
            }
            for name, t in times.items()
        },
        "ratio_p50": round(statistics.median(times[new]) / statistics.median(times[old]), 3),
    }


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
