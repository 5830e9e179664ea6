"""Cross-validated figures of a `cv_compose.py` / `cv_splits.py` result split by the category
of the articles the questions are about (the folder under `bbc/`): to read how the synthetic
pre-training carries to articles it never saw (`fit_answerer.py --synthetic-corpus`).

    python scripts/cv_by_category.py --held-out sport --held-out tech \\
        benchmarks/results/cv-splits/answering-synthetic-3903-without-sport-tech.json \\
        --questions ../shared/data/qa/dev.jsonl ../shared/data/qa/dev2.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping
from pathlib import Path


def group_of(docs: str | list[str] | None, held_out: set[str]) -> str:
    """ "held out" when every article of the question is in a held-out category, "seen" when
    none is, "other" otherwise (mixed, or no article: an unanswerable question).

    >>> group_of("bbc/sport/1.txt", {"sport"}), group_of(["bbc/tech/1.txt"], {"sport"})
    ('held out', 'seen')
    >>> group_of(["bbc/sport/1.txt", "bbc/tech/2.txt"], {"sport"}), group_of(None, {"sport"})
    ('other', 'other')
    """
    paths = [docs] if isinstance(docs, str) else list(docs or [])
    if not paths or not all(p.startswith("bbc/") and p.count("/") >= 2 for p in paths):
        return "other"
    categories = {p.split("/")[1] for p in paths}
    if categories <= held_out:
        return "held out"
    return "seen" if not categories & held_out else "other"


def by_group(
    outcomes: Mapping[str, Mapping], groups: Mapping[str, str]
) -> dict[str, dict[str, float]]:
    """Per group of answerable questions: how many, the share of question-splits answered with
    a gold answer, the mean share of gold evidence cited.

    >>> out = {"a": {"answerable": True, "right": 8, "splits": 8, "cites": 1.0},
    ...        "b": {"answerable": True, "right": 2, "splits": 8, "cites": 0.5},
    ...        "c": {"answerable": False, "right": 0, "splits": 8, "cites": 0.0}}
    >>> by_group(out, {"a": "seen", "b": "seen", "c": "seen"})
    {'seen': {'questions': 2, 'answer': 0.625, 'cites': 0.75}}
    """
    result: dict[str, dict[str, float]] = {}
    for name in sorted(set(groups.values())):
        rows = [o for q, o in outcomes.items() if groups.get(q) == name and o["answerable"]]
        if rows:
            result[name] = {
                "questions": len(rows),
                "answer": round(sum(o["right"] for o in rows) / sum(o["splits"] for o in rows), 4),
                "cites": round(sum(o["cites"] for o in rows) / len(rows), 4),
            }
    return result


def question_groups(files: Iterable[Path], held_out: set[str]) -> dict[str, str]:
    """Each question's group (`group_of`), read with the evaluation's own question loader."""
    from askdocs.evaluation import load_questions

    return {q.id: group_of(q.docs, held_out) for path in files for q in load_questions(path)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--held-out", action="append", required=True, help="an article category (repeatable)"
    )
    parser.add_argument("results", nargs="+", type=Path, help="cv_compose / cv_splits results")
    parser.add_argument("--questions", nargs="+", type=Path, required=True)
    args = parser.parse_args()
    groups = question_groups(args.questions, set(args.held_out))
    for path in args.results:
        figures = by_group(json.loads(path.read_text())["questions"], groups)
        print(path.name, json.dumps(figures))


if __name__ == "__main__":
    main()
