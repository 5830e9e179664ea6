"""The sentence-vector file (index/sentence_cache.py): int8 rows that keep cosines, and files
written as float16 by earlier versions still read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from askdocs.index.sentence_cache import (
    SentenceCache,
    decode,
    encode,
    encoded_rows,
    join,
    shared_sentences,
)


def _unit_rows(count: int, dims: int = 384, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(count, dims)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_int8_rows_keep_cosines_within_two_thousandths() -> None:
    sentences, questions = _unit_rows(200), _unit_rows(50, seed=1)
    restored = decode(encode(sentences), 384)
    exact, approximate = questions @ sentences.T, questions @ restored.T
    assert np.abs(exact - approximate).max() < 0.002
    # A quarter the bytes of float32, about half of float16's.
    assert len(encode(sentences)) == 200 * (384 + 4)


def test_a_zero_row_stays_zero() -> None:
    assert not decode(encode(np.zeros((2, 4), np.float32)), 4).any()


def test_the_file_stores_and_counts_int8_rows(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path / "s.sqlite3")
    rows = _unit_rows(3)
    cache.put([("c1", "a1", rows), ("c2", "a1", rows[:1])])
    assert cache.row_counts() == {"c1": 3, "c2": 1}
    assert np.allclose(cache.get(["c1"])["c1"], rows, atol=0.01)
    cache.drop(["a1"])
    assert cache.row_counts() == {}


def test_a_file_written_as_float16_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    old = sqlite3.connect(path)  # the table as versions before int8 wrote it
    old.execute(
        "CREATE TABLE sentences (chunk_id TEXT PRIMARY KEY, article_id TEXT NOT NULL, "
        "dimensions INTEGER NOT NULL, vectors BLOB NOT NULL)"
    )
    rows = _unit_rows(2)
    old.execute(
        "INSERT INTO sentences VALUES (?,?,?,?)",
        ("old", "a", 384, rows.astype(np.float16).tobytes()),
    )
    old.commit()
    old.close()
    cache = SentenceCache(path)
    cache.put([("new", "a", rows)])
    assert cache.row_counts() == {"old": 2, "new": 2}
    found = cache.get(["old", "new"])
    assert np.allclose(found["old"], rows, atol=1e-3)
    assert np.allclose(found["new"], rows, atol=0.01)
    SentenceCache(path)  # opening it again does not try to add the column twice


def test_a_new_file_uses_large_pages_and_an_old_file_keeps_its_own(tmp_path: Path) -> None:
    from askdocs.index.sentence_cache import PAGE_SIZE

    SentenceCache(tmp_path / "new.sqlite3").close()
    page = sqlite3.connect(tmp_path / "new.sqlite3").execute("PRAGMA page_size").fetchone()[0]
    assert page == PAGE_SIZE
    old = sqlite3.connect(tmp_path / "old.sqlite3")  # created with sqlite's default page
    old.execute("CREATE TABLE t (x)")
    old.commit()
    old.close()
    cache = SentenceCache(tmp_path / "old.sqlite3")  # opens and writes as before
    cache.put([("c1", "a1", _unit_rows(2))])
    assert cache.row_counts() == {"c1": 2}


def test_rows_split_and_join_back_to_the_same_blob() -> None:
    matrix = _unit_rows(3)
    rows = encoded_rows(matrix)
    assert [len(r) for r in rows] == [388] * 3
    assert join(rows) == encode(matrix)


def test_shared_sentences_is_the_longest_run_ending_one_and_starting_the_other() -> None:
    a, b, c, d = (bytes([n]) for n in range(4))
    assert shared_sentences([a, b, c], [b, c, d]) == 2
    assert shared_sentences([a, b, c], [c, c]) == 1
    assert shared_sentences([a, b], [a, b]) == 2
    assert shared_sentences([a, b], [b, a, d]) == 1
    assert shared_sentences([a, b], [a, d]) == 0  # shared, but not at the boundary
    assert shared_sentences([], [a]) == 0


def test_sentences_shared_by_overlapping_chunks_are_stored_once(tmp_path: Path) -> None:
    sentences = _unit_rows(7)
    # Three chunks of one article, each starting with the last one or two of the one before.
    chunks = [("c1", "a", sentences[0:3]), ("c2", "a", sentences[1:5]), ("c3", "a", sentences[4:7])]
    other = ("d1", "b", sentences[6:7])  # another article: nothing shared across articles
    whole = SentenceCache(tmp_path / "whole.sqlite3")
    for chunk in [*chunks, other]:  # one row per write: nothing shared
        whole.put([chunk])
    cache = SentenceCache(tmp_path / "s.sqlite3")
    cache.put([*chunks, other])
    stored = dict(cache._db.execute("SELECT chunk_id, length(vectors) / 388 FROM sentences"))
    assert stored == {"c1": 3, "c2": 2, "c3": 2, "d1": 1}
    assert cache.row_counts() == whole.row_counts() == {"c1": 3, "c2": 4, "c3": 3, "d1": 1}
    for ids in (["c1", "c2", "c3", "d1"], ["c3"], ["c2", "d1"]):  # with or without the one before
        got, want = cache.get(ids), whole.get(ids)
        assert got.keys() == want.keys() == set(ids)
        for chunk_id in ids:
            assert np.array_equal(got[chunk_id], want[chunk_id])


def test_a_row_whose_previous_row_is_gone_counts_as_missing(tmp_path: Path) -> None:
    sentences = _unit_rows(4)
    cache = SentenceCache(tmp_path / "s.sqlite3")
    cache.put([("c1", "a", sentences[0:2]), ("c2", "a", sentences[1:4])])
    with cache._db:
        cache._db.execute("DELETE FROM sentences WHERE chunk_id = 'c1'")
    assert cache.get(["c2"]) == {} and cache.row_counts() == {}
