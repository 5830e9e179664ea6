"""Ingest through the Assistant with the fake embedder and a real persistent Chroma."""

from pathlib import Path

import numpy as np
import pytest

from askdocs.api import Assistant
from askdocs.index.store import ArticleVersion, ChromaStore, chunk_texts
from conftest import FakeEmbeddings


def index_state(assistant: Assistant) -> tuple[dict[str, str], list[str]]:
    store = assistant.store
    versions = {a.id: a.version for a in store.indexed_articles().values()}
    chunk_ids = store.chunks.get(include=[])["ids"]
    return versions, sorted(chunk_ids)


def test_ingest_reports_every_article_and_skipped_file(
    assistant: Assistant, articles_dir: Path
) -> None:
    (articles_dir / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    report = assistant.ingest([articles_dir])
    assert report.added == 6
    assert [(Path(f.path).name, f.reason) for f in report.failed] == [
        ("binary.txt", "binary file (contains NUL bytes)")
    ]
    assert any("line 2 skipped: malformed JSON" in w for w in report.warnings)
    assert assistant.stats()["articles"] == 6
    # every sentence is embedded once, and its vector kept for answering
    chunk_ids = assistant.store.chunks.get(include=[])["ids"]
    stored = assistant.store.stored_sentence_counts()
    assert set(stored) == set(chunk_ids)
    assert report.texts_embedded >= sum(stored.values()) / 2


def test_reingest_of_unchanged_articles_embeds_nothing(
    ingested: Assistant, articles_dir: Path, fake_embedder: FakeEmbeddings
) -> None:
    before = index_state(ingested)
    fake_embedder.embedded.clear()
    report = ingested.ingest([articles_dir])
    assert report.unchanged == 6 and report.added == report.updated == 0
    assert fake_embedder.embedded == []
    assert index_state(ingested) == before


def test_changed_article_replaces_its_chunks(ingested: Assistant, articles_dir: Path) -> None:
    path = articles_dir / "harbour-bridge.txt"
    path.write_text(path.read_text().replace("£12 million", "£14 million"))
    report = ingested.ingest([articles_dir])
    assert report.updated == 1 and report.unchanged == 5
    texts = chunk_texts(ingested.store.chunks.get(include=["documents", "metadatas"]))
    assert any("£14 million" in t for t in texts)
    assert not any("£12 million" in t for t in texts)


def test_deleted_file_is_removed_from_index(ingested: Assistant, articles_dir: Path) -> None:
    (articles_dir / "chess-title.md").unlink()
    report = ingested.ingest([articles_dir])
    assert report.removed == 1
    assert ingested.stats()["articles"] == 5
    assert not any(
        "Nair" in t
        for t in chunk_texts(ingested.store.chunks.get(include=["documents", "metadatas"]))
    )


def test_file_that_turns_bad_keeps_its_indexed_version(
    ingested: Assistant, articles_dir: Path
) -> None:
    (articles_dir / "chess-title.md").write_bytes(b"\x00binary now")
    report = ingested.ingest([articles_dir])
    assert len(report.failed) == 1 and report.removed == 0
    assert ingested.stats()["articles"] == 6


def test_remove_by_path_and_by_id(ingested: Assistant, articles_dir: Path) -> None:
    removed = ingested.remove(str(articles_dir / "wire.jsonl"))
    assert len(removed) == 2
    [record] = [
        a
        for a in ingested.store.indexed_articles().values()
        if a.source.endswith("lighthouse.json")
    ]
    assert ingested.remove(record.id) == [record.id]
    assert ingested.stats()["articles"] == 3
    assert ingested.remove("no-such-article") == []


def test_interrupted_ingest_is_completed_by_a_rerun(
    tmp_path: Path, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = Assistant(index_dir=tmp_path / "clean", embedder=FakeEmbeddings())
    clean.ingest([articles_dir])

    crashing = Assistant(index_dir=tmp_path / "crashed", embedder=FakeEmbeddings())
    real_replace = ChromaStore.replace_articles

    def crash_midway(self: ChromaStore, items: list[ArticleVersion]) -> None:
        real_replace(self, items[:2])
        # The third article's chunks are written but not its record: a crash mid-write.
        broken = items[2]
        self.chunks.upsert(
            ids=[c.id for c in broken.chunks],
            embeddings=broken.vectors,
            documents=[c.text for c in broken.chunks],
            metadatas=[{"article_id": c.article_id, "index": c.index, "start": c.start,
                        "end": c.end, "title": "", "source": ""} for c in broken.chunks],
        )  # fmt: skip
        raise KeyboardInterrupt

    monkeypatch.setattr(ChromaStore, "replace_articles", crash_midway)
    report = crashing.ingest([articles_dir])
    assert report.interrupted
    monkeypatch.setattr(ChromaStore, "replace_articles", real_replace)
    half_done = Assistant(index_dir=tmp_path / "crashed", embedder=FakeEmbeddings())
    assert half_done.stats()["articles"] == 2
    assert any("belongs to no indexed article" in p for p in half_done.check())

    rerun = Assistant(index_dir=tmp_path / "crashed", embedder=FakeEmbeddings())
    rerun.ingest([articles_dir])
    assert index_state(rerun) == index_state(clean)
    assert rerun.check() == [] and clean.check() == []


def test_store_failure_for_one_article_does_not_stop_the_rest(
    assistant: Assistant, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = ChromaStore.replace_articles

    def fail_for_chess(self: ChromaStore, items: list[ArticleVersion]) -> None:
        if any("chess" in item.article.title for item in items):
            raise RuntimeError("disk full")
        real_replace(self, items)

    monkeypatch.setattr(ChromaStore, "replace_articles", fail_for_chess)
    report = assistant.ingest([articles_dir])
    assert [f.reason for f in report.failed] == ["could not be stored: disk full"]
    assert report.added == 5


def test_missing_path_is_an_error_and_indexes_nothing(assistant: Assistant, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        assistant.ingest([tmp_path / "nope"])


def test_chunks_fit_the_embedder_with_title(ingested: Assistant) -> None:
    records = ingested.store.chunks.get(include=["documents", "metadatas"])
    for text, meta in zip(chunk_texts(records), records["metadatas"], strict=True):
        title_and_text = f"{meta['title']}\n{text}"
        assert len(title_and_text.split()) <= FakeEmbeddings.max_tokens - 2


def test_chunk_offsets_point_into_stored_article_text(ingested: Assistant) -> None:
    store = ingested.store
    records = store.chunks.get(include=["documents", "metadatas"])
    articles = store.get_articles(m["article_id"] for m in records["metadatas"])
    # The text lives in the metadata (no full-text index in Chroma); no end offset is stored.
    assert records["documents"] == [None] * len(records["ids"])
    for text, meta in zip(chunk_texts(records), records["metadatas"], strict=True):
        assert "end" not in meta  # start + the text's length
        assert articles[meta["article_id"]].text[meta["start"] :].startswith(text)


def test_a_second_ingest_on_the_same_index_is_refused(
    assistant: Assistant, articles_dir: Path
) -> None:
    from askdocs.index import StoreError, ingest_lock

    with ingest_lock(assistant.settings), pytest.raises(StoreError, match="another ingest"):
        assistant.ingest([articles_dir])
    assert assistant.ingest([articles_dir]).added == 6  # the lock is released afterwards


def test_check_reports_a_chunk_that_no_longer_matches(ingested: Assistant) -> None:
    store = ingested.store
    chunk = store.chunks.get(limit=1, include=["embeddings"])
    store.chunks.update(
        ids=chunk["ids"], embeddings=chunk["embeddings"], documents=["tampered text"]
    )
    # The article's text is assembled from its chunks, so a changed chunk breaks it.
    assert any("its text cannot be read back" in p for p in ingested.check())


def test_check_reports_a_chunk_that_disagrees_with_an_article_stored_whole(
    ingested: Assistant,
) -> None:
    """Records written before the text was stored once hold the whole text: checked against
    their chunks as before."""
    store = ingested.store
    record = store.articles.get(limit=1, include=["metadatas", "embeddings"])
    article_id = record["ids"][0]
    article = store.get_articles([article_id])[article_id]
    meta = {k: v for k, v in record["metadatas"][0].items() if not k.startswith("text_")}
    store.articles.delete(ids=[article_id])
    store.articles.add(
        ids=[article_id], embeddings=record["embeddings"], documents=[article.text],
        metadatas=[meta],
    )  # fmt: skip
    assert ingested.check() == []
    assert store.get_articles([article_id])[article_id].text == article.text
    chunk = store.chunks.get(where={"article_id": article_id}, limit=1, include=["embeddings"])
    store.chunks.update(
        ids=chunk["ids"], embeddings=chunk["embeddings"], documents=["tampered text"]
    )
    assert any("does not match its article" in p for p in ingested.check())


def test_check_reports_sentence_vectors_that_disagree(ingested: Assistant) -> None:
    store = ingested.store
    assert ingested.check() == []
    chunk_id = store.chunks.get(limit=1)["ids"][0]
    article_id = store.chunks.get(ids=[chunk_id])["metadatas"][0]["article_id"]
    (vectors,) = store.sentence_vectors(
        {chunk_id: store.stored_sentence_counts()[chunk_id]}
    ).values()
    # One sentence vector too many for its chunk, and vectors for a chunk that does not exist.
    assert store.sentence_cache is not None
    store.sentence_cache.put(
        [(chunk_id, article_id, np.vstack([vectors, vectors[:1]])), ("ghost:0", "x", vectors)]
    )
    problems = ingested.check()
    assert any("1 chunk(s) whose stored sentence vectors do not match" in p for p in problems)
    assert any("sentence vectors for 1 chunk(s) that do not exist" in p for p in problems)


def test_listings_read_a_large_index_page_by_page(
    ingested: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One get of ~300,000 records fails inside Chroma ("too many SQL variables").
    whole = ingested.store.indexed_articles()
    chunk_count = ingested.store.counts()["chunks"]
    monkeypatch.setattr("askdocs.index.store.GET_PAGE", 2)
    assert ingested.store.indexed_articles() == whole
    assert ingested.check() == []
    assert ingested.store.drop_orphans({}) == len(whole)  # every chunk's article found
    assert ingested.store.counts()["chunks"] == 0 < chunk_count
