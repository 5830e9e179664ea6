"""The eight-split summary (scripts/cv_splits.py): what the README's splits table reads."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import cv_splits as C


def _report(answer: float, refused: str, dev2: float) -> dict:
    cv = {figure: 0.5 for figure in C.FIGURES}
    cv.update(answer_contains=answer, unanswerable_abstained=refused)
    by_file = {
        "../q/dev.jsonl": {"answer_contains": 0.1, "cites_gold_evidence": 0.1},
        "../q/dev2.jsonl": {"answer_contains": dev2, "cites_gold_evidence": 0.6},
    }
    return {"cv": cv, "cv_by_file": by_file}


def test_means_average_each_split_and_read_dev2_from_its_own_file() -> None:
    out = C.means([_report(0.8, "18/19", 0.9), _report(0.7, "15/19", 0.7)])
    assert out["answer_contains"] == 0.75
    # Refusals are a count of 19, averaged: 16.5, not a share.
    assert out["unanswerable_refused"] == 16.5
    # dev.jsonl's own figures (0.1) must not leak into the dev2 means.
    assert out["dev2_answer_contains"] == 0.8
    assert out["dev2_cites_gold_evidence"] == 0.6
    assert "dev2_short_answer_contains" not in out
