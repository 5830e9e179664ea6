"""Sentence vectors in a sqlite file beside the index: for an embedded index (one machine) the
only copy; with a Chroma server, this machine's cache of the sentences collection.

Reading a question's few hundred sentence vectors from Chroma costs a few milliseconds per
question (measured: 4 ms for 50 by id on the embedded index); from this file it costs a
fraction of one. The cache holds only what Chroma holds: the writer puts what it writes, any
process drops the rows of articles the change log says changed (or all rows when the log
cannot say), and a missing or deleted file only costs speed.

Vectors are stored as int8 with one float32 scale per sentence (`CODEC`): half the size of
float16, which they replaced (most of the index's size beside Chroma's own at 100k chunks),
and a cosine between a question and a sentence moves by less than 0.002 (tested). Rows written
as float16 by earlier versions are still read.

Chunks overlap by whole sentences, and a sentence shared by two chunks has one vector (it is
embedded once). A row stores only what the chunk stored before it in the same write does not
end with: `shared` leading sentences are read from the end of that row (`previous`), which
holds them itself. On the test corpus 11.5% of sentence vectors repeat that way.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

CODEC = "i8"
"""int8 components, each row scaled by its largest absolute component / 127."""
LEGACY_CODEC = "f16"
SCALE_BYTES = 4  # one float32 per row, before the int8 rows
PAGE_SIZE = 32768
"""sqlite's default 4 KiB page fits whole rows only (a chunk's row is 1-3 KB) and wastes the
rest: measured on 10k chunks' float16 rows, 37.2 MB at 4 KiB, 28.2 MB at 32 KiB (the vectors
alone 25.7 MB), reading 60 chunks' rows 0.57 vs 0.64 ms. Applies to new files only (sqlite
fixes it at creation)."""
WAL_PAGES = 128
"""Checkpoint the write-ahead log at 128 pages (4 MiB) and cut it back to that size: sqlite's
default of 1000 pages, sized for 4 KiB pages, let the log of a large ingest grow to 32 MB and
stay that large beside the file."""


def encode(matrix: np.ndarray) -> bytes:
    """A matrix of sentence vectors as CODEC bytes: the row scales, then the int8 rows."""
    matrix = np.asarray(matrix, dtype=np.float32)
    scales = np.abs(matrix).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    rows = np.rint(matrix / scales[:, None]).astype(np.int8)
    return scales.astype(np.float32).tobytes() + rows.tobytes()


def decode(blob: bytes, dimensions: int, codec: str = CODEC) -> np.ndarray:
    """The float32 matrix stored as `blob` in this codec (or the legacy float16)."""
    if codec == LEGACY_CODEC:
        return np.frombuffer(blob, np.float16).reshape(-1, dimensions).astype(np.float32)
    count = len(blob) // (dimensions + SCALE_BYTES)
    scales = np.frombuffer(blob, np.float32, count=count)
    rows = np.frombuffer(blob, np.int8, offset=count * SCALE_BYTES).reshape(count, dimensions)
    return rows.astype(np.float32) * scales[:, None]


def encoded_rows(matrix: np.ndarray) -> list[bytes]:
    """Each row of a matrix in CODEC form (its scale, then its int8 components)."""
    blob = encode(matrix)
    count, dims = matrix.shape
    ints = count * SCALE_BYTES
    return [
        blob[i * SCALE_BYTES : (i + 1) * SCALE_BYTES]
        + blob[ints + i * dims : ints + (i + 1) * dims]
        for i in range(count)
    ]


def join(rows: Sequence[bytes]) -> bytes:
    """Rows from encoded_rows as one CODEC blob (the scales, then the int8 rows)."""
    return b"".join(r[:SCALE_BYTES] for r in rows) + b"".join(r[SCALE_BYTES:] for r in rows)


def shared_sentences(before: Sequence[bytes], rows: Sequence[bytes]) -> int:
    """How many leading rows of a chunk repeat the last rows of the one before it (the
    longest such run: overlapping chunks share whole sentences)."""
    for count in range(min(len(before), len(rows)), 0, -1):
        if list(before[len(before) - count :]) == list(rows[:count]):
            return count
    return 0


class SentenceCache:
    """One matrix per chunk id, with its article id (for invalidation)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(
            f"""
            PRAGMA page_size = {PAGE_SIZE};
            PRAGMA journal_mode = WAL;
            PRAGMA wal_autocheckpoint = {WAL_PAGES};
            PRAGMA journal_size_limit = {WAL_PAGES * PAGE_SIZE};
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS sentences (
                chunk_id TEXT PRIMARY KEY, article_id TEXT NOT NULL, dimensions INTEGER NOT NULL,
                vectors BLOB NOT NULL, codec TEXT NOT NULL DEFAULT 'i8',
                shared INTEGER NOT NULL DEFAULT 0, previous TEXT);
            CREATE INDEX IF NOT EXISTS sentences_by_article ON sentences(article_id);
            """
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(sentences)")}
        added = {  # columns files written by earlier versions lack, with what their rows mean
            "codec": f"TEXT NOT NULL DEFAULT '{LEGACY_CODEC}'",  # before int8: float16 rows
            "shared": "INTEGER NOT NULL DEFAULT 0",  # before sharing: every row whole
            "previous": "TEXT",
        }
        for column, definition in added.items():
            if column not in columns:
                # (Another process opening the same old file may add the column first.)
                with contextlib.suppress(sqlite3.OperationalError), self._db:
                    self._db.execute(f"ALTER TABLE sentences ADD COLUMN {column} {definition}")
        self._lock = threading.Lock()

    def put(self, rows: Iterable[tuple[str, str, np.ndarray]]) -> None:
        """Store (chunk id, article id, matrix) rows; give an article's chunks in text order
        (as ingest does) for the sentences they share to be stored once."""
        records = []
        before: tuple[str, str, list[bytes]] | None = None  # the last row stored whole or not
        for chunk_id, article_id, matrix in rows:
            if matrix.ndim != 2 or not matrix.shape[0]:
                continue
            own = encoded_rows(matrix)
            shared, previous = 0, None
            if before is not None and before[1] == article_id:
                shared = shared_sentences(before[2], own)
                previous = before[0] if shared else None
            records.append(
                (chunk_id, article_id, int(matrix.shape[1]), join(own[shared:]), CODEC, shared,
                 previous)
            )  # fmt: skip
            before = (chunk_id, article_id, own[shared:])
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO sentences "
                "(chunk_id, article_id, dimensions, vectors, codec, shared, previous) "
                "VALUES (?,?,?,?,?,?,?)",
                records,
            )

    def drop(self, article_ids: Sequence[str]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "DELETE FROM sentences WHERE article_id = ?", [(a,) for a in article_ids]
            )

    def clear(self) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM sentences")

    def get(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The matrices of these chunks that the file holds whole (a row whose `previous`
        row is gone is left out, as if missing)."""
        rows = self._rows(chunk_ids)
        wanted = {row[4] for row in rows.values() if row[3]} - rows.keys()
        rows |= self._rows(sorted(wanted))
        # Each row decoded once: a shared row serves its own chunk and the next.
        stored = {c: decode(blob, dims, codec) for c, (dims, blob, codec, _, _) in rows.items()}
        found: dict[str, np.ndarray] = {}
        for chunk_id in chunk_ids:
            if chunk_id not in rows:
                continue
            own, (*_, shared, previous) = stored[chunk_id], rows[chunk_id]
            if shared:
                before = stored.get(previous)
                if before is None or len(before) < shared:
                    continue
                own = np.vstack([before[len(before) - shared :], own])
            found[chunk_id] = own
        return found

    def _rows(self, chunk_ids: Sequence[str]) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        for start in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(batch))
            with self._lock:
                found.update(
                    (row[0], row[1:])
                    for row in self._db.execute(
                        f"SELECT chunk_id, dimensions, vectors, codec, shared, previous "
                        f"FROM sentences WHERE chunk_id IN ({marks})",
                        batch,
                    )
                )
        return found

    def row_counts(self) -> dict[str, int]:
        """How many sentence vectors each stored chunk has (read without the vectors)."""
        with self._lock:
            # (A row whose `previous` row is gone cannot be read whole: not counted.)
            rows = self._db.execute(
                f"SELECT s.chunk_id, s.shared + CASE s.codec WHEN '{LEGACY_CODEC}' "
                f"THEN length(s.vectors) / (2 * s.dimensions) "
                f"ELSE length(s.vectors) / (s.dimensions + {SCALE_BYTES}) END "
                f"FROM sentences s LEFT JOIN sentences p ON p.chunk_id = s.previous "
                f"WHERE s.shared = 0 OR p.chunk_id IS NOT NULL"
            ).fetchall()
        return {chunk_id: int(count) for chunk_id, count in rows}

    def close(self) -> None:
        self._db.close()
