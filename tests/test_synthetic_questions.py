"""Questions the corpus yields by itself (scripts/synthetic_questions.py), used by
`fit_answerer.py --synthetic N` to pre-train the question encoder: the question must not hold
its answer, must carry a context clause from the lead, and the label must point at the
sentences that hold the phrase."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import synthetic_questions as SQ

LEAD = "Harbourton council approved a new bridge over the Tessel river on Monday."
SENTENCES = [
    LEAD,
    "The bridge will cost £12 million and open in 2027, the council said.",
    "Works director Anna Berg said traffic would be diverted for six weeks.",
    "Residents welcomed the decision at a packed meeting.",
    "The old crossing was closed last year after an inspection.",
    "Shops near the river expect more visitors once it opens.",
    "A consultation on the design ran for three months.",
]


def test_a_question_leaves_out_its_answer_and_names_the_story() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        made = SQ.make_question(SENTENCES[2], LEAD, rng)
        if made is None:
            continue
        question, phrase = made
        assert phrase not in question
        assert question.endswith("?") and ", after " in question
        context = question.split(", after ", 1)[1].rstrip("?")
        assert context in LEAD  # the context clause is cut from the lead


def test_rows_label_the_sentences_holding_the_phrase(tmp_path: Path) -> None:
    for n in range(3):
        (tmp_path / f"{n}.txt").write_text("Bridge approved\n\n" + "\n".join(SENTENCES))
    rows = SQ.synthetic_rows(tmp_path, 6, 5, lambda texts: np.ones((len(texts), 4)), 2)
    assert rows and len(rows) <= 6
    for row in rows:
        assert row["answerable"] and row["labels"].any()
        assert len(row["vectors"]) == len(row["texts"]) == len(row["labels"])
        held = [row["answer"] in text for text in row["texts"]]
        assert row["labels"].tolist() == held
        assert row["answer"] not in row["question"]
