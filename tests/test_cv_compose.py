"""Composed cross-validation (scripts/cv_compose.py): refusals from one fit, answers from
another."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import cv_compose as C


def _outcome(qid: str, answerable: bool, abstained: bool, contains: bool, **more) -> dict:
    row = {"id": qid, "file": "q/dev2.jsonl", "type": "who", "answerable": answerable}
    base = {"top": contains, "short": None, "short_ok": False, "words": 30}
    cites = (1.0 if contains else 0.0) if answerable else None
    base |= {"cites": 0.0 if abstained and answerable else cites, "cites_answered": cites}
    return {"row": row, "abstained": abstained, "contains": contains, **base, **more}


def test_the_refusing_fit_decides_refusals_and_the_answering_fit_the_answer() -> None:
    refusing = [
        _outcome("a", True, False, False),  # answered wrongly by the refusing fit
        _outcome("b", True, True, True),  # refused by it: stays refused
        _outcome("u", False, True, False),  # unanswerable, refused
    ]
    answering = [  # another order: matched by id
        _outcome("u", False, False, False),  # the answering fit would have answered it
        _outcome("b", True, False, True),
        _outcome("a", True, True, True, words=12),  # it would refuse "a", but it answers it right
    ]
    out = {o["row"]["id"]: o for o in C.compose(refusing, answering)}
    assert (out["a"]["abstained"], out["a"]["contains"], out["a"]["words"]) == (False, True, 12)
    # What the answer cites is what it would cite, not the refused answer's nothing.
    assert out["a"]["cites"] == 1.0
    assert out["b"]["abstained"] and out["b"]["cites"] == 0.0
    assert out["u"]["abstained"]
    summary = C.summary(list(out.values()), ["q/dev2.jsonl"])
    assert summary["cv"]["answer_contains"] == 0.5
    assert summary["cv"]["unanswerable_abstained"] == "1/1"
    assert summary["cv_by_file"]["q/dev2.jsonl"]["false_abstentions"] == 0.5


def test_held_out_tallies_each_question_over_the_splits() -> None:
    # Two splits: "a" right once, "b" refused once, "u" (unanswerable) refused both times.
    first = [_outcome("a", True, False, True), _outcome("b", True, True, False),
             _outcome("u", False, True, False)]  # fmt: skip
    second = [_outcome("a", True, False, False), _outcome("b", True, False, True),
              _outcome("u", False, True, False)]  # fmt: skip
    out = C.held_out([first, second])
    assert (out["a"]["right"], out["a"]["refused"], out["a"]["cites"]) == (1, 0, 0.5)
    assert (out["b"]["right"], out["b"]["refused"], out["b"]["cites"]) == (1, 1, 0.5)
    # An unanswerable question is never "right" and has no citation share.
    assert (out["u"]["right"], out["u"]["refused"], out["u"]["cites"]) == (0, 2, None)
    assert out["a"]["file"] == "dev2.jsonl" and out["a"]["splits"] == 2
