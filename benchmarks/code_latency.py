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
import subprocess
import sys
import tarfile
import tempfile
from datetime import date
from io import BytesIO
from pathlib import Path

from alternating import alternate, questions_of, summary, write

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="+", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--against", required=True, help="the commit to compare with")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "code-latency.json")
    args = parser.parse_args()
    questions = questions_of(args.questions)
    head = git("rev-parse", "--short", "HEAD")
    changed = git("status", "--porcelain", "src")
    with tempfile.TemporaryDirectory() as folder:
        sides = {
            "this": Worker(REPO / "src", args.index),
            "against": Worker(source_of(args.against, Path(folder)), args.index),
        }
        try:
            times = alternate({n: w.ask for n, w in sides.items()}, questions, PAUSE_SECONDS)
        finally:
            for worker in sides.values():
                worker.close()
    write(
        {
            "date": date.today().isoformat(),
            "this": head + (" with uncommitted changes" if changed else ""),
            "against": args.against,
            "questions": len(questions),
            **summary(times, "this", "against"),
        },
        args.out,
    )


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


if __name__ == "__main__":
    main()
