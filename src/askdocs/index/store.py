"""The only module that talks to Chroma: articles and their chunks, persistent or on a server."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from askdocs.config import Settings
from askdocs.index.filters import chroma_where, day_number
from askdocs.index.keywords import KeywordIndex
from askdocs.index.lock import StoreError
from askdocs.types import Article, Chunk, Filters, Passage

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


class SentenceVectorTable:
    """Sentence vectors computed at ingest, one float16 matrix per chunk, in sqlite.

    Answering reads them instead of running the model on every retrieved sentence. Missing
    rows (an index built by another version, a server written by another machine) only cost
    speed: those sentences are embedded when asked about.
    """

    def __init__(self, path: Path) -> None:
        import sqlite3

        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(
            """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS sentences (
                chunk_id TEXT PRIMARY KEY, article_id TEXT NOT NULL, dimensions INTEGER NOT NULL,
                vectors BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS sentences_by_article ON sentences(article_id);
            """
        )
        self._lock = threading.Lock()

    def replace(self, article_ids: Sequence[str], rows: Iterable[tuple[Chunk, np.ndarray]]) -> None:
        records = [
            (chunk.id, chunk.article_id, int(m.shape[1]), m.astype(np.float16).tobytes())
            for chunk, m in rows
            if m.ndim == 2 and m.shape[0]
        ]
        with self._lock, self._db:
            self._db.executemany(
                "DELETE FROM sentences WHERE article_id = ?", [(a,) for a in article_ids]
            )
            self._db.executemany("INSERT OR REPLACE INTO sentences VALUES (?,?,?,?)", records)

    def delete(self, article_ids: Sequence[str]) -> None:
        self.replace(article_ids, [])

    def row_counts(self) -> dict[str, int]:
        """How many sentence vectors each stored chunk has (read without the vectors)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT chunk_id, length(vectors) / (2 * dimensions) FROM sentences"
            ).fetchall()
        return {chunk_id: int(count) for chunk_id, count in rows}

    def get(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT chunk_id, dimensions, vectors FROM sentences WHERE chunk_id IN ({marks})",
                list(chunk_ids),
            ).fetchall()
        return {
            chunk_id: np.frombuffer(blob, dtype=np.float16).reshape(-1, dims).astype(np.float32)
            for chunk_id, dims, blob in rows
        }

    def close(self) -> None:
        self._db.close()


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
            _sentences(settings),
            where=settings.chroma_url,
        )
    index_dir = Path(settings.index_dir)
    if not create and not (index_dir / "chroma.sqlite3").is_file():
        raise StoreError(f"no index at {index_dir}/ - run `askdocs ingest PATH` first")
    index_dir.mkdir(parents=True, exist_ok=True)
    return ChromaStore(
        chromadb.PersistentClient(path=str(index_dir), settings=chroma_settings),
        settings.collection,
        _keywords(settings),
        _sentences(settings),
        where=str(index_dir),
    )


def _side_folder(settings: Settings) -> Path:
    """Where the keyword index and the sentence vectors of a collection live."""
    return Path(settings.index_dir) / "keywords" / settings.collection


def _keywords(settings: Settings) -> KeywordIndex:
    return KeywordIndex(_side_folder(settings))


def _sentences(settings: Settings) -> SentenceVectorTable:
    return SentenceVectorTable(_side_folder(settings) / "sentences.sqlite3")


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
    """Two collections: chunks (searched) and articles (full text, version, the commit marker),
    plus the keyword index over the same chunks.

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
        sentences: SentenceVectorTable,
        where: str = "",
    ) -> None:
        self.client = client
        self.keywords = keywords
        self.sentences = sentences
        self.remote = where.startswith(("http://", "https://"))
        self.where = where
        # embedding_function=None: we always pass our own vectors, and Chroma's default
        # embedding function would try to download a model.
        space = {"hnsw": {"space": "cosine"}}
        self.chunks = client.get_or_create_collection(
            f"{prefix}_chunks", embedding_function=None, configuration=space
        )
        self.articles = client.get_or_create_collection(
            f"{prefix}_articles", embedding_function=None, configuration=space
        )
        self._batch = max(1, client.get_max_batch_size())

    @_reachable
    def indexed_articles(self) -> dict[str, IndexedArticle]:
        records = _get_all(self.articles, ["metadatas"])
        return {
            article_id: IndexedArticle(
                id=article_id,
                title=str(meta["title"]),
                source=str(meta["source"]),
                version=str(meta["version"]),
                chunks=int(meta["chunks"]),
                outlet=str(meta.get("outlet", "")),
            )
            for article_id, meta in zip(records["ids"], records["metadatas"], strict=True)
        }

    @_reachable
    def get_articles(self, ids: Iterable[str]) -> dict[str, Article]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        records = self.articles.get(ids=ids, include=["metadatas", "documents"])
        return {
            article_id: _article_from_record(article_id, meta, text)
            for article_id, meta, text in zip(
                records["ids"], records["metadatas"], records["documents"], strict=True
            )
        }

    @_reachable
    def replace_articles(self, items: Sequence[ArticleVersion]) -> None:
        """Swap in new versions of articles in a few batched writes; crash-safe as above."""
        if not items:
            return
        ids = [item.article.id for item in items]
        self.articles.delete(ids=ids)
        self.chunks.delete(where={"article_id": {"$in": ids}})
        self.keywords.delete(ids)
        self.sentences.delete(ids)
        rows = [
            (chunk, vector, _display_metadata(item.article))
            for item in items
            for chunk, vector in zip(item.chunks, item.vectors, strict=True)
        ]
        for i in range(0, len(rows), self._batch):
            batch = rows[i : i + self._batch]
            self.chunks.upsert(
                ids=[chunk.id for chunk, _, _ in batch],
                embeddings=np.asarray([vector for _, vector, _ in batch]),
                documents=[chunk.text for chunk, _, _ in batch],
                metadatas=[
                    {
                        **base,
                        "article_id": chunk.article_id,
                        "index": chunk.index,
                        "start": chunk.start,
                        "end": chunk.end,
                    }
                    for chunk, _, base in batch
                ],
            )
        self.keywords.replace(
            ids, [(chunk, item.article) for item in items for chunk in item.chunks]
        )
        self.sentences.replace(
            ids,
            [
                (chunk, matrix)
                for item in items
                if item.sentence_vectors is not None
                for chunk, matrix in zip(item.chunks, item.sentence_vectors, strict=True)
            ],
        )
        for i in range(0, len(items), self._batch):
            batch_items = items[i : i + self._batch]
            self.articles.upsert(
                ids=[item.article.id for item in batch_items],
                embeddings=np.asarray([_centroid(item.vectors) for item in batch_items]),
                documents=[item.article.text for item in batch_items],
                metadatas=[
                    {
                        **_display_metadata(item.article),
                        "version": item.version,
                        "chunks": len(item.chunks),
                        "metadata_json": json.dumps(item.article.metadata, sort_keys=True),
                    }
                    for item in batch_items
                ],
            )

    @_reachable
    def delete_article(self, article_id: str) -> None:
        self.articles.delete(ids=[article_id])
        self.chunks.delete(where={"article_id": article_id})
        self.keywords.delete([article_id])
        self.sentences.delete([article_id])

    @_reachable
    def drop_orphans(self, records: dict[str, IndexedArticle]) -> int:
        """Delete chunks left by an interrupted ingest (their article has no record)."""
        if sum(r.chunks for r in records.values()) == self.chunks.count():
            return 0
        metas = _get_all(self.chunks, ["metadatas"])["metadatas"]
        orphans = sorted({str(m["article_id"]) for m in metas} - set(records))
        for i in range(0, len(orphans), self._batch):
            batch = orphans[i : i + self._batch]
            self.chunks.delete(where={"article_id": {"$in": batch}})
            self.keywords.delete(batch)
            self.sentences.delete(batch)
        return len(orphans)

    @_reachable
    def sync_keywords(self) -> int:
        """Make the keyword index hold exactly the dense index's chunks; returns rows changed.

        Needed for indexes built before the keyword index existed, for a Chroma server that
        another machine wrote to, and after a crash between the two writes.
        """
        if self.keywords.count() == self.chunks.count():
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
            self.keywords.add_texts(
                (
                    chunk_id,
                    str(meta["article_id"]),
                    str(meta.get("source", "")),
                    str(meta.get("outlet", "")),
                    meta.get("published_day"),
                    text,
                )
                for chunk_id, text, meta in zip(
                    found["ids"], found["documents"], found["metadatas"], strict=True
                )
            )
        return len(stale) + len(missing)

    @_reachable
    def get_chunks(self, ids: Sequence[str]) -> list[tuple[Passage, np.ndarray]]:
        """Chunks by id (unknown ids left out), with their vectors, scored 0 until compared."""
        if not ids:
            return []
        found = self.chunks.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        by_id = {
            chunk_id: (_passage(_chunk(chunk_id, text, meta), 0.0, meta), np.asarray(vector))
            for chunk_id, text, meta, vector in zip(
                found["ids"],
                found["documents"],
                found["metadatas"],
                found["embeddings"],
                strict=True,
            )
        }
        return [by_id[i] for i in ids if i in by_id]

    @_reachable
    def article_chunks(self, article_ids: Sequence[str]) -> list[Chunk]:
        """Every stored chunk of these articles, in article and text order."""
        if not article_ids:
            return []
        found = self.chunks.get(
            where={"article_id": {"$in": list(article_ids)}}, include=["documents", "metadatas"]
        )
        chunks = [
            _chunk(chunk_id, text, meta)
            for chunk_id, text, meta in zip(
                found["ids"], found["documents"], found["metadatas"], strict=True
            )
        ]
        return sorted(chunks, key=lambda c: (c.article_id, c.start, c.end))

    @_reachable
    def search(
        self, vector: Sequence[float], k: int, filters: Filters | None = None
    ) -> list[tuple[Passage, np.ndarray]]:
        """The k nearest chunks with cosine similarity scores and their vectors (for MMR)."""
        # No count() first: Chroma answers an empty collection with no rows, and counting
        # costs more than the search itself on a large index (12 ms at 100k chunks).
        if k <= 0:
            return []
        result = self.chunks.query(
            query_embeddings=[list(vector)],
            n_results=k,
            where=chroma_where(filters),
            include=["documents", "metadatas", "distances", "embeddings"],
        )
        hits = []
        for chunk_id, text, meta, distance, embedding in zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            result["embeddings"][0],
            strict=True,
        ):
            chunk = _chunk(chunk_id, text, meta)
            hits.append((_passage(chunk, 1.0 - float(distance), meta), np.asarray(embedding)))
        return hits

    @_reachable
    def counts(self) -> dict[str, int]:
        return {"articles": self.articles.count(), "chunks": self.chunks.count()}


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


def _centroid(vectors: np.ndarray) -> np.ndarray:
    centroid = np.asarray(vectors).mean(axis=0)
    return centroid / (np.linalg.norm(centroid) or 1.0)


def _display_metadata(article: Article) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "title": article.title,
        "source": article.source,
        "outlet": article.metadata.get("outlet", ""),
    }
    if article.published:
        meta["published"] = article.published.isoformat()
        meta["published_day"] = day_number(article.published)
    return meta


def _chunk(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=chunk_id,
        article_id=str(meta["article_id"]),
        index=int(meta["index"]),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
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
    records = store.indexed_articles()
    chunks = _get_all(store.chunks, ["metadatas", "documents"])
    ids = chunks["ids"]
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} duplicate chunk id(s)")
    per_article: dict[str, int] = {}
    texts = {a.id: a.text for a in store.get_articles(list(records)).values()} if records else {}
    for chunk_id, meta, text in zip(ids, chunks["metadatas"], chunks["documents"], strict=True):
        article_id = str(meta["article_id"])
        per_article[article_id] = per_article.get(article_id, 0) + 1
        article_text = texts.get(article_id)
        if article_text is None:
            problems.append(f"chunk {chunk_id} belongs to no indexed article (interrupted ingest)")
        elif article_text[int(meta["start"]) : int(meta["end"])] != text:
            problems.append(f"chunk {chunk_id} does not match its article at its offsets")
    keyword_ids = store.keywords.chunk_ids()
    missing = set(ids) - set(keyword_ids)
    stale = set(keyword_ids) - set(ids)
    if missing:
        problems.append(f"{len(missing)} chunk(s) missing from the keyword index")
    if stale:
        problems.append(f"{len(stale)} keyword index entr(ies) for chunks that do not exist")
    problems += _sentence_vector_problems(store, ids, chunks["metadatas"], texts)
    for record in records.values():
        found = per_article.get(record.id, 0)
        if found != record.chunks:
            problems.append(
                f"article {record.id} ({record.source}) should have {record.chunks} chunks, "
                f"has {found}"
            )
    return problems


def _sentence_vector_problems(
    store: ChromaStore, ids: list[str], metadatas: list[dict], texts: dict[str, str]
) -> list[str]:
    """Stored sentence vectors that belong to no chunk, or whose count is not the number of
    sentences in their chunk (answering would then embed that chunk afresh; a missing row is
    allowed: it only costs speed)."""
    from askdocs.chunking import candidate_sentences

    counts = store.sentences.row_counts()
    problems = []
    stale = set(counts) - set(ids)
    if stale:
        problems.append(f"{len(stale)} sentence-vector row(s) for chunks that do not exist")
    mismatched = 0
    for chunk_id, meta in zip(ids, metadatas, strict=True):
        text = texts.get(str(meta["article_id"]))
        if chunk_id not in counts or text is None:
            continue
        spans = candidate_sentences(text, int(meta["start"]), int(meta["end"]))
        mismatched += counts[chunk_id] != len(spans)
    if mismatched:
        problems.append(
            f"{mismatched} chunk(s) whose stored sentence vectors do not match their sentences"
        )
    return problems
