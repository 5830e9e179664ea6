"""The keyword index: BM25 (bm25s) over the chunks, kept next to the Chroma index.

Two layers, so that writes stay incremental and reads stay fast:

* ``terms.sqlite3`` holds every chunk's analysed terms (as ids into a vocabulary table, two
  bytes a term while the vocabulary has fewer than 65,536 words) and each article's filter
  fields. It changes in one transaction per batch of articles, together with the Chroma writes,
  and is a cache of Chroma's chunks (index/local.py fills it on a new machine).
* ``bm25/`` is a bm25s snapshot of those rows, stamped with the write generation it was built
  from (index/bm25_snapshot.py). Chunks written or removed since are scored beside it from
  their stored terms, with the term statistics of the whole current collection; once they pass
  REBUILD_FRACTION of the snapshot, the end of an ingest builds a new snapshot from the stored
  terms (no article is re-read or re-tokenised).
* ``changed_chunks`` (in the sqlite file) logs the generation at which each chunk id was last
  written or removed since the snapshot, so what changed since it is read from the log, not
  found by comparing every row with it (at a million chunks that comparison was 1.7 s of every
  one-article ingest); a build prunes what it covers.

This module analyses text (content_terms, also used by the answerer) and owns the rows.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from askdocs.index.bm25_snapshot import ChunkIds, Columns, Snapshot, View
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
        if self._db.execute("PRAGMA page_count").fetchone()[0] == 0:
            # A new file: incremental auto-vacuum can only be chosen before the first table
            # (on an existing file the pragma waits for the write lock and changes nothing).
            self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
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
            CREATE TABLE IF NOT EXISTS changed_chunks (
                chunk_id TEXT PRIMARY KEY, generation INTEGER NOT NULL) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS changed_chunks_by_generation
                ON changed_chunks(generation);
            """
        )
        # The change log is complete from `log_since` on: from the start for a new file, from
        # now for a file written before the log existed (its older snapshots are compared
        # with every row instead, once, until the next build).
        # (Written only when missing: an insert that changes nothing still waits for the write
        # lock, which an ingest in another process may hold.)
        if self._db.execute("SELECT 1 FROM meta WHERE key = 'log_since'").fetchone() is None:
            with self._db:
                self._db.execute(
                    "INSERT OR IGNORE INTO meta SELECT 'log_since', "
                    "COALESCE((SELECT value FROM meta WHERE key = 'generation'), '0')"
                )
        self._lock = threading.RLock()
        self._base: Snapshot | None = None
        self._view: View | None = None
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

    def passages(self) -> int:
        """How many passages (chunks) the index holds: what its rarities are measured over."""
        return self.snapshot().documents

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

    def _mask(self, view: View, filters: Filters) -> np.ndarray:
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

    def snapshot(self) -> View:
        """BM25 over the current rows: the last full snapshot (from memory or disk, memory-
        mapped) plus the chunks written or removed since, scored as one collection."""
        with self._lock:
            generation = self.generation()
            if self._view is not None and self._view.generation == generation:
                return self._view
            folder = self.folder / "bm25"
            saved = Snapshot.saved_generation(folder)
            if self._base is None or self._base.generation != saved:
                self._base = Snapshot.load(folder) if saved is not None else None
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
                self._view = View(self._base, view.generation)

    def _changes_since(self, base: Snapshot, generation: int) -> View:
        """The snapshot plus what the change log says was written or removed after it. A chunk
        id hashes the chunk's text, so a logged chunk that is still there and in the snapshot
        has the same terms; one that is there and not in the snapshot was added; one that is
        gone and in the snapshot was removed."""
        if base.generation == generation:
            return View(base, generation)
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
        return View(base, generation, alive, [(c, terms[c]) for c in blobs])

    def _compare_every_row(self, base: Snapshot, generation: int) -> View:
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
        return View(base, generation, alive, [(c, terms[c]) for c in added])

    def _log_since(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'log_since'").fetchone()
        return int(row[0]) if row else 0

    def _build(self, generation: int) -> Snapshot:
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
        Snapshot.save(folder, generation, bm25, ids, vocabulary, average_length)
        del documents, chunk_ids
        # Answered from the files just written, as any other process will (see Columns).
        snapshot = Snapshot.load(folder) or Snapshot(
            generation, Columns.of(bm25), ids, vocabulary, average_length, bm25.k1, bm25.b
        )
        self._prune_log(generation)
        return snapshot

    def _prune_log(self, generation: int) -> None:
        """What a snapshot holds no longer needs its log entries; log_since rises in the same
        transaction, so a reader holding an older snapshot knows its log is gone. Skipped if
        another process holds the write lock too long (a question's first build in a reader
        while an ingest writes): the entries stay, which costs a view only their rows."""
        with contextlib.suppress(sqlite3.OperationalError), self._lock, self._db:
            self._db.execute("DELETE FROM changed_chunks WHERE generation <= ?", (generation,))
            self._db.execute(
                "UPDATE meta SET value = ? WHERE key = 'log_since' AND CAST(value AS INTEGER) < ?",
                (str(generation), generation),
            )
        # A large ingest logs every chunk it writes: give those pages back to the disk (the
        # file is created with incremental auto-vacuum; on an older file this does nothing and
        # later writes reuse the pages). executescript steps the pragma to the end; execute
        # would free one page a call.
        with contextlib.suppress(sqlite3.OperationalError), self._lock:
            self._db.executescript("PRAGMA incremental_vacuum;")

    def close(self) -> None:
        self._db.close()
