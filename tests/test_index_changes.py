"""Chroma holds all state: sentence vectors inside chunk records, and a change log that lets
another process's keyword cache catch up with only what changed."""

from __future__ import annotations

import json
from pathlib import Path

import chromadb
import numpy as np
import pytest

from askdocs.index import changes, sentences
from askdocs.index.keywords import KeywordIndex
from askdocs.index.store import ArticleVersion, ChromaStore
from askdocs.types import Article, Chunk
from conftest import FakeEmbeddings

# ------------------------------------------------------------------ sentence vectors


def test_sentence_records_are_numbered_within_their_chunk() -> None:
    matrices = [np.ones((2, 4)), np.zeros((1, 4))]
    rows = list(sentences.records("art", ["art:0", "art:1"], matrices))
    assert [r[0] for r in rows] == ["art:0/0", "art:0/1", "art:1/0"]
    assert all(meta == {"article_id": "art"} for _, _, meta in rows)
    assert sentences.counts(r[0] for r in rows) == {"art:0": 2, "art:1": 1}
    assert sentences.chunk_of("a/b:0/12") == "a/b:0"


def test_a_chunk_with_any_vector_missing_is_left_out() -> None:
    found = {"c:0/0": np.ones(4), "c:0/1": np.zeros(4), "d:0/0": np.ones(4)}
    matrices = sentences.assemble({"c:0": 2, "d:0": 2, "e:0": 0}, found)
    assert list(matrices) == ["c:0"] and matrices["c:0"].shape == (2, 4)


# ------------------------------------------------------------------------ change log


def test_article_ids_are_cut_into_records_that_fit() -> None:
    ids = [f"article-{n:05d}" for n in range(1000)]
    groups = changes.pieces(ids + ids[:10])  # repeats are logged once
    assert [a for g in groups for a in g] == ids
    assert all(len(json.dumps(g)) <= changes.ARTICLES_PER_RECORD_BYTES for g in groups)
    assert len(groups) > 1


def _records(numbers: list[int]) -> list[dict]:
    return [{"generation": n, "articles": json.dumps([f"a{n}"])} for n in numbers]


def test_changes_after_fold_contiguous_records() -> None:
    found = changes.changes_after(3, _records([5, 4, 6]), limit=300)
    assert found == changes.Changes(6, frozenset({"a4", "a5", "a6"}))
    assert changes.changes_after(3, [], limit=300) == changes.Changes(3, frozenset())


def test_a_gap_or_a_full_page_means_the_log_cannot_say() -> None:
    assert not changes.changes_after(3, _records([6, 7]), limit=300).complete  # 4, 5 pruned
    assert not changes.changes_after(0, _records([1, 2, 3]), limit=3).complete  # more unread


# ------------------------------------------- two processes' caches over one Chroma


def _article(n: int, text: str) -> ArticleVersion:
    article = Article(id=f"art{n}", title=f"Story {n}", text=text, source=f"/news/{n}.txt")
    chunk = Chunk(id=f"art{n}:0", article_id=article.id, index=0, text=text, start=0, end=len(text))
    vector = np.asarray([FakeEmbeddings().embed_query(text)])
    matrix = np.asarray(FakeEmbeddings().embed_documents(text.split(". ")), dtype=np.float32)
    return ArticleVersion(article, "v1", [chunk], vector, [matrix])


@pytest.fixture
def two_machines(tmp_path: Path) -> tuple[ChromaStore, ChromaStore]:
    """A writer and a reader sharing one Chroma, each with its own keyword cache folder."""
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    writer = ChromaStore(client, "news", KeywordIndex(tmp_path / "writer"))
    reader = ChromaStore(client, "news", KeywordIndex(tmp_path / "reader"))
    return writer, reader


def _found(store: ChromaStore, query: str) -> list[str]:
    return [hit.chunk_id for hit in store.keywords.search(query, k=5)]


def test_a_reader_catches_up_with_what_another_process_wrote_and_removed(
    two_machines: tuple[ChromaStore, ChromaStore],
) -> None:
    writer, reader = two_machines
    writer.replace_articles([_article(1, "The harbour bridge opened. Crowds cheered.")])
    assert reader.catch_up() == 1
    assert _found(reader, "harbour bridge") == ["art1:0"]
    writer.replace_articles([_article(2, "A quarry strike ended. Miners returned.")])
    # Within max_age of the last check nothing is read; after it, only article 2 is.
    assert reader.catch_up(max_age=60) == 0
    assert reader.catch_up() == 1
    assert _found(reader, "quarry strike") == ["art2:0"]
    writer.delete_article("art1")
    assert reader.catch_up() == 1
    assert _found(reader, "harbour bridge") == []
    assert reader.keywords.synced_generation() == writer.changes.current() == 3
    assert reader.catch_up() == 0  # nothing new: one request, nothing refreshed


def test_a_reader_further_behind_than_the_log_rebuilds_from_chroma(
    two_machines: tuple[ChromaStore, ChromaStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = two_machines
    for n in range(4):
        writer.replace_articles([_article(n, f"Report number {n} about the flood.")])
    monkeypatch.setattr(changes, "READ_LIMIT", 2)  # more records than one read returns
    reader.catch_up()
    assert sorted(reader.keywords.chunk_ids()) == [f"art{n}:0" for n in range(4)]
    assert reader.keywords.synced_generation() == 4


def test_sentence_vectors_are_read_from_chroma_by_any_process(
    two_machines: tuple[ChromaStore, ChromaStore],
) -> None:
    writer, reader = two_machines
    item = _article(1, "The harbour bridge opened. Crowds cheered. Boats sailed past.")
    writer.replace_articles([item])
    stored = reader.sentence_vectors({"art1:0": 3, "no-such-chunk": 1})
    assert list(stored) == ["art1:0"]
    assert np.allclose(stored["art1:0"], item.sentence_vectors[0], atol=1e-3)


def test_sentence_vectors_of_an_older_version_move_into_chroma(
    two_machines: tuple[ChromaStore, ChromaStore], tmp_path: Path
) -> None:
    import sqlite3

    writer, _ = two_machines
    item = _article(1, "The harbour bridge opened. Crowds cheered.")
    writer.replace_articles([ArticleVersion(item.article, "v1", item.chunks, item.vectors)])
    assert writer.sentence_vectors({"art1:0": 2}) == {}
    legacy = tmp_path / "sentences.sqlite3"
    with sqlite3.connect(legacy) as db:  # the table older versions kept beside the index
        db.execute("CREATE TABLE sentences (chunk_id, article_id, dimensions, vectors)")
        matrix = item.sentence_vectors[0].astype(np.float16)
        rows = [("art1:0", "art1", matrix.shape[1], matrix.tobytes()), ("gone:0", "x", 1, b"")]
        db.executemany("INSERT INTO sentences VALUES (?,?,?,?)", rows)
    db.close()
    assert writer.adopt_sentence_table(legacy) == 1
    assert not legacy.exists()
    assert np.allclose(writer.sentence_vectors({"art1:0": 2})["art1:0"], matrix, atol=1e-3)
