"""What the answering model costs per question: the shipped answer weights against the same
weights without their answering model (Combiner.answering), or against another weights file
(`--against`, e.g. an earlier release's, its layers files beside it), in one process, on one
index.

Each question is asked of both, one after the other, the order alternating from question to
question, so that the machine's drift over the run weighs on both alike; each side has its own
embedder and caches. Writes benchmarks/results/answering-latency.json.

    python benchmarks/answering_latency.py --index IX \\
        ../shared/data/qa/dev.jsonl ../shared/data/qa/dev2.jsonl
    python benchmarks/answering_latency.py --index IX --against OLD/default.json \\
        --out benchmarks/results/answering-latency-against-OLD.json QUESTIONS...
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from askdocs.answer.combiner import _packaged, weights_text
from askdocs.api import Assistant

WARM_UP = 5
"""Questions asked of each side first and not timed: model loading and first reads."""


def without_answering(folder: Path) -> Path:
    """The packaged default weights without their answering model, with the refusing model's
    encoder layers beside them when it has any (the shipped one has none)."""
    data = json.loads(weights_text("default"))
    data.pop("answering", None)
    layers = data.get("question_encoder", {}).get("file")
    if layers:
        shutil.copy(_packaged(layers), folder / layers)
    path = folder / "default.json"
    path.write_text(json.dumps(data))
    return path


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="+", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument(
        "--against",
        type=Path,
        help="weights file to compare with (default: the shipped ones without their answering "
        "model); written as `without`",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/answering-latency.json")
    )
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"]
        for path in args.questions
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory() as folder:
        sides = {
            "without": Assistant(
                index_dir=args.index,
                answer_weights=str(args.against or without_answering(Path(folder))),
            ),
            "with": Assistant(index_dir=args.index),
        }
        for question in questions[:WARM_UP]:
            for assistant in sides.values():
                assistant.ask(question)
        times: dict[str, list[float]] = {name: [] for name in sides}
        for n, question in enumerate(questions):
            order = list(sides) if n % 2 == 0 else list(reversed(sides))
            for name in order:
                started = time.perf_counter()
                sides[name].ask(question)
                times[name].append(time.perf_counter() - started)
    result = {
        "date": date.today().isoformat(),
        "without_is": str(args.against) if args.against else "shipped weights, no answering model",
        "questions": len(questions),
        **{
            name: {
                "p50_ms": round(1000 * statistics.median(t), 1),
                "p95_ms": round(1000 * percentile(t, 0.95), 1),
            }
            for name, t in times.items()
        },
        "ratio_p50": round(
            statistics.median(times["with"]) / statistics.median(times["without"]), 3
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
