"""Question latency in a process that has ingested (so torch holds the embedding model): the
question embedded in numpy, as askdocs does, against the same question embedded in torch, as
askdocs did until this benchmark was written (it then also lost the hidden states the
answerer's question encoder continues from, and ran those layers again).

Each side runs in its own process over the same index, after embedding a batch as an ingest
would (torch loaded); the sides alternate process by process for `--rounds` rounds, so that
the machine's drift weighs on both alike. (In one process the torch side's idle intra-op
threads slow the numpy side's arithmetic too, so the sides do not share one.) The torch side is
the shipped code with its embedder's numpy encoder switched off. Writes
benchmarks/results/question-after-ingest.json.

    python benchmarks/question_after_ingest.py --index IX \\
        ../shared/data/qa/dev.jsonl ../shared/data/qa/dev2.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from alternating import WARM_UP, questions_of, summary, write

TORCH_LOADING_BATCH = 100
"""Texts embedded first, as an ingest's batch: more than NUMPY_BATCH_LIMIT, so torch loads."""


def side(name: str, index: Path, questions: list[str]) -> list[float]:
    """Seconds per question, asked in this process by one side."""
    from answering_latency import timed  # imports askdocs: only the sides' processes need it

    from askdocs.api import Assistant

    assistant = Assistant(index_dir=index)
    assistant.embedder.embed_documents(["An ingest embeds its chunks."] * TORCH_LOADING_BATCH)
    if name == "torch":
        assistant.embedder._numpy_encoder = lambda: None  # the path before this benchmark
    ask = timed(assistant)
    for question in questions[:WARM_UP]:
        ask(question)
    return [ask(question) for question in questions]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="+", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--side", choices=("numpy", "torch"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/question-after-ingest.json")
    )
    args = parser.parse_args()
    questions = questions_of(args.questions)
    if args.side:  # one side's process: its times on stdout's last line
        print(json.dumps(side(args.side, args.index, questions)))
        return
    times: dict[str, list[float]] = {"numpy": [], "torch": []}
    for n in range(args.rounds):
        for name in ("numpy", "torch") if n % 2 == 0 else ("torch", "numpy"):
            command = [sys.executable, __file__, "--side", name, "--index", str(args.index)]
            done = subprocess.run(
                command + [str(p) for p in args.questions],
                capture_output=True,
                text=True,
                check=True,
            )
            times[name] += json.loads(done.stdout.strip().splitlines()[-1])
    write(
        {
            "date": date.today().isoformat(),
            "questions": len(questions),
            "rounds": args.rounds,
            "torch_is": "question embedded in torch once an ingest loaded it (the old path)",
            **summary(times, "numpy", "torch"),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
