"""scripts/cv_by_category.py: cross-validated figures split by the articles' category (how the
synthetic pre-training carries to categories it never saw)."""

from __future__ import annotations

import doctest
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import cv_by_category as C


def test_its_doctests() -> None:
    assert doctest.testmod(C).failed == 0


def test_questions_are_grouped_by_their_articles_categories(tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "doc": "bbc/sport/001.txt"},
        {"id": "b", "doc": ["bbc/business/002.txt", "bbc/politics/003.txt"]},
        {"id": "c", "doc": ["bbc/sport/004.txt", "bbc/business/005.txt"]},
        {"id": "d", "doc": "seed/000.txt"},
        {"id": "e", "answers": []},  # unanswerable: no article
    ]
    filled = [{"question": "Who?", "answers": ["X"], **r} for r in rows]
    questions.write_text("\n".join(json.dumps(r) for r in filled) + "\n")
    groups = C.question_groups([questions], {"sport", "tech"})
    assert groups == {"a": "held out", "b": "seen", "c": "other", "d": "other", "e": "other"}
    outcomes = {
        "a": {"answerable": True, "right": 4, "splits": 8, "cites": 0.5},
        "b": {"answerable": True, "right": 8, "splits": 8, "cites": 1.0},
        "e": {"answerable": False, "right": 0, "splits": 8, "cites": 0.0},
    }
    figures = C.by_group(outcomes, groups)
    # Unanswerable questions count in no group; a group without answerable ones is left out.
    assert figures == {
        "held out": {"questions": 1, "answer": 0.5, "cites": 0.5},
        "seen": {"questions": 1, "answer": 1.0, "cites": 1.0},
    }
