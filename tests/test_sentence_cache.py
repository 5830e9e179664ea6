"""The sentence-vector file (index/sentence_cache.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from askdocs.index.sentence_cache import PAGE_SIZE, SentenceCache


def test_rows_are_stored_counted_and_dropped_by_article(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path / "s.sqlite3")
    rows = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    cache.put([("c1", "a1", rows), ("c2", "a1", rows[:1]), ("c3", "a2", rows)])
    assert cache.row_counts() == {"c1": 3, "c2": 1, "c3": 3}
    assert np.allclose(cache.get(["c1"])["c1"], rows, atol=1e-2)
    cache.drop(["a1"])
    assert cache.row_counts() == {"c3": 3}


def test_a_new_file_uses_large_pages_and_an_old_file_keeps_its_own(tmp_path: Path) -> None:
    SentenceCache(tmp_path / "new.sqlite3").close()
    page = sqlite3.connect(tmp_path / "new.sqlite3").execute("PRAGMA page_size").fetchone()[0]
    assert page == PAGE_SIZE
    old = sqlite3.connect(tmp_path / "old.sqlite3")  # created with sqlite's default page
    old.execute("CREATE TABLE t (x)")
    old.commit()
    old.close()
    cache = SentenceCache(tmp_path / "old.sqlite3")  # opens and writes as before
    cache.put([("c1", "a1", np.ones((2, 4), np.float32))])
    assert cache.row_counts() == {"c1": 2}
