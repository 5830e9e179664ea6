"""scripts/reader_experiment.py: the cross-encoder reranking that was measured and not kept.
Its figures are in the README; these tests keep what produced them honest (torch-free)."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import reader_experiment as X


def test_its_doctests() -> None:
    assert doctest.testmod(X).failed == 0


def test_weight_zero_keeps_the_answering_order_and_a_huge_one_is_the_reader_alone() -> None:
    # Three questions: the answering model is right on the first; the reader on the other two,
    # but on the third its pick lies outside the top 2, so no weight can reach it.
    items = [
        (np.array([3.0, 2.0, 1.0]), {0: 0.0, 1: 1.0, 2: 0.0}, np.array([True, False, False])),
        (np.array([3.0, 2.0, 1.0]), {0: 0.0, 1: 1.0, 2: 0.0}, np.array([False, True, False])),
        (np.array([3.0, 2.0, 1.0]), {0: 0.0, 1: 0.0, 2: 9.0}, np.array([False, False, True])),
    ]
    measured = X.grid(items)
    assert measured["K=2 w=0"] == round(1 / 3, 3)
    assert measured["K=2 w=1000"] == round(1 / 3, 3)  # swaps the first two questions' answers
    assert measured["K=3 w=1000"] == round(2 / 3, 3)
    assert set(measured) == {f"K={k} w={w:g}" for k in X.K_GRID for w in X.W_GRID}


def test_synthetic_groups_put_the_answer_first_and_draw_hard_wrong_sentences() -> None:
    # 8 own-article sentences (the third answers) then OTHER_ARTICLE_SENTENCES others.
    own = [f"own {n}" for n in range(8)]
    other = [f"other {n}" for n in range(X.OTHER_ARTICLE_SENTENCES)]
    labels = np.zeros(len(own) + len(other), dtype=bool)
    labels[2] = True
    rows = [
        {"question": "Who?", "texts": own + other, "labels": labels},
        {"question": "None?", "texts": own, "labels": np.zeros(8, dtype=bool)},  # no answer
    ]
    (group,) = X.synthetic_groups(rows, np.random.default_rng(0))
    question, sentences = group
    assert question == "Who?" and len(sentences) == X.GROUP and sentences[0] == "own 2"
    wrong = sentences[1:]
    assert "own 2" not in wrong and len(set(wrong)) == len(wrong)
    assert sum(s.startswith("other") for s in wrong) == X.OTHER_NEGATIVES
