"""The only module that talks to Chroma: articles and their chunks, persistent or on a server."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from askdocs.config import Settings
from askdocs.index import article_text, sentences
from askdocs.index.changes import ChangeLog
from askdocs.index.filters import chroma_where, day_number
from askdocs.index.keywords import KeywordIndex
from askdocs.index.lease import LEASE_SECONDS, WriterLease, holding
from askdocs.index.lock import StoreError
from askdocs.index.sentence_cache import SentenceCache
from askdocs.types import Article, Chunk, ChunkHit, Filters, Passage

T = TypeVar("T")


@dataclass(frozen=True)
class IndexedArticle:
    """What the store knows about an article without loading its text."""

    id: str
    title: str
    source: str
    version: str
    chunks: int
    outlet: str = ""


@dataclass(frozen=True)
class ArticleVersion:
    """An article ready to store: its version, chunks and one vector per chunk."""

    article: Article
    version: str
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    # Per chunk, one vector per candidate sentence (chunking.candidate_sentences), if computed.
    sentence_vectors: Sequence[np.ndarray] | None = None
    # The writer found no record of this article, and the write began by cleaning up after any
    # interrupted one (finish_interrupted): nothing of it is stored, nothing to delete first
    # (two Chroma writes fewer for each batch of new articles).
    new: bool = False


def open_store(settings: Settings, create: bool = False) -> ChromaStore:
    """The store factory: a local persistent index, or a Chroma server when chroma_url is set."""
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise StoreError(
                f"chroma_url {settings.chroma_url!r} is not a URL like http://host:8000"
            )
        try:
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_url}: {exc}"
            ) from exc
        # The keyword index stays on this machine, in the index folder; `askdocs ingest`
        # brings it back in line with the server's chunks when they differ.
        return ChromaStore(
            client,
            settings.collection,
            _keywords(settings),
            where=settings.chroma_url,
            sentence_cache=_sentence_cache(settings),
            sentences_in_chroma=True,
        )
    index_dir = Path(settings.index_dir)
    if not create and not (index_dir / "chroma.sqlite3").is_file():
        raise StoreError(f"no index at {index_dir}/ - run `askdocs ingest PATH` first")
    index_dir.mkdir(parents=True, exist_ok=True)
    return ChromaStore(
        chromadb.PersistentClient(path=str(index_dir), settings=chroma_settings),
        settings.collection,
        _keywords(settings),
        where=str(index_dir),
        sentence_cache=_sentence_cache(settings),
        sentences_in_chroma=False,
    )


def _side_folder(settings: Settings) -> Path:
    """Where the keyword index and the sentence vectors of a collection live."""
    return Path(settings.index_dir) / "keywords" / settings.collection


def legacy_sentence_table(settings: Settings) -> Path:
    """Where earlier versions kept sentence vectors, for every kind of index (see
    ChromaStore.adopt_sentence_table)."""
    return _side_folder(settings) / "sentences.sqlite3"


def _sentence_cache(settings: Settings) -> SentenceCache:
    return SentenceCache(_side_folder(settings) / "sentence-cache.sqlite3")


def _keywords(settings: Settings) -> KeywordIndex:
    return KeywordIndex(_side_folder(settings))


def _reachable(method: Callable[..., T]) -> Callable[..., T]:
    """Turn any failure of Chroma underneath into a StoreError that says where and what."""

    @functools.wraps(method)
    def wrapper(self: ChromaStore, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            if self.remote:
                raise StoreError(
                    f"the Chroma server at {self.where} is not answering ({exc}); "
                    "start it again and retry, nothing indexed is lost"
                ) from exc
            raise StoreError(f"the index at {self.where} cannot be used: {exc}") from exc

    return wrapper


class ChromaStore:
    """Collections of chunks (searched; they hold the articles' text, see TEXT_KEY) and articles
    (version, source, what no chunk covers of the text; the commit marker), a change log, with
    a server the sentence vectors, plus the keyword index over the same chunks.

    Articles' records are written only after all their chunks and keyword rows, and deleted
    before any of them, so a crash at any point leaves an article either complete or absent
    from the record collection; absent articles are re-indexed on the next ingest and their
    stray chunks and keyword rows are dropped first.
    """

    def __init__(
        self,
        client: Any,
        prefix: str,
        keywords: KeywordIndex,
        where: str = "",
        sentence_cache: SentenceCache | None = None,
        sentences_in_chroma: bool = True,
    ) -> None:
        self.client = client
        self.keywords = keywords
        self.sentence_cache = sentence_cache
        self.remote = where.startswith(("http://", "https://"))
        self.where = where
        self.lease: WriterLease | None = None  # held while this process writes a server's index
        # embedding_function=None: we always pass our own vectors, and Chroma's default
        # embedding function would try to download a model.
        space = {"hnsw": {"space": "cosine"}}
        self.chunks = client.get_or_create_collection(
            f"{prefix}_chunks", embedding_function=None, configuration=space
        )
        self.articles = client.get_or_create_collection(
            f"{prefix}_articles", embedding_function=None, configuration=space
        )
        # Where sentence vectors live: with a Chroma server (processes on several machines),
        # in a sentences collection, read through each machine's cache; in an embedded index
        # (one machine), only in the float16 file beside it. Measured at 100k chunks, a
        # sentences collection made the embedded index 65% larger and its questions slower
        # (every vector float32 in an HNSW graph the writer must load), for no reader that
        # the file does not already serve.
        self.sentences = (
            client.get_or_create_collection(
                f"{prefix}_sentences", embedding_function=None, configuration=space
            )
            if sentences_in_chroma
            else None
        )
        if "catalogue" not in (self.articles.metadata or {}) and not self.articles.count():
            # A new index: nothing to bring up to date (see ensure_catalogue_fields), and its
            # records get a point, not a vector (_article_point).
            self.articles.modify(
                metadata={"catalogue": CATALOGUE_FORMAT, ARTICLE_VECTORS: ARTICLE_POINTS}
            )
        # Indexes created before keep their records' 384-d centroids (Chroma fixes a
        # collection's dimension at its first record).
        self._points = (self.articles.metadata or {}).get(ARTICLE_VECTORS) == ARTICLE_POINTS
        self.changes = ChangeLog(client, prefix)
        self._batch = max(1, client.get_max_batch_size())
        self._checked_at = float("-inf")
        self._catching_up = threading.Lock()
        # Cleared while this machine's keyword cache is being filled from Chroma.
        self.keywords_ready = threading.Event()
        self.keywords_ready.set()

    @_reachable
    def indexed_articles(self) -> dict[str, IndexedArticle]:
        """The whole catalogue (for listings and check; writes look up only what they touch)."""
        return _records(_get_all(self.articles, ["metadatas"]))

    @_reachable
    def article_records(self, ids: Iterable[str]) -> dict[str, IndexedArticle]:
        """The catalogue records of these article ids (unknown ids left out)."""
        ids = list(dict.fromkeys(ids))
        found: dict[str, IndexedArticle] = {}
        for i in range(0, len(ids), self._batch):
            found |= _records(
                self.articles.get(ids=ids[i : i + self._batch], include=["metadatas"])
            )
        return found

    @_reachable
    def records_from_source(self, source: str) -> dict[str, IndexedArticle]:
        """The records of articles whose source is exactly this path or URL."""
        return _records(self.articles.get(where={"source": source}, include=["metadatas"]))

    @_reachable
    def records_under(self, paths: Iterable[Path]) -> dict[str, IndexedArticle]:
        """The records of articles from these files, or from files anywhere under these
        folders: one query per path, costing the articles found, not the catalogue."""
        found: dict[str, IndexedArticle] = {}
        for path in paths:
            where = {"$or": [{"source_file": str(path)}, {"folders": {"$contains": str(path)}}]}
            offset = 0
            while True:
                page = self.articles.get(
                    where=where, include=["metadatas"], limit=GET_PAGE, offset=offset
                )
                found |= _records(page)
                if len(page["ids"]) < GET_PAGE:
                    break
                offset += GET_PAGE
        return found

    @_reachable
    def ensure_catalogue_fields(self) -> int:
        """Once per index written by a version before records carried `source_file` and
        `folders` (what lets a write find the articles of a file or folder without listing the
        catalogue): add them to every record, drop chunks no record owns, then mark the
        collection. Returns the records updated."""
        if (self.articles.metadata or {}).get("catalogue") == CATALOGUE_FORMAT:
            return 0
        records = self.indexed_articles()
        updates = [(r.id, _catalogue_fields(r.source)) for r in records.values()]
        for i in range(0, len(updates), self._batch):
            batch = updates[i : i + self._batch]
            self.articles.update(ids=[a for a, _ in batch], metadatas=[m for _, m in batch])
        self.drop_orphans(records)
        self.articles.modify(
            metadata={**(self.articles.metadata or {}), "catalogue": CATALOGUE_FORMAT}
        )
        return len(updates)

    @_reachable
    def get_articles(self, ids: Iterable[str]) -> dict[str, Article]:
        """Indexed articles with their text (ids not indexed, or not whole, left out)."""
        return self.articles_with_chunks(ids, all_chunks=False)[0]

    @_reachable
    def articles_with_chunks(
        self, ids: Iterable[str], all_chunks: bool = True
    ) -> tuple[dict[str, Article], dict[str, list[Chunk]]]:
        """Indexed articles with their text, and the stored chunks read on the way: the text
        is assembled from the chunks (article_text.py), so every article whose record does
        not hold it has all its chunks here; `all_chunks` reads the others' chunks too."""
        ids = list(dict.fromkeys(ids))
        if len(ids) > ARTICLES_PER_READ:
            every: tuple[dict[str, Article], dict[str, list[Chunk]]] = ({}, {})
            for i in range(0, len(ids), ARTICLES_PER_READ):
                part = self.articles_with_chunks(ids[i : i + ARTICLES_PER_READ], all_chunks)
                every[0].update(part[0])
                every[1].update(part[1])
            return every
        if not ids:
            return {}, {}
        records = self.articles.get(ids=ids, include=["metadatas", "documents"])
        rows = list(zip(records["ids"], records["metadatas"], records["documents"], strict=True))
        assembled = [a for a, meta, _ in rows if article_text.stored_in_record(meta)]
        chunks: dict[str, list[Chunk]] = {}
        for chunk in self.article_chunks(assembled if not all_chunks else [a for a, _, _ in rows]):
            chunks.setdefault(chunk.article_id, []).append(chunk)
        articles = {}
        for article_id, meta, document in rows:
            text = _text_of(meta, document, chunks.get(article_id, []))
            if text is not None:
                articles[article_id] = _article_from_record(article_id, meta, text)
        return articles, chunks

    @_reachable
    def replace_articles(self, items: Sequence[ArticleVersion]) -> None:
        """Swap in new versions of articles in a few batched writes; crash-safe as above."""
        if not items:
            return
        self._check_lease()
        ids = [item.article.id for item in items]
        stored = [item.article.id for item in items if not item.new]
        self.changes.begin(ids)
        if stored:
            self.articles.delete(ids=stored)
            self._delete_parts(stored)
        rows = [
            (chunk, vector, _display_metadata(item.article))
            for item in items
            for chunk, vector in zip(item.chunks, item.vectors, strict=True)
        ]
        for i in range(0, len(rows), self._batch):
            batch = rows[i : i + self._batch]
            in_metadata = [row for row in batch if _text_fits_metadata(row[0].text)]
            as_document = [row for row in batch if not _text_fits_metadata(row[0].text)]
            for part, documents in ((in_metadata, False), (as_document, True)):
                if not part:
                    continue
                self.chunks.upsert(
                    ids=[chunk.id for chunk, _, _ in part],
                    embeddings=np.asarray([vector for _, vector, _ in part]),
                    **({"documents": [chunk.text for chunk, _, _ in part]} if documents else {}),
                    metadatas=[
                        {
                            **base,
                            "article_id": chunk.article_id,
                            "index": chunk.index,
                            "start": chunk.start,  # (its end is start + the text's length)
                            **({} if documents else {TEXT_KEY: chunk.text}),
                        }
                        for chunk, _, base in part
                    ],
                )
        self._add_sentences(items)
        if self.sentence_cache:
            self.sentence_cache.put(
                (chunk.id, item.article.id, matrix)
                for item in items
                if item.sentence_vectors is not None
                for chunk, matrix in zip(item.chunks, item.sentence_vectors, strict=True)
            )
        self.keywords.replace(
            ids, [(chunk, item.article) for item in items for chunk in item.chunks]
        )
        for i in range(0, len(items), self._batch):
            batch_items = items[i : i + self._batch]
            texts = [_text_in_record(item) for item in batch_items]
            self.articles.upsert(
                ids=[item.article.id for item in batch_items],
                embeddings=np.asarray(
                    [
                        _article_point(item.article.id) if self._points else _centroid(item.vectors)
                        for item in batch_items
                    ]
                ),
                documents=[document for document, _ in texts],
                metadatas=[
                    {
                        **_display_metadata(item.article),
                        **_catalogue_fields(item.article.source),
                        **fields,
                        "version": item.version,
                        "chunks": len(item.chunks),
                        "metadata_json": json.dumps(item.article.metadata, sort_keys=True),
                    }
                    for item, (_, fields) in zip(batch_items, texts, strict=True)
                ],
            )
        self._logged(ids)

    @_reachable
    def delete_article(self, article_id: str) -> None:
        self._check_lease()
        self.changes.begin([article_id])
        self.articles.delete(ids=[article_id])
        self._delete_parts([article_id])
        self._logged([article_id])

    @_reachable
    def drop_orphans(self, records: dict[str, IndexedArticle]) -> int:
        """Delete chunks left by an interrupted ingest (their article has no record)."""
        if sum(r.chunks for r in records.values()) == self.chunks.count():
            return 0
        metas = _get_all(self.chunks, ["metadatas"])["metadatas"]
        orphans = sorted({str(m["article_id"]) for m in metas} - set(records))
        self._delete_parts(orphans)
        self._logged(orphans)
        return len(orphans)

    def _delete_parts(self, article_ids: Sequence[str]) -> None:
        """Delete everything of these articles but their records: chunks, sentence vectors
        (in Chroma and this machine's file) and keyword rows."""
        for i in range(0, len(article_ids), self._batch):
            batch = list(article_ids[i : i + self._batch])
            self.chunks.delete(where={"article_id": {"$in": batch}})
            if self.sentences is not None:
                self.sentences.delete(where={sentences.ARTICLE_KEY: {"$in": batch}})
        self.keywords.delete(article_ids)
        self._forget_sentences(article_ids)

    def _forget_sentences(self, article_ids: Sequence[str]) -> None:
        if self.sentence_cache:
            self.sentence_cache.drop(article_ids)

    def _add_sentences(self, items: Sequence[ArticleVersion]) -> None:
        if self.sentences is None:
            return
        rows = [
            row
            for item in items
            if item.sentence_vectors is not None
            for row in sentences.records(
                item.article.id, [c.id for c in item.chunks], item.sentence_vectors
            )
        ]
        for i in range(0, len(rows), self._batch):
            batch = rows[i : i + self._batch]
            self.sentences.upsert(
                ids=[record_id for record_id, _, _ in batch],
                embeddings=np.asarray([vector for _, vector, _ in batch]),
                metadatas=[meta for _, _, meta in batch],
            )

    def _logged(self, article_ids: Sequence[str]) -> None:
        """Log a finished write for other processes and close its journal entry; this
        process's own cache is current at once, if it was current before (else catching up
        later replays what it missed)."""
        before = self.keywords.synced_generation()
        previous = self.changes.current()
        generation = self.changes.record(article_ids, after=previous)
        self.changes.end()
        if before == previous:
            self.keywords.set_synced_generation(generation)

    @contextlib.contextmanager
    def writing(self, lease_seconds: float = LEASE_SECONDS) -> Iterator[WriterLease | None]:
        """The block writes this index: with a Chroma server, holding the writer lease that
        keeps writers on other machines out (index/lease.py); an embedded index is one
        machine's, and the caller's file lock (lock.py) already keeps its writers apart."""
        if not self.remote:
            yield None
            return
        lease = WriterLease(self.changes.collection, self.where, seconds=lease_seconds)
        with holding(lease):
            self.lease = lease
            try:
                yield lease
            finally:
                self.lease = None

    def _check_lease(self) -> None:
        """A writer that lost its lease (it could not renew in time) stops before writing."""
        if self.lease is not None:
            self.lease.check()

    @_reachable
    def finish_interrupted(self) -> int:
        """Clean up after a writer that died mid-write (kill -9, power cut): the articles its
        journal names lose any chunks, sentences and keyword rows their record does not own
        (an article is complete exactly when its record exists). Costs those articles only."""
        pending = self.changes.pending()
        if not pending:
            return 0
        complete = set(self.article_records(pending))
        broken = [a for a in pending if a not in complete]
        self._delete_parts(broken)
        self._refresh_keywords(sorted(complete))
        self._logged(pending)
        return len(broken)

    @_reachable
    def catch_up(self, max_age: float = 0.0) -> int:
        """Bring this process's keyword cache to what Chroma holds now, if it was last checked
        more than `max_age` seconds ago: only the articles other processes changed since are
        read again (all of them if the log cannot say). Returns the articles refreshed.

        Questions call this (at most once per `index_refresh_seconds`), so a long-running
        process finds what another process or machine ingested and stops finding what it
        removed, without restarting. A check already running in another thread is not waited
        for."""
        if time.monotonic() - self._checked_at < max_age or not self.keywords_ready.is_set():
            return 0  # (a cache being filled from Chroma is brought up to date by the fill)
        if not self._catching_up.acquire(blocking=False):
            return 0
        try:
            self._checked_at = time.monotonic()
            local = self.keywords.synced_generation()
            changes = self.changes.after(local)
            if changes.generation == local and changes.complete:
                return 0
            if not changes.complete:
                current = self.changes.current()
                if self.sentence_cache and self.sentences is not None:
                    self.sentence_cache.clear()  # a cache of Chroma's: refilled as read
                refreshed = self.sync_keywords(force=True)
                self.keywords.set_synced_generation(current)
            else:
                if self.sentences is not None:  # else the file is shared and already current
                    self._forget_sentences(sorted(changes.article_ids))
                refreshed = self._refresh_keywords(sorted(changes.article_ids))
                self.keywords.set_synced_generation(changes.generation)
            self.keywords.rebuild()
            return refreshed
        finally:
            self._catching_up.release()

    def _refresh_keywords(self, article_ids: list[str]) -> int:
        """Replace these articles' keyword rows with their chunks as Chroma holds them now."""
        self.keywords.delete(article_ids)
        for i in range(0, len(article_ids), REFRESH_ARTICLES):
            found = self.chunks.get(
                where={"article_id": {"$in": article_ids[i : i + REFRESH_ARTICLES]}},
                include=["documents", "metadatas"],
            )
            self.keywords.add_texts(_keyword_rows(found))
        return len(article_ids)

    @_reachable
    def sync_keywords(self, force: bool = False) -> int:
        """Make the keyword index hold exactly the dense index's chunks; returns rows changed.

        Needed for indexes built before the keyword index existed, for a Chroma server that
        another machine wrote to, and after a crash between the two writes.
        """
        if not force and self.keywords.count() == self.chunks.count():
            return 0
        dense_ids = set(_get_all(self.chunks, [])["ids"])
        keyword_ids = set(self.keywords.chunk_ids())
        stale = sorted(keyword_ids - dense_ids)
        missing = sorted(dense_ids - keyword_ids)
        if stale:
            self.keywords.delete_chunks(stale)
        for i in range(0, len(missing), self._batch):
            found = self.chunks.get(
                ids=missing[i : i + self._batch], include=["documents", "metadatas"]
            )
            self.keywords.add_texts(_keyword_rows(found))
        return len(stale) + len(missing)

    @_reachable
    def get_chunks(
        self, ids: Sequence[str], vectors: bool = True
    ) -> list[tuple[Passage, np.ndarray | None]]:
        """Chunks by id (unknown ids left out), scored 0 until compared, with their vectors
        (None without `vectors`)."""
        if not ids:
            return []
        include = ["documents", "metadatas", *(["embeddings"] if vectors else [])]
        found = self.chunks.get(ids=list(ids), include=include)
        stored = found["embeddings"] if vectors else [None] * len(found["ids"])
        by_id = {
            chunk_id: (
                _passage(_chunk(chunk_id, text, meta), 0.0, meta),
                None if vector is None else np.asarray(vector),
            )
            for chunk_id, text, meta, vector in zip(
                found["ids"], chunk_texts(found), found["metadatas"], stored, strict=True
            )
        }
        return [by_id[i] for i in ids if i in by_id]

    @_reachable
    def chunk_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these chunks (unknown ids left out), without their texts."""
        if not ids:
            return {}
        found = self.chunks.get(ids=list(ids), include=["embeddings"])
        return dict(zip(found["ids"], np.asarray(found["embeddings"]), strict=True))

    @_reachable
    def sentence_vectors(self, wanted: dict[str, int]) -> dict[str, np.ndarray]:
        """The stored sentence vectors of chunks, given as {chunk id: sentences in it}, from
        this machine's cache or else Chroma; chunks whose vectors are not all stored are left
        out."""
        cached = self.sentence_cache.get(list(wanted)) if self.sentence_cache else {}
        matrices = {c: m for c, m in cached.items() if len(m) == wanted[c]}
        missing = {c: n for c, n in wanted.items() if c not in matrices}
        if self.sentences is None:
            return matrices
        ids = [i for chunk_id, n in missing.items() for i in sentences.sentence_ids(chunk_id, n)]
        found: dict[str, np.ndarray] = {}
        articles: dict[str, str] = {}
        for start in range(0, len(ids), self._batch):
            got = self.sentences.get(
                ids=ids[start : start + self._batch], include=["embeddings", "metadatas"]
            )
            found.update(zip(got["ids"], np.asarray(got["embeddings"]), strict=True))
            articles.update(
                (sentences.chunk_of(i), str(m[sentences.ARTICLE_KEY]))
                for i, m in zip(got["ids"], got["metadatas"], strict=True)
            )
        fetched = sentences.assemble(missing, found)
        if self.sentence_cache and fetched:
            self.sentence_cache.put((c, articles[c], m) for c, m in fetched.items())
        return matrices | fetched

    @_reachable
    def stored_sentence_counts(self) -> dict[str, int]:
        """How many sentence vectors are stored for each chunk (lists them all: for check)."""
        if self.sentences is None:
            return self.sentence_cache.row_counts() if self.sentence_cache else {}
        return sentences.counts(_get_all(self.sentences, [])["ids"])

    @_reachable
    def adopt_sentence_table(self, path: Path) -> int:
        """Move sentence vectors from the sqlite file older versions kept beside the index into
        where they live now (the file beside the index, and the sentences collection with a
        server), then delete the old file; returns the chunks adopted."""
        import sqlite3

        if not path.is_file():
            return 0
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute("SELECT chunk_id, dimensions, vectors FROM sentences").fetchall()
        chunk_articles: dict[str, str] = {}
        for i in range(0, len(rows), self._batch):
            ids = [chunk_id for chunk_id, _, _ in rows[i : i + self._batch]]
            got = self.chunks.get(ids=ids, include=["metadatas"])
            chunk_articles.update(
                (chunk_id, str(meta["article_id"]))
                for chunk_id, meta in zip(got["ids"], got["metadatas"], strict=True)
            )
        records = []
        adopted = []
        for chunk_id, dims, blob in rows:
            article_id = chunk_articles.get(chunk_id)
            if article_id is not None:
                matrix = np.frombuffer(blob, np.float16).reshape(-1, dims).astype(np.float32)
                records += sentences.records(article_id, [chunk_id], [matrix])
                adopted.append((chunk_id, article_id, matrix))
        if self.sentence_cache:  # this machine reads them from its cache, as if it wrote them
            self.sentence_cache.put(adopted)
        for start in range(0, len(records) if self.sentences is not None else 0, self._batch):
            part = records[start : start + self._batch]
            self.sentences.upsert(
                ids=[record_id for record_id, _, _ in part],
                embeddings=np.asarray([vector for _, vector, _ in part]),
                metadatas=[meta for _, _, meta in part],
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return len(adopted)

    @_reachable
    def article_chunks(self, article_ids: Sequence[str]) -> list[Chunk]:
        """Every stored chunk of these articles, in article and text order.

        Looked up by id through this machine's keyword cache, which knows each article's chunk
        ids: a `where` on chunk metadata scans Chroma's whole metadata table (measured 20 ms a
        call at 100k chunks, 2-3 ms by ids). The cache reflects the index as of the last
        catch-up (at most `index_refresh_seconds` old, as keyword search does); ids it names
        that Chroma no longer holds, or a cache still filling, fall back to the `where`."""
        if not article_ids:
            return []
        found = None
        if self.keywords_ready.is_set():
            known = self.keywords.chunks_of(article_ids)
            ids = [c for a in dict.fromkeys(article_ids) for c in known.get(a, [])]
            if ids and len(known) == len(set(article_ids)):
                found = self.chunks.get(ids=ids, include=["documents", "metadatas"])
                if len(found["ids"]) != len(ids):
                    found = None
        if found is None:
            found = self.chunks.get(
                where={"article_id": {"$in": list(article_ids)}},
                include=["documents", "metadatas"],
            )
        chunks = [
            _chunk(chunk_id, text, meta)
            for chunk_id, text, meta in zip(
                found["ids"], chunk_texts(found), found["metadatas"], strict=True
            )
        ]
        return sorted(chunks, key=lambda c: (c.article_id, c.start, c.end))

    @_reachable
    def search(
        self,
        vector: Sequence[float],
        k: int,
        filters: Filters | None = None,
        passages: bool = True,
        vectors: bool = True,
    ) -> list[ChunkHit]:
        """The k nearest chunks with their cosine similarity; their passages and vectors only
        when asked (a query returning 20 chunks' texts and vectors took 5.4 ms at the median
        on this index, one returning ids and distances 1.8 ms)."""
        # No count() first: Chroma answers an empty collection with no rows, and counting
        # costs more than the search itself on a large index (12 ms at 100k chunks).
        if k <= 0:
            return []
        include = ["distances"]
        include += ["documents", "metadatas"] if passages else []
        include += ["embeddings"] if vectors else []
        result = self.chunks.query(
            query_embeddings=[list(vector)],
            n_results=k,
            where=chroma_where(filters),
            include=include,
        )
        ids, distances = result["ids"][0], result["distances"][0]
        found = [None] * len(ids)
        if passages:
            metas = result["metadatas"][0]
            texts = chunk_texts({"documents": result["documents"][0], "metadatas": metas})
            found = [
                _passage(_chunk(chunk_id, text, meta), 1.0 - float(distance), meta)
                for chunk_id, text, meta, distance in zip(ids, texts, metas, distances, strict=True)
            ]
        stored = result["embeddings"][0] if vectors else [None] * len(ids)
        return [
            ChunkHit(
                chunk_id,
                1.0 - float(distance),
                passage,
                None if embedding is None else np.asarray(embedding),
            )
            for chunk_id, distance, passage, embedding in zip(
                ids, distances, found, stored, strict=True
            )
        ]

    @_reachable
    def counts(self) -> dict[str, int]:
        return {"articles": self.articles.count(), "chunks": self.chunks.count()}


CATALOGUE_FORMAT = 2
"""Marks an articles collection whose records carry `source_file` and `folders`."""

ARTICLES_PER_READ = 1000
"""Articles read in one go with their chunks (a question reads a handful; a caller asking for
thousands gets them in reads of this size: one get of too many ids fails inside Chroma)."""

REFRESH_ARTICLES = 100
"""Articles whose chunks one catch-up request reads (a bounded `$in` list)."""

GET_PAGE = 20_000
"""Records per Chroma get: one get of a whole large collection fails ("too many SQL
variables" at about 300,000 articles), so listings are read page by page."""


def _get_all(collection: Any, include: list[str]) -> dict[str, list[Any]]:
    """Every record of a collection: ids and the included fields, in pages of GET_PAGE."""
    merged: dict[str, list[Any]] = {"ids": [], **{field: [] for field in include}}
    offset = 0
    while True:
        page = collection.get(include=include, limit=GET_PAGE, offset=offset)
        for field in merged:
            merged[field].extend(page[field] if page[field] is not None else [])
        if len(page["ids"]) < GET_PAGE:
            return merged
        offset += len(page["ids"])


def _records(found: dict[str, Any]) -> dict[str, IndexedArticle]:
    return {
        article_id: IndexedArticle(
            id=article_id,
            title=str(meta["title"]),
            source=str(meta["source"]),
            version=str(meta["version"]),
            chunks=int(meta["chunks"]),
            outlet=str(meta.get("outlet", "")),
        )
        for article_id, meta in zip(found["ids"], found["metadatas"], strict=True)
    }


def _catalogue_fields(source: str) -> dict[str, Any]:
    """Where an article came from, in the form queries can select: the file (a record of a
    .jsonl file is `file#n`) and every folder above it. URLs have neither."""
    if source.startswith(("http://", "https://")):
        return {}
    file = Path(source.split("#", 1)[0])
    folders = [str(folder) for folder in file.parents if folder != Path(folder.anchor)]
    return {"source_file": str(file), **({"folders": folders} if folders else {})}


def _keyword_rows(found: dict[str, Any]) -> Iterator[tuple[str, str, str, str, Any, str]]:
    """(chunk id, article id, source, outlet, day, text) of chunks read from Chroma."""
    for chunk_id, text, meta in zip(
        found["ids"], chunk_texts(found), found["metadatas"], strict=True
    ):
        yield (
            chunk_id,
            str(meta["article_id"]),
            str(meta.get("source", "")),
            str(meta.get("outlet", "")),
            meta.get("published_day"),
            text,
        )


def _text_of(meta: dict[str, Any], document: str | None, own: Sequence[Chunk]) -> str | None:
    """An article's text from its record and all its chunks: the record's document when it
    holds the whole text (written by older versions), else assembled from the chunks; None
    when they do not give it back (a chunk missing, extra or changed)."""
    if not article_text.stored_in_record(meta):
        return document
    if len(own) != int(meta["chunks"]):
        return None
    return article_text.assemble(meta, [(c.start, c.text) for c in own])


def _text_in_record(item: ArticleVersion) -> tuple[str | None, dict[str, Any]]:
    """(document, metadata fields) of an article's record: no document, only what its chunks
    miss (article_text.py), unless the chunks do not give the text back exactly (a chunker
    that changed the text it cut), when the record keeps the whole text as before."""
    text, chunks = item.article.text, item.chunks
    fields = article_text.record_fields(text, [(c.start, c.end) for c in chunks])
    if article_text.assemble(fields, [(c.start, c.text) for c in chunks]) == text:
        return None, fields
    return text, {}


ARTICLE_VECTORS = "article_vectors"
ARTICLE_POINTS = "point"
"""Articles-collection metadata: its records carry a 2-d point (_article_point)."""


def _article_point(article_id: str) -> list[float]:
    """The vector of an article's record: the articles collection is a catalogue, looked up by
    id and metadata and never searched by vector, but Chroma wants a vector for every record.
    A point on the unit circle (spread by a hash of the id, so Chroma's HNSW graph is built
    over distinct points) costs 8 bytes where the 384-d centroid cost 1.5 KB: 47 MB of a
    100k-chunk index (30k articles)."""
    digest = int.from_bytes(hashlib.blake2b(article_id.encode(), digest_size=8).digest(), "big")
    angle = 2 * math.pi * digest / 2**64
    return [math.cos(angle), math.sin(angle)]


def _centroid(vectors: np.ndarray) -> np.ndarray:
    centroid = np.asarray(vectors).mean(axis=0)
    return centroid / (np.linalg.norm(centroid) or 1.0)


def _display_metadata(article: Article) -> dict[str, Any]:
    meta: dict[str, Any] = {"title": article.title, "source": article.source}
    if article.metadata.get("outlet"):  # (Chroma stores and indexes an empty string too)
        meta["outlet"] = article.metadata["outlet"]
    if article.published:
        meta["published"] = article.published.isoformat()
        meta["published_day"] = day_number(article.published)
    return meta


TEXT_KEY = "text"
METADATA_TEXT_BYTES = 4096
"""A chunk's text is kept in its metadata (TEXT_KEY), not as the record's document: Chroma
builds a trigram full-text index over every document, which askdocs never searches (its
keyword side is BM25), and which took 322 MB of the recipe's 765 MB index at 100k chunks
(sqlite's dbstat). Chroma Cloud takes metadata values of up to 4,096 bytes; a longer chunk
keeps its text as the document, as do chunks written by earlier versions."""


def _text_fits_metadata(text: str) -> bool:
    return len(text.encode("utf-8")) <= METADATA_TEXT_BYTES


def chunk_texts(found: dict[str, Any]) -> list[str]:
    """The texts of chunk records read with their documents and metadatas: the document, or
    else the metadata copy (see METADATA_TEXT_BYTES)."""
    return [
        document if document is not None else str((meta or {}).get(TEXT_KEY, ""))
        for document, meta in zip(found["documents"], found["metadatas"], strict=True)
    ]


def _span(meta: dict[str, Any], text: str) -> tuple[int, int]:
    """A chunk's offsets in its article. Chunks written before this version also stored the
    end, which is always start + the text's length (a stored number costs about 60 bytes a
    chunk in Chroma's tables and indexes)."""
    start = int(meta["start"])
    return start, int(meta.get("end", start + len(text)))


def _chunk(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    start, end = _span(meta, text)
    return Chunk(
        id=chunk_id,
        article_id=str(meta["article_id"]),
        index=int(meta["index"]),
        text=text,
        start=start,
        end=end,
    )


def _passage(chunk: Chunk, score: float, meta: dict[str, Any]) -> Passage:
    published = meta.get("published")
    return Passage(
        chunk=chunk,
        score=score,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        published=date.fromisoformat(published) if published else None,
        metadata={"outlet": str(meta["outlet"])} if meta.get("outlet") else {},
    )


def _article_from_record(article_id: str, meta: dict[str, Any], text: str) -> Article:
    published = meta.get("published")
    return Article(
        id=article_id,
        title=str(meta["title"]),
        text=text,
        source=str(meta["source"]),
        published=date.fromisoformat(published) if published else None,
        metadata=json.loads(str(meta.get("metadata_json", "{}"))),
    )


def check_index(store: ChromaStore) -> list[str]:
    """Every way the index disagrees with itself, as sentences; empty when it is consistent."""
    problems = []
    # Each collection read once: the articles' texts are assembled from the chunks read here.
    found = _get_all(store.articles, ["metadatas", "documents"])
    records = _records(found)
    chunks = _get_all(store.chunks, ["metadatas", "documents"])
    ids, chunk_text = chunks["ids"], chunk_texts(chunks)
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} duplicate chunk id(s)")
    own: dict[str, list[Chunk]] = {}
    for chunk_id, meta, text in zip(ids, chunks["metadatas"], chunk_text, strict=True):
        own.setdefault(str(meta["article_id"]), []).append(_chunk(chunk_id, text, meta))
    texts = {
        article_id: text
        for article_id, meta, document in zip(
            found["ids"], found["metadatas"], found["documents"], strict=True
        )
        if (text := _text_of(meta, document, own.get(article_id, []))) is not None
    }
    per_article: dict[str, int] = {}
    for chunk_id, meta, text in zip(ids, chunks["metadatas"], chunk_text, strict=True):
        article_id = str(meta["article_id"])
        per_article[article_id] = per_article.get(article_id, 0) + 1
        whole = texts.get(article_id)  # None also when it cannot be read back (reported below)
        if article_id not in records:
            problems.append(f"chunk {chunk_id} belongs to no indexed article (interrupted ingest)")
        elif whole is not None and whole[slice(*_span(meta, text))] != text:
            problems.append(f"chunk {chunk_id} does not match its article at its offsets")
    keyword_ids = store.keywords.chunk_ids()
    missing = set(ids) - set(keyword_ids)
    stale = set(keyword_ids) - set(ids)
    if missing:
        problems.append(f"{len(missing)} chunk(s) missing from the keyword index")
    if stale:
        problems.append(f"{len(stale)} keyword index entr(ies) for chunks that do not exist")
    problems += _sentence_vector_problems(store, ids, chunks["metadatas"], chunk_text, texts)
    for record in records.values():
        if record.id not in texts:
            problems.append(f"article {record.id} ({record.source}): its text cannot be read back")
        found = per_article.get(record.id, 0)
        if found != record.chunks:
            problems.append(
                f"article {record.id} ({record.source}) should have {record.chunks} chunks, "
                f"has {found}"
            )
    return problems


def _sentence_vector_problems(
    store: ChromaStore,
    ids: list[str],
    metadatas: list[dict],
    documents: list[str],
    texts: dict[str, str],
) -> list[str]:
    """Sentence vectors that belong to no chunk, or whose count is not the number of sentences
    in their chunk (answering would then embed that chunk afresh; a chunk stored without them
    is allowed: it only costs speed)."""
    from askdocs.chunking import candidate_sentences

    stored = store.stored_sentence_counts()
    problems = []
    stale = set(stored) - set(ids)
    if stale:
        problems.append(f"sentence vectors for {len(stale)} chunk(s) that do not exist")
    mismatched = 0
    for chunk_id, meta, document in zip(ids, metadatas, documents, strict=True):
        text = texts.get(str(meta["article_id"]))
        if chunk_id not in stored or text is None:
            continue
        spans = candidate_sentences(text, *_span(meta, document))
        mismatched += stored[chunk_id] != len(spans)
    if mismatched:
        problems.append(
            f"{mismatched} chunk(s) whose stored sentence vectors do not match their sentences"
        )
    return problems
