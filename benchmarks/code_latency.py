"""Question latency of this working tree against an earlier commit, in the same run.

A code change's effect on latency is a few milliseconds, and this machine's speed moves by more
than that from run to run (see the README), so both versions are timed together: each runs in
its own worker process (its own `src/` on the path, its own packaged weights, the same index),
and every question is asked of both, one after the other, the order alternating from question
to question, so that the machine's drift weighs on both alike. Only one worker runs at a time.
Writes benchmarks/results/code-latency.json.

    python benchmarks/code_latency.py --index IX --against 4d3dc7d \\
        ../shared/data/qa/dev.jsonl ../shared/data/qa/dev2.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import date
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WARM_UP = 5
"""Questions each worker answers first, untimed: model loading and first reads."""
PAUSE_SECONDS = 0.2
"""Idle time before each question: OpenBLAS's threads keep spinning for a while after a
product, and a worker's spinning threads would take the cores from the other worker's
question (measured: 95-100 ms at the median without the pause, against about 60 ms for a
single process asking the same questions)."""

# The worker: one Assistant, questions in on stdin (one JSON string a line), the seconds each
# `ask` took out on stdout. Written against the API every version has: Assistant(index_dir).ask.
WORKER = """
import json, sys, time
from pathlib import Path
from askdocs.api import Assistant
assistant = Assistant(index_dir=Path(sys.argv[1]))
for line in sys.stdin:
    question = json.loads(line)
    started = time.perf_counter()
    assistant.ask(question)
    print(time.perf_counter() - started, flush=True)
"""


def source_of(revision: str, folder: Path) -> Path:
    """The `src/` folder of a commit, unpacked into `folder` (git archive: no checkout)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "src"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


class Worker:
    def __init__(self, source: Path, index: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(source)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(index)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def ask(self, question: str) -> float:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(question) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a worker stopped (its error is above)")
        return float(line)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="+", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--against", required=True, help="the commit to compare with")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "code-latency.json")
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"]
        for path in args.questions
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "src"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as folder:
        sides = {
            "this": Worker(REPO / "src", args.index),
            "against": Worker(source_of(args.against, Path(folder)), args.index),
        }
        try:
            for question in questions[:WARM_UP]:
                for worker in sides.values():
                    worker.ask(question)
            times: dict[str, list[float]] = {name: [] for name in sides}
            for n, question in enumerate(questions):
                order = list(sides) if n % 2 == 0 else list(reversed(sides))
                for name in order:
                    time.sleep(PAUSE_SECONDS)
                    times[name].append(sides[name].ask(question))
        finally:
            for worker in sides.values():
                worker.close()
    result = {
        "date": date.today().isoformat(),
        "this": head + (" with uncommitted changes" if changed else ""),
        "against": args.against,
        "questions": len(questions),
        **{
            name: {
                "p50_ms": round(1000 * statistics.median(t), 1),
                "p95_ms": round(1000 * percentile(t, 0.95), 1),
                "mean_ms": round(1000 * statistics.mean(t), 1),
            }
            for name, t in times.items()
        },
        "ratio_p50": round(
            statistics.median(times["this"]) / statistics.median(times["against"]), 3
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
