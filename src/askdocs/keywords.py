"""The keyword index: BM25 (bm25s) over the chunks, kept next to the Chroma index.

Two layers, so that writes stay incremental and reads stay fast:

* ``terms.sqlite3`` holds every chunk's analysed terms and filter fields. It changes in one
  transaction per batch of articles, together with the Chroma writes, and is the truth.
* ``bm25/`` is a bm25s snapshot of those rows, stamped with the write generation it was built
  from. It is rebuilt after an ingest (or on first search when stale) from the stored terms,
  without re-reading or re-tokenising any article, and memory-mapped on load.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from askdocs.types import Article, Chunk, Filters

TOKEN = re.compile(r"[£$€]?\d[\d,.]*%?|[A-Za-z][A-Za-z'’\-]*")
NUMBER = re.compile(r"\d")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not of off on once only or other our out over own same she should so
    some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your
    according said say says told also it's whose much many""".split()
)


def content_terms(text: str) -> list[str]:
    """Lower-cased, lightly stemmed words that carry meaning (no stop words).

    >>> content_terms("Who did Rubio accuse of hosting militias?")
    ['rubio', 'accuse', 'host', 'militia']
    """
    terms = []
    for token in TOKEN.findall(text):
        word = token.lower().strip(".,'’-")
        if word and word not in STOPWORDS:
            terms.append(stem(word))
    return terms


def stem(word: str) -> str:
    """A light suffix stripper: enough for plurals and tenses to meet, never a dictionary."""
    if NUMBER.search(word):
        return word.replace(",", "")
    for suffix in ("'s", "’s", "ies", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float


class KeywordIndex:
    """BM25 search over chunk terms, with the same filters as the dense index.

    >>> keywords = KeywordIndex(Path("index/keywords"))  # doctest: +SKIP
    >>> keywords.search("Rubio Hezbollah", k=3)[0].chunk_id  # doctest: +SKIP
    '3f1c…:0002'
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.folder / "terms.sqlite3", check_same_thread=False)
        self._db.executescript(
            """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS chunks (
                chunk_id TEXT PRIMARY KEY, article_id TEXT NOT NULL, source TEXT NOT NULL,
                outlet TEXT NOT NULL, published_day INTEGER, terms TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )
        self._lock = threading.RLock()
        self._snapshot: _Snapshot | None = None

    # ------------------------------------------------------------------ writes

    def replace(self, article_ids: Sequence[str], rows: Iterable[tuple[Chunk, Article]]) -> None:
        """Drop the chunks of these articles and add the given ones, in one transaction."""
        records = [
            (
                chunk.id,
                chunk.article_id,
                article.source,
                str(article.metadata.get("outlet", "")),
                day_number(article.published) if article.published else None,
                " ".join(content_terms(chunk.text)),
            )
            for chunk, article in rows
        ]
        with self._lock, self._db:
            self._delete(article_ids)
            self._db.executemany("INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?)", records)
            self._bump()

    def delete(self, article_ids: Sequence[str]) -> None:
        with self._lock, self._db:
            self._delete(article_ids)
            self._bump()

    def _delete(self, article_ids: Sequence[str]) -> None:
        self._db.executemany("DELETE FROM chunks WHERE article_id = ?", [(a,) for a in article_ids])

    def _bump(self) -> None:
        self._db.execute(
            "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE "
            "SET value = CAST(value AS INTEGER) + 1"
        )

    def add_texts(self, rows: Iterable[tuple[str, str, str, str, int | None, str]]) -> None:
        """Add (chunk id, article id, source, outlet, day, text) rows: backfills an old index."""
        records = [(*row[:5], " ".join(content_terms(row[5]))) for row in rows]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?)", records)
            self._bump()

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        with self._lock, self._db:
            self._db.executemany("DELETE FROM chunks WHERE chunk_id = ?", [(c,) for c in chunk_ids])
            self._bump()

    # ------------------------------------------------------------------- reads

    def generation(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def chunk_ids(self) -> dict[str, str]:
        """Every chunk id with its article id."""
        with self._lock:
            return dict(self._db.execute("SELECT chunk_id, article_id FROM chunks"))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def knows_any(self, terms: Iterable[str]) -> bool:
        """Whether any of these terms occurs in any chunk (false for nonsense questions)."""
        vocabulary = self.snapshot().vocabulary
        return any(term in vocabulary for term in terms)

    def inverse_document_frequency(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse document frequency of each term (rare words weigh more)."""
        snapshot = self.snapshot()
        return {term: snapshot.idf(term) for term in terms}

    def search(
        self,
        query: str,
        k: int,
        filters: Filters | None = None,
        also_score: Sequence[str] = (),
    ) -> list[KeywordHit]:
        """The k chunks with the highest BM25 score for the query's terms (score > 0 only),
        followed by the scores of the `also_score` chunks not among them (0 if no term)."""
        snapshot = self.snapshot()
        ids = [snapshot.vocabulary[t] for t in content_terms(query) if t in snapshot.vocabulary]
        if not ids or k <= 0 or not snapshot.chunk_ids:
            return [KeywordHit(c, 0.0) for c in also_score]
        mask = self._mask(snapshot, filters) if filters else None
        scores = snapshot.bm25.get_scores_from_ids(ids, weight_mask=mask)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        hits = [KeywordHit(snapshot.chunk_ids[i], float(scores[i])) for i in top if scores[i] > 0]
        seen = {hit.chunk_id for hit in hits}
        for chunk_id in also_score:
            if chunk_id not in seen:
                position = snapshot.positions.get(chunk_id)
                hits.append(
                    KeywordHit(chunk_id, float(scores[position]) if position is not None else 0.0)
                )
        return hits

    def _mask(self, snapshot: _Snapshot, filters: Filters) -> np.ndarray:
        clauses, params = _sql_filters(filters)
        with self._lock:  # one sqlite connection serves every thread
            allowed = self._db.execute(
                f"SELECT chunk_id FROM chunks WHERE {clauses}", params
            ).fetchall()
        mask = np.zeros(len(snapshot.chunk_ids), dtype=np.float32)
        for (chunk_id,) in allowed:
            position = snapshot.positions.get(chunk_id)
            if position is not None:
                mask[position] = 1.0
        return mask

    # ---------------------------------------------------------------- snapshot

    def snapshot(self) -> _Snapshot:
        """The BM25 matrix for the current rows: cached, loaded from disk, or rebuilt."""
        with self._lock:
            generation = self.generation()
            if self._snapshot is None or self._snapshot.generation != generation:
                self._snapshot = _Snapshot.load(self.folder / "bm25", generation)
            if self._snapshot is None:
                self._snapshot = self._build(generation)
            return self._snapshot

    def rebuild(self) -> None:
        """Bring the on-disk snapshot up to date now (called at the end of an ingest)."""
        self.snapshot()

    def _build(self, generation: int) -> _Snapshot:
        import bm25s

        chunk_ids: list[str] = []
        documents: list[list[int]] = []
        vocabulary: dict[str, int] = {}
        for chunk_id, terms in self._db.execute(
            "SELECT chunk_id, terms FROM chunks ORDER BY rowid"
        ):
            chunk_ids.append(chunk_id)
            documents.append([vocabulary.setdefault(t, len(vocabulary)) for t in terms.split()])
        vocabulary.setdefault("", len(vocabulary))  # bm25s needs one token for empty chunks
        bm25 = bm25s.BM25()
        if chunk_ids:
            bm25.index((documents, vocabulary), show_progress=False)
        snapshot = _Snapshot(generation, bm25, chunk_ids, vocabulary)
        snapshot.save(self.folder / "bm25")
        return snapshot

    def close(self) -> None:
        self._db.close()


class _Snapshot:
    def __init__(
        self,
        generation: int,
        bm25: object,
        chunk_ids: list[str],
        vocabulary: dict[str, int],
    ) -> None:
        self.generation = generation
        self.bm25 = bm25
        self.chunk_ids = chunk_ids
        self.positions = {chunk_id: i for i, chunk_id in enumerate(chunk_ids)}
        self.vocabulary = vocabulary
        # The score matrix is stored column by column, one column per term, holding an entry
        # for each chunk that has the term: column lengths are the document frequencies.
        indptr = bm25.scores["indptr"] if chunk_ids else np.zeros(1)  # type: ignore[attr-defined]
        self.document_frequency = np.diff(np.asarray(indptr))

    def idf(self, term: str) -> float:
        n = len(self.chunk_ids)
        position = self.vocabulary.get(term)
        df = int(self.document_frequency[position]) if position is not None else 0
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def save(self, folder: Path) -> None:
        # Written to a fresh folder and swapped in, so a crash never leaves half a snapshot.
        staging = folder.with_name(folder.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        if self.chunk_ids:
            self.bm25.save(str(staging), show_progress=False)  # type: ignore[attr-defined]
        (staging / "chunk_ids.json").write_text(json.dumps(self.chunk_ids))
        (staging / "vocabulary.json").write_text(json.dumps(self.vocabulary))
        (staging / "generation").write_text(str(self.generation))
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, generation: int) -> _Snapshot | None:
        import bm25s

        try:
            if int((folder / "generation").read_text()) != generation:
                return None
            chunk_ids = json.loads((folder / "chunk_ids.json").read_text())
            vocabulary = json.loads((folder / "vocabulary.json").read_text())
            bm25 = (
                bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
                if chunk_ids
                else bm25s.BM25()
            )
        except (OSError, ValueError):
            return None  # missing or damaged: rebuilt from the rows
        return cls(generation, bm25, chunk_ids, vocabulary)


def day_number(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _sql_filters(filters: Filters) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if filters.sources:
        marks = ",".join("?" * len(filters.sources))
        clauses.append(f"(source IN ({marks}) OR outlet IN ({marks}))")
        params += [*filters.sources, *filters.sources]
    if filters.articles:
        clauses.append(f"article_id IN ({','.join('?' * len(filters.articles))})")
        params += list(filters.articles)
    if filters.date_from:
        clauses.append("published_day >= ?")
        params.append(day_number(filters.date_from))
    if filters.date_to:
        clauses.append("published_day <= ?")
        params.append(day_number(filters.date_to))
    return " AND ".join(clauses) or "1", params
