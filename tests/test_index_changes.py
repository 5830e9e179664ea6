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
from askdocs.index.sentence_cache import SentenceCache
from askdocs.index.store import ArticleVersion, ChromaStore, check_index
from askdocs.types import Article, Chunk
from conftest import FakeEmbeddings

# ------------------------------------------------------------------ sentence vectors


def test_sentence_records_are_numbered_within_their_chunk() -> None:
    matrices = [np.ones((2, 4)), np.zeros((1, 4))]
    rows = list(sentences.records("art", ["art:0", "art:1"], matrices))
    assert [r[0] for r in rows] == ["art:0/0", "art:0/1", "art:1/0"]
    assert all(meta == {"sentence_of": "art"} for _, _, meta in rows)
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

    def machine(name: str) -> ChromaStore:
        cache = SentenceCache(tmp_path / name / "sentence-cache.sqlite3")
        return ChromaStore(
            client, "news", KeywordIndex(tmp_path / name), sentence_cache=cache,
            sentences_in_chroma=True,  # as with a Chroma server: two machines share it
        )  # fmt: skip

    return machine("writer"), machine("reader")


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


def test_sentence_vectors_are_cached_and_dropped_when_another_process_changes_them(
    two_machines: tuple[ChromaStore, ChromaStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = two_machines
    text = "The harbour bridge opened. Crowds cheered."
    writer.replace_articles([_article(1, text)])
    first = reader.sentence_vectors({"art1:0": 2})["art1:0"]
    chroma_reads = []
    real_get = reader.sentences.get
    monkeypatch.setattr(
        reader.sentences, "get", lambda **kw: chroma_reads.append(kw) or real_get(**kw)
    )
    assert np.allclose(reader.sentence_vectors({"art1:0": 2})["art1:0"], first, atol=1e-3)
    assert chroma_reads == []  # served by this machine's cache
    changed = _article(1, text)
    changed = ArticleVersion(
        changed.article, "v2", changed.chunks, changed.vectors, [-changed.sentence_vectors[0]]
    )
    writer.replace_articles([changed])  # same chunk id, other vectors (another model)
    reader.catch_up()
    again = reader.sentence_vectors({"art1:0": 2})["art1:0"]
    assert len(chroma_reads) == 1 and np.allclose(again, -first, atol=1e-3)


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


# --------------------------------------------- writes cost what they change, crash journal


def test_catalogue_fields_name_the_file_and_every_folder_above_it() -> None:
    from askdocs.index.store import _catalogue_fields

    assert _catalogue_fields("/news/uk/feed.jsonl#3") == {
        "source_file": "/news/uk/feed.jsonl", "folders": ["/news/uk", "/news"],
    }  # fmt: skip
    assert _catalogue_fields("https://news.example/a.html") == {}


def test_adding_or_removing_one_article_never_lists_the_catalogue(
    tmp_path: Path, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from askdocs.api import Assistant
    from askdocs.index import store as store_module

    assistant = Assistant(index_dir=tmp_path / "index", embedder=FakeEmbeddings())
    assistant.ingest([articles_dir])

    def no_listing(*_: object, **__: object) -> None:
        raise AssertionError("the whole catalogue was listed")

    monkeypatch.setattr(store_module, "_get_all", no_listing)
    monkeypatch.setattr(ChromaStore, "indexed_articles", no_listing)
    extra = tmp_path / "more" / "quarry.txt"
    extra.parent.mkdir()
    extra.write_text("Quarry strike ends\n\nMiners at the Elderby quarry went back to work.")
    assert assistant.ingest([extra]).added == 1
    assert assistant.ingest([articles_dir]).unchanged == 6  # a folder: its own articles only
    assert assistant.remove(str(extra)) and not assistant.remove(str(extra))
    extra.write_text("Quarry strike ends\n\nMiners at the Elderby quarry went back to work.")
    assistant.ingest([extra.parent])
    extra.unlink()
    report = assistant.ingest([extra.parent])  # the folder's vanished file goes
    assert [f.status for f in report.files] == ["removed"]
    monkeypatch.undo()
    assert assistant.stats()["articles"] == 6 and assistant.check() == []


def test_a_write_that_died_is_cleaned_up_by_the_next_writer(
    tmp_path: Path, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from askdocs.api import Assistant

    index = tmp_path / "index"
    crashing = Assistant(index_dir=index, embedder=FakeEmbeddings())

    def die_before_the_records(self: ChromaStore, items: list[ArticleVersion]) -> None:
        # Everything of the batch but the articles' records (the commit marker) is written.
        def fail(*_: object, **__: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(self.articles, "upsert", fail)
        real_replace(self, items)

    real_replace = ChromaStore.replace_articles
    monkeypatch.setattr(ChromaStore, "replace_articles", die_before_the_records)
    assert crashing.ingest([articles_dir]).interrupted
    monkeypatch.undo()
    after_crash = Assistant(index_dir=index, embedder=FakeEmbeddings())
    assert after_crash.stats()["articles"] == 0 and after_crash.stats()["chunks"] > 0
    assert after_crash.store.changes.pending()  # the journal names the batch
    for path in articles_dir.iterdir():  # the articles' files are gone before the next run
        path.unlink()
    resumed = Assistant(index_dir=index, embedder=FakeEmbeddings())
    resumed.ingest([articles_dir])
    assert resumed.store.chunks.count() == 0 and resumed.store.stored_sentence_counts() == {}
    assert resumed.store.keywords.count() == 0
    assert resumed.store.changes.pending() == [] and resumed.check() == []


def test_a_new_article_is_written_without_deleting_first_and_an_update_replaces(
    tmp_path: Path, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each Chroma write of an add costs tens of milliseconds at a million chunks; a new
    # article has nothing stored to delete (an interrupted write was cleaned up first).
    from askdocs.api import Assistant

    assistant = Assistant(index_dir=tmp_path / "index", embedder=FakeEmbeddings())
    assistant.ingest([articles_dir])
    store = assistant.store
    deletes: list[str] = []
    for name in ("chunks", "articles"):
        real = getattr(store, name).delete
        monkeypatch.setattr(
            getattr(store, name),
            "delete",
            lambda *a, _n=name, _real=real, **k: deletes.append(_n) or _real(*a, **k),
        )
    extra = tmp_path / "more" / "quarry.txt"
    extra.parent.mkdir()
    extra.write_text("Quarry strike ends\n\nMiners at the Elderby quarry went back to work.")
    assert assistant.ingest([extra]).added == 1 and deletes == []
    extra.write_text("Quarry strike ends\n\nMiners at the Elderby quarry stayed at home.")
    assert assistant.ingest([extra]).updated == 1 and sorted(deletes) == ["articles", "chunks"]
    monkeypatch.undo()
    found = [d.page_content for d in assistant.as_retriever(k=5).invoke("Elderby quarry miners")]
    assert any("stayed at home" in t for t in found)
    assert not any("went back to work" in t for t in found)
    assert assistant.check() == []


def test_a_journal_left_by_another_process_is_cleared_before_a_new_one(tmp_path: Path) -> None:
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    died = changes.ChangeLog(client, "news")
    died.begin([f"article-{n}-" + "x" * 1000 for n in range(12)])  # three journal records
    writer = changes.ChangeLog(client, "news")  # another process: knows nothing of it
    writer.begin(["one"])
    assert writer.pending() == ["one"]
    writer.end()
    writer.begin(["two"])  # its own journal ended: nothing to clear first
    assert writer.pending() == ["two"]


def test_records_of_an_older_index_get_their_catalogue_fields_once(
    tmp_path: Path, articles_dir: Path
) -> None:
    from askdocs.api import Assistant

    assistant = Assistant(index_dir=tmp_path / "index", embedder=FakeEmbeddings())
    assistant.ingest([articles_dir])
    store = assistant.store
    ids = store.articles.get(include=[])["ids"]
    store.articles.update(ids=ids, metadatas=[{"source_file": None, "folders": None}] * len(ids))
    store.articles.modify(metadata={"catalogue": 1})
    assert store.records_under([articles_dir.resolve()]) == {}
    assert store.ensure_catalogue_fields() == len(ids)
    assert set(store.records_under([articles_dir.resolve()])) == set(ids)
    assert store.ensure_catalogue_fields() == 0  # marked: not again


def test_a_new_machine_answers_while_its_keyword_cache_fills(
    tmp_path: Path, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import threading

    from askdocs import retrieval
    from askdocs.api import Assistant

    Assistant(index_dir=tmp_path / "index", embedder=FakeEmbeddings()).ingest([articles_dir])
    shutil.rmtree(tmp_path / "index" / "keywords")  # this machine has no keyword cache yet
    release = threading.Event()
    real_sync = ChromaStore.sync_keywords

    def slow_sync(self: ChromaStore, force: bool = False) -> int:
        release.wait(timeout=30)  # a large index's fill, held until the test lets it go
        return real_sync(self, force)

    monkeypatch.setattr(ChromaStore, "sync_keywords", slow_sync)
    monkeypatch.setattr(retrieval, "KEYWORD_CACHE_WAIT_SECONDS", 0.1)
    fresh = Assistant(index_dir=tmp_path / "index", embedder=FakeEmbeddings())
    answer = fresh.ask("Who won the Northfield chess championship?")
    assert not fresh.store.keywords_ready.is_set()  # answered dense-only, cache still filling
    assert "Priya Nair" in answer.text
    release.set()
    assert fresh.store.keywords_ready.wait(timeout=30)
    assert fresh.store.keywords.count() == fresh.store.chunks.count()
    assert fresh.check() == []


def test_article_chunks_by_id_through_the_cache_and_by_where_when_it_is_behind(
    two_machines: tuple[ChromaStore, ChromaStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = two_machines
    writer.replace_articles([_article(1, "The harbour bridge opened. Crowds cheered.")])
    reader.catch_up()
    asked: list[dict] = []
    real_get = reader.chunks.get

    def get(**kwargs):  # type: ignore[no-untyped-def]
        asked.append(kwargs)
        return real_get(**kwargs)

    monkeypatch.setattr(reader.chunks, "get", get)
    assert [c.id for c in reader.article_chunks(["art1"])] == ["art1:0"]
    assert [sorted(a) for a in asked] == [["ids", "include"]]  # by id: no metadata scan
    # Another process replaces the article (new chunk id); before this reader catches up its
    # cache names a chunk Chroma no longer holds: the lookup falls back to the metadata where.
    changed = _article(1, "The harbour bridge closed. Crowds left.")
    changed.chunks[0] = Chunk(
        id="art1:0b", article_id="art1", index=0, text=changed.article.text, start=0,
        end=len(changed.article.text),
    )  # fmt: skip
    writer.replace_articles([changed])
    asked.clear()
    assert [c.id for c in reader.article_chunks(["art1"])] == ["art1:0b"]
    assert "where" in asked[-1]
    # While a new machine's cache is still filling, the where as well.
    reader.keywords_ready.clear()
    asked.clear()
    assert [c.id for c in reader.article_chunks(["art1"])] == ["art1:0b"]
    assert [sorted(a) for a in asked] == [["include", "where"]]


# ------------------------------------------------------------------ compact records


def test_a_new_index_stores_article_text_once_and_a_point_per_record(tmp_path: Path) -> None:
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    store = ChromaStore(client, "news", KeywordIndex(tmp_path / "kw"))
    item = _article(1, "Anna Berg won the race. She trained for years.")
    store.replace_articles([item])
    record = store.articles.get(ids=["art1"], include=["documents", "embeddings"])
    assert record["documents"] == [None]  # the text lives in the chunks only
    assert len(record["embeddings"][0]) == 2
    assert store.get_articles(["art1"])["art1"].text == item.article.text


def test_an_index_created_before_keeps_centroids_and_whole_texts_it_already_has(
    tmp_path: Path,
) -> None:
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    old = client.get_or_create_collection(
        "news_articles", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    old.modify(metadata={"catalogue": 2})  # as versions before points marked a new index
    store = ChromaStore(client, "news", KeywordIndex(tmp_path / "kw"))
    first, second = _article(1, "Anna Berg won."), _article(2, "Omar Haddad lost.")
    store.replace_articles([first])
    vector = store.articles.get(ids=["art1"], include=["embeddings"])["embeddings"][0]
    assert len(vector) == len(first.vectors[0])
    # A record stored whole by an older version is read as it is, beside one stored once.
    store.articles.update(ids=["art1"], embeddings=[vector], documents=[first.article.text])
    store.replace_articles([second])
    texts = {a.id: a.text for a in store.get_articles(["art1", "art2"]).values()}
    assert texts == {"art1": "Anna Berg won.", "art2": "Omar Haddad lost."}
    # Chunks stored by older versions hold their text as the document and carry their end
    # offset; they are read as before.
    chunk = first.chunks[0]
    store.chunks.delete(ids=[chunk.id])
    store.chunks.add(
        ids=[chunk.id],
        embeddings=first.vectors,
        documents=[chunk.text],
        metadatas=[{"article_id": "art1", "index": 0, "start": chunk.start, "end": chunk.end}],
    )
    assert store.get_articles(["art1"])["art1"].text == "Anna Berg won."
    assert [p.chunk.text for p, _ in store.get_chunks([chunk.id])] == ["Anna Berg won."]
    assert check_index(store) == []


def test_a_chunk_too_long_for_a_metadata_value_keeps_its_text_as_the_document(
    tmp_path: Path,
) -> None:
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    store = ChromaStore(client, "news", KeywordIndex(tmp_path / "kw"))
    # 4,579 bytes of UTF-8 (4,489 characters): over the 4,096 a metadata value may hold
    long_text = " ".join(f"Zola wrote chapter {i} in a café about the strike." for i in range(90))
    short, long = _article(1, "Anna Berg won the race."), _article(2, long_text)
    store.replace_articles([short, long])  # one batch, stored two ways
    found = store.chunks.get(ids=["art1:0", "art2:0"], include=["documents", "metadatas"])
    stored = dict(zip(found["ids"], found["documents"], strict=True))
    assert stored == {"art1:0": None, "art2:0": long_text}
    assert "text" not in found["metadatas"][found["ids"].index("art2:0")]
    texts = {a.id: a.text for a in store.get_articles(["art1", "art2"]).values()}
    assert texts == {"art1": "Anna Berg won the race.", "art2": long_text}
    assert store.keywords.search("Zola strike", k=1)[0].chunk_id == "art2:0"
    assert check_index(store) == []


def test_the_metadata_limit_counts_bytes_not_characters() -> None:
    from askdocs.index.store import METADATA_TEXT_BYTES, _text_fits_metadata

    assert _text_fits_metadata("a" * METADATA_TEXT_BYTES)
    assert _text_fits_metadata("é" * (METADATA_TEXT_BYTES // 2))  # two bytes each
    assert not _text_fits_metadata("é" * (METADATA_TEXT_BYTES // 2 + 1))
