"""scripts/rarity_sample_size.py: the measurement behind answer.features.MIN_RARITY_PASSAGES."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import rarity_sample_size as R

from askdocs.answer.question import analyse


def test_its_doctests() -> None:
    assert doctest.testmod(R).failed == 0


def test_idf_matches_the_keyword_index_formula() -> None:
    from askdocs.index.bm25_snapshot import _idf

    passages = [frozenset({"nerve", "neck"}), frozenset({"injury"}), frozenset({"injury"})]
    idf = R.idf_over(passages)
    for term, frequency in (("nerve", 1), ("injury", 2), ("unseen", 0)):
        assert idf(term) == pytest.approx(_idf(frequency, 3))


def test_a_sample_that_ranks_the_words_alike_ranks_the_candidates_alike() -> None:
    row = {
        "analysis": analyse("Why did Parker miss the game?"),
        "texts": [
            "Parker will miss the game because of injury.",
            "Parker has not recovered from a trapped nerve in his neck.",
            "The game is on Saturday.",
        ],
    }
    common = [frozenset({"injury", "game", "saturday", "parker"})] * 5
    rare = [frozenset({"trap", "nerve", "neck", "recover"})]
    whole = R.pool_specificity(row, R.idf_over(common + rare))
    assert int(np.argmax(whole)) == 1  # the trapped nerve adds the rarest words
    # The same ranking from a sample with the same proportions agrees fully.
    sample = R.pool_specificity(row, R.idf_over(common[:2] + rare))
    assert R.spearman(sample, whole) == pytest.approx(1.0)
    assert R.spearman(np.ones(3), whole) is None  # a constant ranks nothing
