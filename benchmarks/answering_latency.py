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
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from alternating import alternate, questions_of, summary, write

from askdocs.answer.combiner import _packaged, weights_text
from askdocs.api import Assistant


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
    questions = questions_of(args.questions)
    with tempfile.TemporaryDirectory() as folder:
        sides = {
            "without": Assistant(
                index_dir=args.index,
                answer_weights=str(args.against or without_answering(Path(folder))),
            ),
            "with": Assistant(index_dir=args.index),
        }
        times = alternate({name: timed(a) for name, a in sides.items()}, questions)
    write(
        {
            "date": date.today().isoformat(),
            "without_is": str(args.against)
            if args.against
            else "shipped weights, no answering model",
            "questions": len(questions),
            **summary(times, "with", "without"),
        },
        args.out,
    )


def timed(assistant: Assistant) -> Callable[[str], float]:
    def ask(question: str) -> float:
        started = time.perf_counter()
        assistant.ask(question)
        return time.perf_counter() - started

    return ask


if __name__ == "__main__":
    main()
