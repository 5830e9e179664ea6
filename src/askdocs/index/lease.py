"""The writer lease: one writer per index across machines, kept in Chroma itself.

The OS file lock (lock.py) keeps one writer per index folder, which is every writer of an
embedded index. Processes on other machines that write to one Chroma server have folders of
their own, so the writer also holds a lease: a record `writer-lease` in the index's change
collection naming the holder (host, pid, command) and when the lease expires. The holder renews
it every third of its length from a background thread; a holder that dies (kill -9, a lost
machine) frees the index when the lease expires, with no one to clean up.

Chroma has no compare-and-swap. A writer that finds the lease free writes its claim, waits
SETTLE_SECONDS and reads the record back: the index is its own only if the record still holds
its token. Two writers that both saw the lease free write within milliseconds of their reads,
so the later claim is in place before either reads back, and only its writer proceeds.
Expiry compares the holder's clock with the reader's: machines are assumed to keep time within
a few seconds of each other (NTP), far less than the lease.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from askdocs.index.lock import IndexBusyError

LEASE_ID = "writer-lease"
LEASE_SECONDS = 30.0
"""How long a dead writer keeps others out; renewed every third of it while the writer lives."""
SETTLE_SECONDS = 0.5
"""Wait between writing a claim and reading it back (see the module's docstring)."""


def holder_name() -> str:
    """Who holds the lease, as an error message names them: host, pid and command."""
    command = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return f"{socket.gethostname()} pid {os.getpid()} ({command})"


def lease_state(metadata: dict[str, Any] | None, now: float) -> tuple[str, float] | None:
    """(holder, seconds left) of a live lease record, or None when it is absent or expired.

    >>> lease_state({"holder": "h pid 1", "expires": 130.0, "token": "t"}, now=100.0)
    ('h pid 1', 30.0)
    >>> lease_state({"holder": "h pid 1", "expires": 90.0, "token": "t"}, now=100.0) is None
    True
    """
    if not metadata or float(metadata.get("expires", 0.0)) <= now:
        return None
    return str(metadata.get("holder", "another writer")), float(metadata["expires"]) - now


class WriterLease:
    """The lease record of one index (a Chroma collection: the change log's)."""

    def __init__(
        self,
        collection: Any,
        where: str,
        seconds: float = LEASE_SECONDS,
        settle: float = SETTLE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.collection = collection
        self.where = where
        self.seconds = seconds
        self.settle = settle
        self.clock = clock
        self.token = uuid.uuid4().hex
        self.holder = holder_name()
        self.lost: str | None = None  # set when another writer took the lease from us

    def _read(self) -> dict[str, Any] | None:
        found = self.collection.get(ids=[LEASE_ID], include=["metadatas"])
        metadatas = found.get("metadatas") or []
        return dict(metadatas[0]) if metadatas and metadatas[0] else None

    def _write(self) -> None:
        self.collection.upsert(
            ids=[LEASE_ID],
            embeddings=np.asarray([[-0.5]], dtype=np.float32),
            metadatas=[
                {
                    "kind": "lease",
                    "holder": self.holder,
                    "token": self.token,
                    "expires": self.clock() + self.seconds,
                }
            ],
        )

    def _busy(self, metadata: dict[str, Any]) -> IndexBusyError:
        holder, left = lease_state(metadata, self.clock()) or ("another writer", 0.0)
        return IndexBusyError(
            f"another writer holds {self.where}: {holder}; its lease ends in {left:.0f} s "
            f"unless renewed (a writer that died frees the index within {self.seconds:.0f} s); "
            "try again when it ends"
        )

    def acquire(self) -> None:
        """Take the lease, or raise IndexBusyError naming the live holder."""
        current = self._read()
        if current and current.get("token") != self.token and lease_state(current, self.clock()):
            raise self._busy(current)
        self._write()
        time.sleep(self.settle)
        current = self._read()
        if not current or current.get("token") != self.token:
            raise self._busy(current or {})

    def renew(self) -> bool:
        """Extend the lease; False (and `lost` set) when another writer holds it now."""
        current = self._read()
        if current and current.get("token") != self.token and lease_state(current, self.clock()):
            self.lost = str(current.get("holder"))
            return False
        self._write()
        return True

    def release(self) -> None:
        current = self._read()
        if current and current.get("token") == self.token:
            self.collection.delete(ids=[LEASE_ID])

    def check(self) -> None:
        """Raise if the lease was lost (the writer stops between articles)."""
        if self.lost is not None:
            raise IndexBusyError(
                f"{self.where}: the writer lease passed to {self.lost} (this writer could not "
                "renew it in time); what was written so far is complete"
            )


@contextmanager
def holding(lease: WriterLease) -> Iterator[WriterLease]:
    """Hold the lease for the block, renewing it in the background."""
    lease.acquire()
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease.seconds / 3):
            try:
                if not lease.renew():
                    return
            except Exception:  # noqa: BLE001 - unreachable server: the write itself says so
                continue

    thread = threading.Thread(target=renew, name="askdocs-writer-lease", daemon=True)
    thread.start()
    try:
        yield lease
    finally:
        stop.set()
        thread.join(timeout=5)
        # An unreachable server: the lease expires by itself.
        with contextlib.suppress(Exception):
            lease.release()
