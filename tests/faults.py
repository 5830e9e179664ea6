"""Helpers of the fault suite (`make reliability`): recording trials, generated corpora."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parents[1] / "test-output" / "reliability" / "results.jsonl"

Recorder = Callable[..., None]


def recorder(test_id: str) -> Recorder:
    """record(area, case, trials=, failures=, detail=): one row of the summary table."""

    def write(area: str, case: str, trials: int, failures: int, detail: str = "") -> None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        row = {
            "area": area, "case": case, "trials": trials, "failures": failures,
            "detail": detail, "test": test_id,
        }  # fmt: skip
        with RESULTS.open("a") as handle:
            handle.write(json.dumps(row) + "\n")

    return write


def synthetic_corpus(folder: Path, articles: int, seed: int = 0) -> Path:
    """Plausible news-like articles made of shuffled sentences: many chunks, fast to embed."""
    rng = random.Random(seed)
    subjects = ["The council", "Ministers", "The club", "Researchers", "The company", "Police"]
    verbs = ["announced", "rejected", "approved", "delayed", "questioned", "welcomed"]
    objects = ["a new bridge", "the budget", "a transfer", "the findings", "a merger", "a plan"]
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(articles):
        sentences = [
            f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} "
            f"on day {rng.randint(1, 28)} in district {rng.randint(1, 500)}."
            for _ in range(rng.randint(8, 40))
        ]
        (folder / f"article-{n:05d}.txt").write_text(f"Story number {n}\n" + " ".join(sentences))
    return folder
