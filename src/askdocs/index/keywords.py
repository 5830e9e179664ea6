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
* ``changed_chunks`` logs the generation at which each chunk id was last written or removed
  since the snapshot, so what changed since it is read from the log, not found by comparing
  every row with it (at a million chunks that comparison was 1.7 s of every one-article
  ingest); a build prunes what it covers.
"""

from __future__ import annotations

import contextlib
import json
import os
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
            PRAGMA auto_vacuum = INCREMENTAL;
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
            CREATE TABLE IF NOT EXISTS changed_chunks (
                chunk_id TEXT PRIMARY KEY, generation INTEGER NOT NULL) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS changed_chunks_by_generation
                ON changed_chunks(generation);
            """
        )
        # The change log is complete from `log_since` on: from the start for a new file, from
        # now for a file written before the log existed (its older snapshots are compared
        # with every row instead, once, until the next build).
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO meta SELECT 'log_since', "
                "COALESCE((SELECT value FROM meta WHERE key = 'generation'), '0')"
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
            self._insert([(*row[:5], row[5].split()) for row in rows], None)
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
            generation = self._bump()
            self._delete(article_ids, generation)
            self._insert(records, generation)

    def delete(self, article_ids: Sequence[str]) -> None:
        with self._lock, self._db:
            self._delete(article_ids, self._bump())

    def _delete(self, article_ids: Sequence[str], generation: int) -> None:
        pairs = [(a,) for a in article_ids]
        self._db.executemany(
            "INSERT INTO changed_chunks SELECT chunk_id, ? FROM chunk_terms WHERE article_id = ? "
            "ON CONFLICT(chunk_id) DO UPDATE SET generation = excluded.generation",
            [(generation, a) for a in article_ids],
        )
        self._db.executemany("DELETE FROM chunk_terms WHERE article_id = ?", pairs)
        self._db.executemany("DELETE FROM article_fields WHERE article_id = ?", pairs)

    def _log(self, chunk_ids: Iterable[str], generation: int) -> None:
        """Note that these chunks were written or removed at this generation (the change log a
        view reads instead of every row: what one change costs stays the size of the change)."""
        self._db.executemany(
            "INSERT INTO changed_chunks VALUES (?, ?) "
            "ON CONFLICT(chunk_id) DO UPDATE SET generation = excluded.generation",
            [(chunk_id, generation) for chunk_id in chunk_ids],
        )

    def _insert(
        self,
        records: Sequence[tuple[str, str, str, str, int | None, list[str]]],
        generation: int | None,
    ) -> None:
        """Store (chunk id, article id, source, outlet, day, terms) rows: the terms as ids
        (new words join the vocabulary), the filter fields once per article. Logged as changes
        at `generation` (None: rows moved over from an older file, not changes)."""
        if generation is not None:
            self._log((row[0] for row in records), generation)
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

    def _bump(self) -> int:
        """The next write generation (inside the caller's transaction)."""
        self._db.execute(
            "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE "
            "SET value = CAST(value AS INTEGER) + 1"
        )
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def add_texts(self, rows: Iterable[tuple[str, str, str, str, int | None, str]]) -> None:
        """Add (chunk id, article id, source, outlet, day, text) rows: backfills an old index."""
        records = [(*row[:5], content_terms(row[5])) for row in rows]
        with self._lock, self._db:
            self._insert(records, self._bump())

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        with self._lock, self._db:
            articles = {
                a
                for (a,) in self._select_in(
                    "SELECT article_id FROM chunk_terms WHERE chunk_id", chunk_ids
                )
            }
            self._log(chunk_ids, self._bump())
            self._db.executemany(
                "DELETE FROM chunk_terms WHERE chunk_id = ?", [(c,) for c in chunk_ids]
            )
            self._db.executemany(  # an article left with no chunks loses its fields too
                "DELETE FROM article_fields WHERE article_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM chunk_terms WHERE chunk_terms.article_id = ?)",
                [(a, a) for a in articles],
            )

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
        positions = view.positions([chunk_id for (chunk_id,) in allowed])
        mask[positions[positions >= 0]] = 1.0
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
        """The snapshot plus what the change log says was written or removed after it. A chunk
        id hashes the chunk's text, so a logged chunk that is still there and in the snapshot
        has the same terms; one that is there and not in the snapshot was added; one that is
        gone and in the snapshot was removed."""
        if base.generation == generation:
            return _View(base, generation)
        logged = self._db.execute(
            "SELECT changed_chunks.chunk_id, chunk_terms.terms FROM changed_chunks "
            "LEFT JOIN chunk_terms USING (chunk_id) WHERE changed_chunks.generation > ? "
            "ORDER BY chunk_terms.rowid",  # added chunks in write order, as a build has them
            (base.generation,),
        ).fetchall()
        # Read after the rows: a build that pruned the log past this snapshot's generation
        # before they were read has also raised log_since (in the same transaction).
        if base.generation < self._log_since():
            return self._compare_every_row(base, generation)
        positions = base.chunk_ids.positions([chunk_id for chunk_id, _ in logged])
        gone = np.array([blob is None for _, blob in logged], dtype=bool)
        alive = np.ones(len(base.chunk_ids), dtype=bool)
        alive[positions[gone & (positions >= 0)]] = False
        blobs = {
            chunk_id: blob
            for (chunk_id, blob), position in zip(logged, positions, strict=True)
            if blob is not None and position < 0
        }
        terms = self._terms_of(blobs)
        return _View(base, generation, alive, [(c, terms[c]) for c in blobs])

    def _compare_every_row(self, base: _Snapshot, generation: int) -> _View:
        """For a snapshot older than the change log (a file from before it): which of its
        chunks are still there, and which rows are new, by reading every chunk id once."""
        rows = self._db.execute("SELECT chunk_id FROM chunk_terms ORDER BY rowid")
        current = [chunk_id for (chunk_id,) in rows]
        positions = base.chunk_ids.positions(current)
        alive = np.zeros(len(base.chunk_ids), dtype=bool)
        alive[positions[positions >= 0]] = True
        added = [c for c, position in zip(current, positions, strict=True) if position < 0]
        blobs = dict(
            self._select_in("SELECT chunk_id, terms FROM chunk_terms WHERE chunk_id", added)
        )
        terms = self._terms_of(blobs)
        return _View(base, generation, alive, [(c, terms[c]) for c in added])

    def _log_since(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'log_since'").fetchone()
        return int(row[0]) if row else 0

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
        ids = ChunkIds.of(chunk_ids)
        folder = self.folder / "bm25"
        _Snapshot.save(folder, generation, bm25, ids, vocabulary, average_length)
        del documents, chunk_ids
        # Answered from the files just written, as any other process will (see _Columns).
        snapshot = _Snapshot.load(folder) or _Snapshot(
            generation, _Columns.of(bm25), ids, vocabulary, average_length, bm25.k1, bm25.b
        )
        # What the snapshot holds no longer needs its log entries; log_since rises in the
        # same transaction, so a reader holding an older snapshot knows its log is gone.
        with self._lock, self._db:
            self._db.execute("DELETE FROM changed_chunks WHERE generation <= ?", (generation,))
            self._db.execute(
                "UPDATE meta SET value = ? WHERE key = 'log_since' AND CAST(value AS INTEGER) < ?",
                (str(generation), generation),
            )
        # A large ingest logs every chunk it writes: give those pages back to the disk (the
        # file is created with incremental auto-vacuum; on an older file this does nothing and
        # later writes reuse the pages).
        with self._lock:
            # (executescript steps the pragma to the end; execute frees one page a call)
            self._db.executescript("PRAGMA incremental_vacuum;")
        return snapshot

    def close(self) -> None:
        self._db.close()


class ChunkIds:
    """A snapshot's chunk ids in position order, as fixed-width UTF-8 bytes, with a sorted
    copy for lookups. At a million chunks a Python list and dict of them held about 170 MB on
    the heap of every process that answers; these arrays are about 80 MB on disk, memory-mapped,
    and a question touches only the pages of the ids it looks up."""

    def __init__(self, ids: np.ndarray, sorted_ids: np.ndarray, sorted_positions: np.ndarray):
        self.ids = ids
        self.sorted_ids = sorted_ids
        self.sorted_positions = sorted_positions

    @classmethod
    def of(cls, chunk_ids: Sequence[str]) -> ChunkIds:
        encoded = [_encoded(chunk_id) for chunk_id in chunk_ids]
        width = max(map(len, encoded), default=1)
        ids = np.array(encoded, dtype=f"S{width}")
        order = np.argsort(ids, kind="stable")
        return cls(ids, ids[order], order.astype(np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, position: int) -> str:
        return bytes(self.ids[position]).decode("utf-8", "surrogatepass")

    def positions(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """Each id's position, -1 for an id the snapshot does not hold."""
        found = np.full(len(chunk_ids), -1, dtype=np.int64)
        if not len(chunk_ids) or not len(self.ids):
            return found
        encoded = [_encoded(chunk_id) for chunk_id in chunk_ids]
        width = self.ids.dtype.itemsize
        # (an id longer than the widest stored one cannot be there, and would be cut short)
        fits = np.array([len(e) <= width and not e.endswith(b"\0") for e in encoded], dtype=bool)
        keys = np.array([e if ok else b"" for e, ok in zip(encoded, fits, strict=True)],
                        dtype=self.ids.dtype)  # fmt: skip
        at = np.minimum(np.searchsorted(self.sorted_ids, keys), len(self.ids) - 1)
        hit = fits & (self.sorted_ids[at] == keys)
        found[hit] = self.sorted_positions[at[hit]]
        return found

    def position(self, chunk_id: str) -> int | None:
        found = int(self.positions([chunk_id])[0])
        return found if found >= 0 else None

    def save(self, folder: Path) -> None:
        np.save(folder / "chunk_ids.npy", self.ids)
        np.save(folder / "chunk_ids_sorted.npy", self.sorted_ids)
        np.save(folder / "chunk_ids_order.npy", self.sorted_positions)

    @classmethod
    def load(cls, folder: Path) -> ChunkIds:
        def part(name: str) -> np.ndarray:
            return np.load(folder / name, mmap_mode="r", allow_pickle=False)

        return cls(part("chunk_ids.npy"), part("chunk_ids_sorted.npy"), part("chunk_ids_order.npy"))


class _NpyFile:
    """Slices of a one-dimensional .npy array, read from the file when asked (pread: safe from
    any thread), so that only the slice is in the process's memory, and only while used."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"{path}: .npy version {version}")
            self.offset = f.tell()
        if len(shape) != 1 or fortran or dtype.hasobject:
            raise ValueError(f"{path} is not a plain one-dimensional array")
        self.dtype = dtype
        self.length = shape[0]
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.length

    def read(self, start: int, end: int) -> np.ndarray:
        size = self.dtype.itemsize
        raw = os.pread(self._fd, (end - start) * size, self.offset + start * size)
        return np.frombuffer(raw, dtype=self.dtype)

    def __del__(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.close(self._fd)


class _Columns:
    """The snapshot's score matrix as bm25s saves it (sparse, column by column: one column per
    term, holding each chunk that has the term and its idf x term-frequency part).

    Loaded, the two big arrays are read a column at a time from their files, not memory-mapped:
    every page of a mapped file that a question touches stays in the answering process's
    resident memory, and over a benchmark's 95 questions that was 77% of both arrays at 100k
    chunks (2 x 255 MB at a million, more than the recipe's whole lead). The kernel's page
    cache keeps hot columns in memory either way, shared and reclaimable."""

    def __init__(self, data: np.ndarray | _NpyFile, indices: np.ndarray | _NpyFile,
                 indptr: np.ndarray) -> None:  # fmt: skip
        self.data = data
        self.indices = indices
        self.indptr = indptr

    @classmethod
    def of(cls, bm25: object) -> _Columns:
        """Columns held in memory (a snapshot that could not be read back from disk)."""
        matrix = getattr(bm25, "scores", None) or {}
        return cls(
            np.asarray(matrix.get("data", np.zeros(0, np.float32))),
            np.asarray(matrix.get("indices", np.zeros(0, np.int32))),
            np.asarray(matrix.get("indptr", np.zeros(1, np.int64))),
        )

    @classmethod
    def load(cls, folder: Path) -> _Columns:
        if not (folder / "indptr.csc.index.npy").is_file():  # no chunks: bm25s wrote nothing
            return cls(np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int64))
        indptr = np.load(folder / "indptr.csc.index.npy", allow_pickle=False)
        data = _NpyFile(folder / "data.csc.index.npy")
        indices = _NpyFile(folder / "indices.csc.index.npy")
        if len(data) != len(indices) or int(indptr[-1]) != len(data):
            raise ValueError("the snapshot's arrays do not agree")
        return cls(data, indices, indptr)

    def entries(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """One column's chunk positions and their entries."""
        return _slice(self.indices, start, end), _slice(self.data, start, end)

    def positions(self, start: int, end: int) -> np.ndarray:
        return _slice(self.indices, start, end)


def _slice(array: np.ndarray | _NpyFile, start: int, end: int) -> np.ndarray:
    return array.read(start, end) if isinstance(array, _NpyFile) else array[start:end]


class _Snapshot:
    """A bm25s index of every chunk at one write generation (BM25 "Lucene" variant)."""

    FORMAT = "3"

    def __init__(
        self,
        generation: int,
        columns: _Columns,
        chunk_ids: ChunkIds,
        vocabulary: dict[str, int],
        average_length: float,
        k1: float,
        b: float,
    ) -> None:
        self.generation = generation
        self.columns = columns
        self.chunk_ids = chunk_ids
        self.vocabulary = vocabulary
        self.average_length = average_length
        self.k1 = k1
        self.b = b

    def column(self, term: str) -> tuple[int, int] | None:
        position = self.vocabulary.get(term)
        indptr = self.columns.indptr
        if position is None or position + 1 >= len(indptr):
            return None
        return int(indptr[position]), int(indptr[position + 1])

    @classmethod
    def save(
        cls,
        folder: Path,
        generation: int,
        bm25: object,
        chunk_ids: ChunkIds,
        vocabulary: dict[str, int],
        average_length: float,
    ) -> None:
        # Written to a fresh folder and swapped in, so a crash never leaves half a snapshot;
        # the file lock keeps two processes (an ingest, a chat page's first search) from
        # writing the same staging folder.
        import fcntl

        with open(folder.with_name(folder.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            staging = folder.with_name(folder.name + ".new")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            if len(chunk_ids):
                bm25.save(str(staging), show_progress=False)  # type: ignore[attr-defined]
            chunk_ids.save(staging)
            (staging / "vocabulary.json").write_text(json.dumps(vocabulary))
            (staging / "stats.json").write_text(
                json.dumps(
                    {
                        "format": cls.FORMAT,
                        "average_length": average_length,
                        "k1": bm25.k1,  # type: ignore[attr-defined]
                        "b": bm25.b,  # type: ignore[attr-defined]
                    }
                )
            )
            (staging / "generation").write_text(str(generation))
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
        try:
            stats = json.loads((folder / "stats.json").read_text())
            if stats.get("format") != cls.FORMAT or "k1" not in stats:
                return None  # written by an older askdocs: rebuilt from the rows
            generation = int((folder / "generation").read_text())
            chunk_ids = ChunkIds.load(folder)
            vocabulary = json.loads((folder / "vocabulary.json").read_text())
            columns = _Columns.load(folder)
        except (OSError, ValueError, KeyError):
            return None  # missing or damaged: rebuilt from the rows
        return cls(
            generation, columns, chunk_ids, vocabulary,
            float(stats["average_length"]), float(stats["k1"]), float(stats["b"]),
        )  # fmt: skip


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

    def positions(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """Each chunk's position in this view, -1 where it holds no such chunk."""
        found = self.base.chunk_ids.positions(chunk_ids)
        if self.alive is not None:
            found[(found >= 0) & ~self.alive[np.maximum(found, 0)]] = -1
        for i, chunk_id in enumerate(chunk_ids):
            if found[i] < 0:
                found[i] = self.added_positions.get(chunk_id, -1)
        return found

    def position(self, chunk_id: str) -> int | None:
        position = self.base.chunk_ids.position(chunk_id)
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
        return int(self.alive[self.base.columns.positions(start, end)].sum())

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
                positions, entries = base.columns.entries(start, end)
                if self.changed:
                    entries = entries * np.float32(idf / _idf(end - start, len(base.chunk_ids)))
                scores[positions] += entries
            if term in self.postings:
                positions, parts = self.postings[term]
                scores[positions] += parts * np.float32(idf)
        if self.alive is not None:
            scores[: len(base.chunk_ids)] *= self.alive
        return scores


def _idf(document_frequency: int, documents: int) -> float:
    """BM25's inverse document frequency, Lucene variant (the one bm25s uses)."""
    return float(np.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5)))


def _encoded(chunk_id: str) -> bytes:
    # (surrogatepass: any Python string has bytes and gets itself back; ids are hex in practice)
    return chunk_id.encode("utf-8", "surrogatepass")
