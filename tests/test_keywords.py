"""The keyword index stays incremental: writes since the last BM25 snapshot are scored beside it
as if the snapshot had been rebuilt, and a rebuild happens only once the changes are large."""

import random
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from askdocs.index.keywords import (
    REBUILD_FRACTION,
    KeywordIndex,
    content_terms,
    decode_terms,
    encode_terms,
)
from askdocs.types import Article, Chunk, Filters

WORDS = [f"x{v}{c}" for v in "aeio" for c in "bcfhjklmnprtvwz"]
RARE = [f"rare{c}" for c in "bcfhjkl"]
QUERIES = ["xab xac", "xaf", "xek xek xol", "xiz xah xet", "rareb"]


def _article(number: int, outlet: str = "Daily") -> tuple[Article, Chunk]:
    rng = random.Random(number)
    # Every chunk has the same number of terms, so the average chunk length never moves and an
    # incremental score must equal a fresh build's to float precision.
    terms = [rng.choice(WORDS) for _ in range(11)] + [RARE[number % 7]]
    text = " ".join(terms)
    article = Article(
        id=f"a{number}",
        title=f"Article {number}",
        text=text,
        source=f"/news/{number}.txt",
        published=date(2024, 1, 1 + number % 28),
        metadata={"outlet": outlet},
    )
    return article, Chunk(f"a{number}-0000", article.id, 0, text, 0, len(text))


def _write(index: KeywordIndex, numbers: range | list[int], **kw: str) -> None:
    rows = [_article(n, **kw) for n in numbers]
    index.replace([a.id for a, _ in rows], [(c, a) for a, c in rows])


def _ranking(index: KeywordIndex, query: str) -> list[tuple[str, float]]:
    return [(h.chunk_id, h.score) for h in index.search(query, k=1000)]  # every match


def _same_ranking(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [round(s, 4) for _, s in got] == pytest.approx([round(s, 4) for _, s in want], abs=2e-4)
    # Ties may come in either order; each score level must hold the same chunks.
    levels = sorted({round(s, 3) for _, s in want})
    for level in levels:
        assert {c for c, s in got if round(s, 3) == level} == {
            c for c, s in want if round(s, 3) == level
        }


@pytest.fixture
def built(tmp_path: Path) -> KeywordIndex:
    index = KeywordIndex(tmp_path / "incremental")
    _write(index, range(200))
    index.rebuild()
    assert index.snapshot().changed == 0
    return index


def test_changes_since_the_snapshot_score_as_a_fresh_build_would(
    built: KeywordIndex, tmp_path: Path
) -> None:
    built.delete([f"a{n}" for n in range(0, 10)])
    _write(built, range(200, 208))
    built.rebuild()
    view = built.snapshot()
    assert view.changed == 18 and view.changed <= REBUILD_FRACTION * 200  # not rebuilt

    fresh = KeywordIndex(tmp_path / "fresh")
    _write(fresh, range(10, 200))
    _write(fresh, range(200, 208))
    fresh.rebuild()
    # What rarities are measured over (answer.features.MIN_RARITY_PASSAGES): the live passages,
    # deletions and writes since the snapshot counted.
    assert built.passages() == fresh.passages() == 198
    for query in QUERIES:
        _same_ranking(_ranking(built, query), _ranking(fresh, query))
        for term in query.split():
            assert built.inverse_document_frequency([term]) == pytest.approx(
                fresh.inverse_document_frequency([term])
            )


def test_removed_chunks_are_never_found(built: KeywordIndex) -> None:
    _write(built, [500])
    built.replace(["a500"], [])
    built.delete(["a3"])
    found = {h.chunk_id for q in QUERIES for h in built.search(q, k=300)}
    assert "a3-0000" not in found and "a500-0000" not in found
    assert not built.knows_any(["zephyr"])
    assert built.search("xab", k=5, also_score=["a3-0000"])[-1].score == 0.0


def test_filters_reach_chunks_added_since_the_snapshot(built: KeywordIndex) -> None:
    _write(built, [300, 301], outlet="Weekly")
    hits = built.search("xab xac xaf rarel rareb", k=10, filters=Filters(sources=("Weekly",)))
    assert {h.chunk_id for h in hits} <= {"a300-0000", "a301-0000"} and hits


def test_large_changes_rebuild_the_snapshot(built: KeywordIndex) -> None:
    _write(built, range(1000, 1000 + int(REBUILD_FRACTION * 200) + 1))
    assert built.snapshot().changed > REBUILD_FRACTION * 200
    built.rebuild()
    assert built.snapshot().changed == 0
    assert int((built.folder / "bm25" / "generation").read_text()) == built.generation()


def test_another_process_sees_writes_and_rebuilds(built: KeywordIndex) -> None:
    reader = KeywordIndex(built.folder)  # a second process: its own connection and cache
    assert reader.search("rareb", k=1)
    _write(built, [400])
    built.replace(
        ["a400"],
        [(Chunk("a400-0000", "a400", 0, "zephyr", 0, 6), _article(400)[0])],
    )
    assert [h.chunk_id for h in reader.search("zephyr", k=3)] == ["a400-0000"]
    _write(built, range(2000, 2100))
    built.rebuild()  # a new snapshot on disk: the reader must drop the one it has mapped
    assert reader.snapshot().base.generation == built.generation()
    assert reader.snapshot().changed == 0


def test_a_snapshot_from_an_older_askdocs_is_rebuilt(built: KeywordIndex) -> None:
    (built.folder / "bm25" / "stats.json").unlink()
    reopened = KeywordIndex(built.folder)
    assert reopened.search("rareb", k=1)
    assert (built.folder / "bm25" / "stats.json").is_file()


def test_a_lost_snapshot_is_rebuilt_from_the_rows(built: KeywordIndex) -> None:
    expected = _ranking(built, "xab xac")
    shutil.rmtree(built.folder / "bm25")
    _same_ranking(_ranking(KeywordIndex(built.folder), "xab xac"), expected)


def test_an_unchanged_view_returns_the_snapshot_scores_unscaled(built: KeywordIndex) -> None:
    view = built.snapshot()
    column = view.base.column("xaf")
    assert column is not None
    scores = view.scores(["xaf"])
    start, end = column
    positions, entries = view.base.columns.entries(start, end)
    assert np.array_equal(scores[positions], entries)


@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=50))
def test_term_ids_come_back_as_stored(ids: list[int]) -> None:
    assert decode_terms(encode_terms(ids)).tolist() == ids


def test_term_ids_take_two_bytes_while_the_vocabulary_is_small() -> None:
    assert len(encode_terms([0, 65535, 7])) == 1 + 3 * 2
    assert len(encode_terms([0, 65536])) == 1 + 2 * 4  # one large id widens only its row


def test_chunks_written_after_a_search_of_an_empty_index_score_as_a_build_would(
    tmp_path: Path,
) -> None:
    # The first search built a snapshot of no chunks; what is written next is scored beside
    # it, with the written chunks' own average length (the empty snapshot has none: it kept
    # 1.0, which scored every chunk as twelve times too long until the next rebuild).
    searched = KeywordIndex(tmp_path / "searched")
    assert searched.search("xab", k=5) == []
    _write(searched, range(200))
    fresh = KeywordIndex(tmp_path / "fresh")
    _write(fresh, range(200))
    assert searched.snapshot().changed == 200
    for query in QUERIES:
        _same_ranking(_ranking(searched, query), _ranking(fresh, query))


def test_a_cache_of_space_joined_terms_is_converted_with_the_same_scores(
    built: KeywordIndex, tmp_path: Path
) -> None:
    # The layout before term ids: one table of chunks with their filter fields and words.
    old = tmp_path / "old"
    old.mkdir()
    db = sqlite3.connect(old / "terms.sqlite3")
    db.executescript(
        """
        CREATE TABLE chunks (
            chunk_id TEXT PRIMARY KEY, article_id TEXT NOT NULL, source TEXT NOT NULL,
            outlet TEXT NOT NULL, published_day INTEGER, terms TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('generation', '7');
        """
    )
    rows = [_article(n) for n in range(200)]
    db.executemany(
        "INSERT INTO chunks VALUES (?,?,?,?,?,?)",
        [
            (c.id, a.id, a.source, "Daily", 20240101 + n % 28, " ".join(content_terms(c.text)))
            for n, (a, c) in enumerate(rows)
        ],
    )
    db.commit()
    db.close()
    converted = KeywordIndex(old)
    assert converted.count() == 200 and converted.generation() == 7
    for query in QUERIES:
        _same_ranking(_ranking(converted, query), _ranking(built, query))
    hits = converted.search("rarec", k=5, filters=Filters(sources=("/news/1.txt",)))
    assert [h.chunk_id for h in hits] == ["a1-0000"]  # article 1 holds "rarec"
    tables = {name for (name,) in converted._db.execute("SELECT name FROM sqlite_master")}
    assert "chunks" not in tables
    KeywordIndex(old)  # opening it again finds nothing left to convert


def test_removing_an_articles_last_chunks_drops_its_filter_fields(built: KeywordIndex) -> None:
    built.delete_chunks(["a3-0000"])
    assert not built._db.execute("SELECT 1 FROM article_fields WHERE article_id = 'a3'").fetchone()
    assert built._db.execute("SELECT 1 FROM article_fields WHERE article_id = 'a4'").fetchone()
    assert "a3-0000" not in {h.chunk_id for h in built.search("rare" + "bcfhjkl"[3], k=100)}


def _vm_steps(index: KeywordIndex, work) -> int:
    """sqlite virtual-machine steps (in tens) that `work` costs on this index's connection:
    a measure of rows read that does not depend on the machine's speed."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    index._db.set_progress_handler(count, 10)
    try:
        work()
    finally:
        index._db.set_progress_handler(None, 10)
    return steps[0]


def test_one_change_costs_the_same_in_a_small_and_a_ten_times_larger_index(
    tmp_path: Path,
) -> None:
    costs = []
    for size in (200, 2000):
        index = KeywordIndex(tmp_path / f"n{size}")
        _write(index, range(size))
        index.rebuild(force=True)
        _write(index, [90_000])  # one article added since the snapshot...
        index.delete(["a5"])  # ...and one removed
        costs.append(_vm_steps(index, index.snapshot))
        assert index.snapshot().changed == 2
        assert [h.chunk_id for h in index.search("rare" + "bcfhjkl"[90_000 % 7], k=1000)].count(
            "a90000-0000"
        ) == 1
        assert index.snapshot().position("a5-0000") is None
    # Reading every row would cost ten times as much in the larger index.
    assert costs[1] < 2 * costs[0] + 5, costs


def test_a_reader_whose_snapshot_lost_its_log_compares_every_row(
    built: KeywordIndex, tmp_path: Path
) -> None:
    reader = KeywordIndex(built.folder)
    old_base = reader.snapshot().base
    built.delete(["a7"])
    _write(built, range(3000, 3000 + int(REBUILD_FRACTION * 200) + 1))
    built.rebuild()  # a new snapshot; the log up to it is pruned
    assert built._db.execute("SELECT COUNT(*) FROM changed_chunks").fetchone()[0] == 0
    view = reader._changes_since(old_base, built.generation())  # as if read just before
    assert view.position("a7-0000") is None
    assert view.position("a3000-0000") is not None and view.changed == 22


def test_a_cache_from_before_the_change_log_is_read_right_and_then_logged(
    built: KeywordIndex,
) -> None:
    # What an older askdocs left: no change log, no log_since, rows written since its snapshot.
    built._db.executescript("DROP TABLE changed_chunks; DELETE FROM meta WHERE key = 'log_since';")
    built._db.execute("DELETE FROM chunk_terms WHERE article_id = 'a9'")
    built._db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
    built._db.commit()
    reopened = KeywordIndex(built.folder)
    assert reopened.snapshot().position("a9-0000") is None  # found by reading every row
    assert reopened.snapshot().changed == 1
    _write(reopened, [4000])
    assert reopened.snapshot().position("a4000-0000") is not None
    logged = reopened._db.execute("SELECT chunk_id FROM changed_chunks").fetchall()
    assert logged == [("a4000-0000",)]


def test_the_pruned_change_log_gives_its_pages_back(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "big")
    _write(index, range(3000))
    index.snapshot()  # the first snapshot: the log of 3,000 chunks is pruned
    assert index._db.execute("SELECT COUNT(*) FROM changed_chunks").fetchone()[0] == 0
    assert index._db.execute("PRAGMA freelist_count").fetchone()[0] == 0


def test_a_loaded_snapshot_reads_columns_from_its_files_without_mapping_them(
    built: KeywordIndex,
) -> None:
    # Mapped pages a question touches count in the process's resident memory; read columns
    # are in memory only while a question scores them.
    expected = _ranking(built, "xab xac rareb")
    reader = KeywordIndex(built.folder)
    assert _ranking(reader, "xab xac rareb") == expected
    maps = Path("/proc/self/maps")
    if maps.is_file():
        assert "csc.index.npy" not in maps.read_text()


def test_a_build_while_another_process_writes_leaves_the_log_and_stays_right(
    built: KeywordIndex,
) -> None:
    _write(built, [5000])
    other = sqlite3.connect(built.folder / "terms.sqlite3", timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    reader = KeywordIndex(built.folder)
    reader._db.execute("PRAGMA busy_timeout = 50")
    shutil.rmtree(built.folder / "bm25")
    assert reader.search("rare" + "bcfhjkl"[5000 % 7], k=300)  # builds; cannot prune
    other.rollback()
    assert reader._db.execute("SELECT COUNT(*) FROM changed_chunks").fetchone()[0] == 1
    _write(built, [5001])
    assert reader.snapshot().position("a5001-0000") is not None
    assert reader.snapshot().changed == 1
