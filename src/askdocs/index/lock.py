"""Errors of the index, and its writer lock: one ingest or removal per index at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from askdocs.config import Settings


class StoreError(RuntimeError):
    """The index cannot be opened or reached; the message says what to do."""


class IndexBusyError(StoreError):
    """Another process holds the index's ingest lock."""


@contextmanager
def ingest_lock(settings: Settings) -> Iterator[None]:
    """One ingest per index at a time; a second one is refused at once, never interleaved.

    The lock is an OS file lock, so a killed ingest (even kill -9) releases it.
    """
    import fcntl

    folder = Path(settings.index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".ingest.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise IndexBusyError(
                f"another ingest is running on {folder}/ (pid {holder}); try again when it ends"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
