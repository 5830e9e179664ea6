"""The keyword index: BM25 (bm25s) over the chunks, kept next to the Chroma index.

Two layers, so that writes stay incremental and reads stay fast:

* ``terms.sqlite3`` holds every chunk's analysed terms (as ids into a vocabulary table, two
  bytes a term while the vocabulary has fewer than 65,536 words) and each article's filter
  fields. It changes in one transaction per batch of articles, together with the Chroma writes,
  and is a cache of Chroma's chunks (index/local.py fills it on a new machine).
* ``bm25/`` is a bm25s snapshot of those rows, stamped with the write generation it was built
  from, and memory-mapped on load. Chunks written or removed since are scored beside it from
  their stored terms, with the term statistics of the whole current collection; once they pass
  REBUILD_FRACTION of the snapshot, the end of an ingest builds a new snapshot from the stored
  terms (no article is re-read or re-tokenised).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from askdocs.index.filters import day_number, sql_filters
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


REBUILD_FRACTION = 0.1
"""Share of the snapshot's chunks that may change before an ingest rebuilds it."""


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


@lru_cache(maxsize=200_000)  # the same few thousand words are stemmed for every question
def stem(word: str) -> str:
    """A light suffix stripper: enough for plurals and tenses to meet, never a dictionary."""
    if NUMBER.search(word):
        return word.replace(",", "")
    for suffix in ("'s", "’s", "ies", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


TERM_WIDTHS = (np.dtype("<u2"), np.dtype("<u4"))
"""A chunk's term ids take two bytes each while every id fits: the test corpus's 2,227
articles use 27,677 distinct terms; a collection with more names can pass 65,535, and then a
row holding a later word takes four. The first byte of a stored row says which."""


def encode_terms(ids: Sequence[int]) -> bytes:
    """A chunk's term ids (in text order) as stored: a width byte, then the ids."""
    width = TERM_WIDTHS[0] if not ids or max(ids) <= np.iinfo(np.uint16).max else TERM_WIDTHS[1]
    return bytes([width.itemsize]) + np.asarray(ids, dtype=width).tobytes()


def decode_terms(blob: bytes) -> np.ndarray:
    """The term ids stored by encode_terms."""
    width = next(w for w in TERM_WIDTHS if w.itemsize == blob[0])
    return np.frombuffer(blob, dtype=width, offset=1)


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
            CREATE TABLE IF NOT EXISTS chunk_terms (
                chunk_id TEXT PRIMARY KEY, article_id TEXT NOT NULL, terms BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS chunk_terms_by_article ON chunk_terms(article_id);
            CREATE TABLE IF NOT EXISTS article_fields (
                article_id TEXT PRIMARY KEY, source TEXT NOT NULL, outlet TEXT NOT NULL,
                published_day INTEGER) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS vocabulary (id INTEGER PRIMARY KEY, term TEXT UNIQUE);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )
        self._lock = threading.RLock()
        self._base: _Snapshot | None = None
        self._view: _View | None = None
        self._convert_text_rows()

    def _convert_text_rows(self) -> None:
        """Once per file written before term ids (a `chunks` table of space-joined terms):
        move its rows over in their order (the snapshot's chunk positions), without
        re-analysing any text (0.7 s for the test corpus's 7,311 chunks), and drop the old
        table. Another process opening the same file at the same time waits for the write
        lock and then finds nothing to do."""

        def old_table() -> bool:
            found = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chunks'"
            ).fetchone()
            return found is not None

        if not old_table():
            return
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if not old_table():
                return
            rows = self._db.execute(
                "SELECT chunk_id, article_id, source, outlet, published_day, terms FROM chunks "
                "ORDER BY rowid"
            ).fetchall()
            self._insert([(*row[:5], row[5].split()) for row in rows])
            self._db.execute("DROP TABLE chunks")
        # Give the old table's pages back (the test corpus's file: 5.3 -> 3.1 MB). Another
        # connection in the middle of a read makes this fail; later writes reuse the pages.
        with self._lock, contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("VACUUM")

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
                content_terms(chunk.text),
            )
            for chunk, article in rows
        ]
        with self._lock, self._db:
            self._delete(article_ids)
            self._insert(records)
            self._bump()

    def delete(self, article_ids: Sequence[str]) -> None:
        with self._lock, self._db:
            self._delete(article_ids)
            self._bump()

    def _delete(self, article_ids: Sequence[str]) -> None:
        pairs = [(a,) for a in article_ids]
        self._db.executemany("DELETE FROM chunk_terms WHERE article_id = ?", pairs)
        self._db.executemany("DELETE FROM article_fields WHERE article_id = ?", pairs)

    def _insert(self, records: Sequence[tuple[str, str, str, str, int | None, list[str]]]) -> None:
        """Store (chunk id, article id, source, outlet, day, terms) rows: the terms as ids
        (new words join the vocabulary), the filter fields once per article."""
        ids = self._term_ids({term for *_, terms in records for term in terms})
        self._db.executemany(
            "INSERT OR REPLACE INTO article_fields VALUES (?,?,?,?)",
            list({row[1]: row[1:5] for row in records}.values()),
        )
        self._db.executemany(
            "INSERT OR REPLACE INTO chunk_terms VALUES (?,?,?)",
            [
                (chunk_id, article_id, encode_terms([ids[t] for t in terms]))
                for chunk_id, article_id, *_, terms in records
            ],
        )

    def _term_ids(self, terms: set[str]) -> dict[str, int]:
        """Each term's vocabulary id (0-based, in the order words were first stored)."""
        ordered = sorted(terms)  # (sorted: the same rows give the same ids in any process)
        self._db.executemany(
            "INSERT OR IGNORE INTO vocabulary (term) VALUES (?)", [(t,) for t in ordered]
        )
        rows = self._select_in("SELECT id, term FROM vocabulary WHERE term", ordered)
        return {term: int(row_id) - 1 for row_id, term in rows}

    def _terms_of(self, blobs: dict[str, bytes]) -> dict[str, list[str]]:
        """Stored term ids back to words, for the given chunks' rows."""
        decoded = {chunk_id: decode_terms(blob) for chunk_id, blob in blobs.items()}
        wanted = sorted({int(i) for ids in decoded.values() for i in ids})
        rows = self._select_in("SELECT id, term FROM vocabulary WHERE id", [i + 1 for i in wanted])
        words = {int(row_id) - 1: term for row_id, term in rows}
        return {chunk_id: [words[int(i)] for i in ids] for chunk_id, ids in decoded.items()}

    def _select_in(self, query: str, values: Sequence[object]) -> list[tuple]:
        """The rows of `query` + " IN (values)", asked 500 values at a time (sqlite's limit
        on bound parameters)."""
        rows: list[tuple] = []
        for start in range(0, len(values), 500):
            batch = list(values[start : start + 500])
            rows += self._db.execute(f"{query} IN ({','.join('?' * len(batch))})", batch)
        return rows

    def _bump(self) -> None:
        self._db.execute(
            "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE "
            "SET value = CAST(value AS INTEGER) + 1"
        )

    def add_texts(self, rows: Iterable[tuple[str, str, str, str, int | None, str]]) -> None:
        """Add (chunk id, article id, source, outlet, day, text) rows: backfills an old index."""
        records = [(*row[:5], content_terms(row[5])) for row in rows]
        with self._lock, self._db:
            self._insert(records)
            self._bump()

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        with self._lock, self._db:
            articles = {
                a
                for (a,) in self._select_in(
                    "SELECT article_id FROM chunk_terms WHERE chunk_id", chunk_ids
                )
            }
            self._db.executemany(
                "DELETE FROM chunk_terms WHERE chunk_id = ?", [(c,) for c in chunk_ids]
            )
            self._db.executemany(  # an article left with no chunks loses its fields too
                "DELETE FROM article_fields WHERE article_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM chunk_terms WHERE chunk_terms.article_id = ?)",
                [(a, a) for a in articles],
            )
            self._bump()

    # ------------------------------------------------------------------- reads

    def generation(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def synced_generation(self) -> int:
        """The change-log generation of the index these rows reflect (see index/changes.py)."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM meta WHERE key = 'chroma_generation'"
            ).fetchone()
        return int(row[0]) if row else 0

    def set_synced_generation(self, generation: int) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('chroma_generation', ?)", (str(generation),)
            )

    def chunk_ids(self) -> dict[str, str]:
        """Every chunk id with its article id."""
        with self._lock:
            return dict(self._db.execute("SELECT chunk_id, article_id FROM chunk_terms"))

    def chunks_of(self, article_ids: Sequence[str]) -> dict[str, list[str]]:
        """The chunk ids of these articles that this cache holds (by its article index)."""
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        found: dict[str, list[str]] = {}
        with self._lock:
            rows = self._db.execute(
                f"SELECT article_id, chunk_id FROM chunk_terms WHERE article_id IN ({marks})",
                list(article_ids),
            ).fetchall()
        for article_id, chunk_id in rows:
            found.setdefault(article_id, []).append(chunk_id)
        return found

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM chunk_terms").fetchone()[0])

    def knows_any(self, terms: Iterable[str]) -> bool:
        """Whether any of these terms occurs in any chunk (false for nonsense questions)."""
        view = self.snapshot()
        return any(view.document_frequency(term) for term in terms)

    def inverse_document_frequency(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse document frequency of each term (rare words weigh more)."""
        view = self.snapshot()
        return {term: view.idf(term) for term in terms}

    def search(
        self,
        query: str,
        k: int,
        filters: Filters | None = None,
        also_score: Sequence[str] = (),
    ) -> list[KeywordHit]:
        """The k chunks with the highest BM25 score for the query's terms (score > 0 only),
        followed by the scores of the `also_score` chunks not among them (0 if no term)."""
        view = self.snapshot()
        terms = [t for t in content_terms(query) if view.document_frequency(t)]
        if not terms or k <= 0 or not view.size:
            return [KeywordHit(c, 0.0) for c in also_score]
        scores = view.scores(terms)
        if filters:
            scores *= self._mask(view, filters)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        hits = [KeywordHit(view.chunk_id(i), float(scores[i])) for i in top if scores[i] > 0]
        seen = {hit.chunk_id for hit in hits}
        for chunk_id in also_score:
            if chunk_id not in seen:
                position = view.position(chunk_id)
                hits.append(
                    KeywordHit(chunk_id, float(scores[position]) if position is not None else 0.0)
                )
        return hits

    def _mask(self, view: _View, filters: Filters) -> np.ndarray:
        clauses, params = sql_filters(filters)
        with self._lock:  # one sqlite connection serves every thread
            allowed = self._db.execute(
                f"SELECT chunk_id FROM chunk_terms JOIN article_fields USING (article_id) "
                f"WHERE {clauses}",
                params,
            ).fetchall()
        mask = np.zeros(view.size, dtype=np.float32)
        for (chunk_id,) in allowed:
            position = view.position(chunk_id)
            if position is not None:
                mask[position] = 1.0
        return mask

    # ---------------------------------------------------------------- snapshot

    def snapshot(self) -> _View:
        """BM25 over the current rows: the last full snapshot (from memory or disk, memory-
        mapped) plus the chunks written or removed since, scored as one collection."""
        with self._lock:
            generation = self.generation()
            if self._view is not None and self._view.generation == generation:
                return self._view
            folder = self.folder / "bm25"
            saved = _Snapshot.saved_generation(folder)
            if self._base is None or self._base.generation != saved:
                self._base = _Snapshot.load(folder) if saved is not None else None
            if self._base is None:
                self._base = self._build(generation)
            self._view = self._changes_since(self._base, generation)
            return self._view

    def rebuild(self, force: bool = False) -> None:
        """Called at the end of an ingest: keep the snapshot and score what changed since it
        beside it, until the changes pass REBUILD_FRACTION of it; then build a new one."""
        with self._lock:
            view = self.snapshot()
            if force or view.changed > REBUILD_FRACTION * len(view.base.chunk_ids):
                self._base = self._build(view.generation)
                self._view = _View(self._base, view.generation)

    def _changes_since(self, base: _Snapshot, generation: int) -> _View:
        if base.generation == generation:
            return _View(base, generation)
        alive = np.zeros(len(base.chunk_ids), dtype=bool)
        added: list[str] = []
        for (chunk_id,) in self._db.execute("SELECT chunk_id FROM chunk_terms ORDER BY rowid"):
            # A chunk id hashes the chunk's text, so a kept id means kept terms.
            position = base.positions.get(chunk_id)
            if position is None:
                added.append(chunk_id)
            else:
                alive[position] = True
        blobs = dict(
            self._select_in("SELECT chunk_id, terms FROM chunk_terms WHERE chunk_id", added)
        )
        terms = self._terms_of(blobs)
        return _View(base, generation, alive, [(c, terms[c]) for c in added])

    def _build(self, generation: int) -> _Snapshot:
        import bm25s

        chunk_ids: list[str] = []
        documents: list[list[int]] = []
        # The stored ids index the vocabulary as they are (words no chunk holds any more get
        # empty columns, which no score reads).
        vocabulary = {term: row_id - 1 for row_id, term in self._db.execute(
            "SELECT id, term FROM vocabulary ORDER BY id"
        )}  # fmt: skip
        for chunk_id, terms in self._db.execute(
            "SELECT chunk_id, terms FROM chunk_terms ORDER BY rowid"
        ):
            chunk_ids.append(chunk_id)
            documents.append(decode_terms(terms).tolist())
        vocabulary.setdefault("", len(vocabulary))  # bm25s needs one token for empty chunks
        bm25 = bm25s.BM25()
        if chunk_ids:
            bm25.index((documents, vocabulary), show_progress=False)
        average_length = sum(map(len, documents)) / len(documents) if documents else 1.0
        snapshot = _Snapshot(generation, bm25, chunk_ids, vocabulary, average_length)
        snapshot.save(self.folder / "bm25")
        return snapshot

    def close(self) -> None:
        self._db.close()


class _Snapshot:
    """A bm25s index of every chunk at one write generation (BM25 "Lucene" variant)."""

    FORMAT = "2"

    def __init__(
        self,
        generation: int,
        bm25: object,
        chunk_ids: list[str],
        vocabulary: dict[str, int],
        average_length: float,
    ) -> None:
        self.generation = generation
        self.bm25 = bm25
        self.chunk_ids = chunk_ids
        self.positions = {chunk_id: i for i, chunk_id in enumerate(chunk_ids)}
        self.vocabulary = vocabulary
        self.average_length = average_length
        self.k1: float = bm25.k1  # type: ignore[attr-defined]
        self.b: float = bm25.b  # type: ignore[attr-defined]
        # The score matrix is stored column by column, one column per term, holding an entry
        # (idf x term-frequency part) for each chunk that has the term.
        matrix = bm25.scores if chunk_ids else {}  # type: ignore[attr-defined]
        self.data = np.asarray(matrix.get("data", np.zeros(0, np.float32)))
        self.indices = np.asarray(matrix.get("indices", np.zeros(0, np.int32)))
        self.indptr = np.asarray(matrix.get("indptr", np.zeros(1, np.int64)))

    def column(self, term: str) -> tuple[int, int] | None:
        position = self.vocabulary.get(term)
        if position is None or position + 1 >= len(self.indptr):
            return None
        return int(self.indptr[position]), int(self.indptr[position + 1])

    def save(self, folder: Path) -> None:
        # Written to a fresh folder and swapped in, so a crash never leaves half a snapshot;
        # the file lock keeps two processes (an ingest, a chat page's first search) from
        # writing the same staging folder.
        import fcntl

        with open(folder.with_name(folder.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            staging = folder.with_name(folder.name + ".new")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            if self.chunk_ids:
                self.bm25.save(str(staging), show_progress=False)  # type: ignore[attr-defined]
            (staging / "chunk_ids.json").write_text(json.dumps(self.chunk_ids))
            (staging / "vocabulary.json").write_text(json.dumps(self.vocabulary))
            (staging / "stats.json").write_text(
                json.dumps({"format": self.FORMAT, "average_length": self.average_length})
            )
            (staging / "generation").write_text(str(self.generation))
            old = folder.with_name(folder.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if folder.exists():
                folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def saved_generation(folder: Path) -> int | None:
        try:
            return int((folder / "generation").read_text())
        except (OSError, ValueError):
            return None

    @classmethod
    def load(cls, folder: Path) -> _Snapshot | None:
        import bm25s

        try:
            stats = json.loads((folder / "stats.json").read_text())
            if stats.get("format") != cls.FORMAT:
                return None  # written by an older askdocs: rebuilt from the rows
            generation = int((folder / "generation").read_text())
            chunk_ids = json.loads((folder / "chunk_ids.json").read_text())
            vocabulary = json.loads((folder / "vocabulary.json").read_text())
            bm25 = (
                bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
                if chunk_ids
                else bm25s.BM25()
            )
        except (OSError, ValueError, KeyError):
            return None  # missing or damaged: rebuilt from the rows
        return cls(generation, bm25, chunk_ids, vocabulary, float(stats["average_length"]))


class _View:
    """A snapshot plus the chunks added and removed since, scored as one collection.

    Each snapshot entry is idf x tf-part; a query rescales it by the term's idf over the
    current chunks, and scores added chunks with the same formula. So scores equal a fresh
    build's except for length normalisation, which keeps the snapshot's average chunk length
    until the next full build.
    """

    def __init__(
        self,
        base: _Snapshot,
        generation: int,
        alive: np.ndarray | None = None,
        added: Sequence[tuple[str, list[str]]] = (),
    ) -> None:
        self.base = base
        self.generation = generation
        self.alive = alive if alive is not None and not alive.all() else None
        removed = 0 if self.alive is None else int((~self.alive).sum())
        self.added_ids = [chunk_id for chunk_id, _ in added]
        self.added_positions = {c: len(base.chunk_ids) + i for i, c in enumerate(self.added_ids)}
        self.size = len(base.chunk_ids) + len(added)
        self.documents = len(base.chunk_ids) - removed + len(added)
        self.changed = removed + len(added)
        postings: dict[str, tuple[list[int], list[float]]] = {}
        k1, b, average = base.k1, base.b, base.average_length
        for i, (_, terms) in enumerate(added):
            length_part = k1 * (1 - b + b * len(terms) / average)
            for term, frequency in Counter(terms).items():
                positions, parts = postings.setdefault(term, ([], []))
                positions.append(len(base.chunk_ids) + i)
                parts.append(frequency / (length_part + frequency))
        self.postings = {
            term: (np.asarray(positions), np.asarray(parts, dtype=np.float32))
            for term, (positions, parts) in postings.items()
        }
        self._frequencies: dict[str, int] = {}

    def chunk_id(self, position: int) -> str:
        count = len(self.base.chunk_ids)
        if position < count:
            return self.base.chunk_ids[position]
        return self.added_ids[position - count]

    def position(self, chunk_id: str) -> int | None:
        position = self.base.positions.get(chunk_id)
        if position is not None and (self.alive is None or self.alive[position]):
            return position
        return self.added_positions.get(chunk_id)

    def document_frequency(self, term: str) -> int:
        # A view never changes, and a question asks for each of its terms several times
        # (known word? which terms? their idf), which costs a pass over the term's column.
        if term not in self._frequencies:
            added = self.postings.get(term)
            self._frequencies[term] = self._base_frequency(term) + (len(added[0]) if added else 0)
        return self._frequencies[term]

    def _base_frequency(self, term: str) -> int:
        column = self.base.column(term)
        if column is None:
            return 0
        start, end = column
        if self.alive is None:
            return end - start
        return int(self.alive[self.base.indices[start:end]].sum())

    def idf(self, term: str) -> float:
        return _idf(self.document_frequency(term), self.documents)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """Each chunk's BM25 score for the terms (a repeated term counts again, as in bm25s)."""
        scores = np.zeros(self.size, dtype=np.float32)
        base = self.base
        for term in terms:
            idf = self.idf(term)
            column = base.column(term)
            if column is not None:
                start, end = column
                entries = base.data[start:end]
                if self.changed:
                    entries = entries * np.float32(idf / _idf(end - start, len(base.chunk_ids)))
                scores[base.indices[start:end]] += entries
            if term in self.postings:
                positions, parts = self.postings[term]
                scores[positions] += parts * np.float32(idf)
        if self.alive is not None:
            scores[: len(base.chunk_ids)] *= self.alive
        return scores


def _idf(document_frequency: int, documents: int) -> float:
    """BM25's inverse document frequency, Lucene variant (the one bm25s uses)."""
    return float(np.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5)))
