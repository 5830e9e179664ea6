"""Sentence vectors in a float16 sqlite file beside the index: for an embedded index (one
machine) the only copy; with a Chroma server, this machine's cache of the sentences collection.

Reading a question's few hundred sentence vectors from Chroma costs a few milliseconds per
question (measured: 4 ms for 50 by id on the embedded index); from this float16 sqlite file
it costs a fraction of one. The cache holds only what Chroma holds: the writer puts what it
writes, any process drops the rows of articles the change log says changed (or all rows when
the log cannot say), and a missing or deleted file only costs speed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

PAGE_SIZE = 32768
"""sqlite's default 4 KiB page holds one chunk's row (a few sentences, 2-3 KB) and wastes the
rest: measured on 10k chunks, 37.2 MB at 4 KiB, 28.2 MB at 32 KiB, reading 60 chunks' rows
0.57 vs 0.64 ms. Applies to new files only (sqlite fixes it at creation)."""
WAL_PAGES = 128
"""Checkpoint the write-ahead log at 128 pages (4 MiB) and cut it back to that size: sqlite's
default of 1000 pages, sized for 4 KiB pages, let the log of a large ingest grow to 32 MB and
stay that large beside the file."""


class SentenceCache:
    """One float16 matrix per chunk id, with its article id (for invalidation)."""

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
                vectors BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS sentences_by_article ON sentences(article_id);
            """
        )
        self._lock = threading.Lock()

    def put(self, rows: Iterable[tuple[str, str, np.ndarray]]) -> None:
        """Store (chunk id, article id, matrix) rows."""
        records = [
            (chunk_id, article_id, int(m.shape[1]), np.asarray(m, np.float16).tobytes())
            for chunk_id, article_id, m in rows
            if m.ndim == 2 and m.shape[0]
        ]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO sentences VALUES (?,?,?,?)", records)

    def drop(self, article_ids: Sequence[str]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "DELETE FROM sentences WHERE article_id = ?", [(a,) for a in article_ids]
            )

    def clear(self) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM sentences")

    def get(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(batch))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT chunk_id, dimensions, vectors FROM sentences "
                    f"WHERE chunk_id IN ({marks})",
                    batch,
                ).fetchall()
            found.update(
                (chunk_id, np.frombuffer(blob, np.float16).reshape(-1, dims).astype(np.float32))
                for chunk_id, dims, blob in rows
            )
        return found

    def row_counts(self) -> dict[str, int]:
        """How many sentence vectors each stored chunk has (read without the vectors)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT chunk_id, length(vectors) / (2 * dimensions) FROM sentences"
            ).fetchall()
        return {chunk_id: int(count) for chunk_id, count in rows}

    def close(self) -> None:
        self._db.close()
