"""The writer lease (index/lease.py) over a real Chroma collection: one writer across
machines, refused by name, freed when the holder dies, lost when it cannot renew in time.
Each "machine" is a WriterLease of its own (its own token), as two processes would have."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from askdocs.index.lease import LEASE_ID, WriterLease, holding
from askdocs.index.lock import IndexBusyError

SETTLE = 0.05  # short, so the tests are quick; the race test uses a longer one


@pytest.fixture
def collection(tmp_path: Path):  # type: ignore[no-untyped-def]
    import chromadb

    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    return client.get_or_create_collection("t_changes", embedding_function=None)


def _lease(  # type: ignore[no-untyped-def]
    collection, name: str, seconds: float = 30.0, settle: float = SETTLE, clock=time.time
) -> WriterLease:
    lease = WriterLease(
        collection, "http://chroma:8000", seconds=seconds, settle=settle, clock=clock
    )
    lease.holder = name  # two machines: different host names
    return lease


def test_a_second_writer_is_refused_naming_the_holder_until_release(collection) -> None:  # type: ignore[no-untyped-def]
    first, second = _lease(collection, "machine-a pid 11"), _lease(collection, "machine-b pid 22")
    first.acquire()
    with pytest.raises(IndexBusyError, match=r"machine-a pid 11; its lease ends in 30 s"):
        second.acquire()
    first.release()
    assert collection.get(ids=[LEASE_ID])["ids"] == []
    second.acquire()
    with pytest.raises(IndexBusyError, match="machine-b pid 22"):
        first.acquire()


class _Clock:
    """A wall clock the test moves (a lease of a fraction of a second on the real clock ran
    out before the second machine asked, on a loaded CI machine)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_dead_holder_frees_the_index_when_its_lease_expires(collection) -> None:  # type: ignore[no-untyped-def]
    clock = _Clock()
    dead = _lease(collection, "machine-a pid 11", seconds=30, clock=clock)
    dead.acquire()  # and never renews: killed
    other = _lease(collection, "machine-b pid 22", clock=clock)
    with pytest.raises(IndexBusyError):
        other.acquire()
    clock.now += 29
    with pytest.raises(IndexBusyError):
        other.acquire()
    clock.now += 2  # the lease ran out
    other.acquire()
    # The old holder, back too late, finds the lease taken and must stop writing.
    assert dead.renew() is False
    with pytest.raises(IndexBusyError, match="passed to machine-b pid 22"):
        dead.check()
    dead.release()  # not its lease any more: left alone
    assert collection.get(ids=[LEASE_ID])["metadatas"][0]["holder"] == "machine-b pid 22"


def test_a_live_holder_keeps_its_lease_by_renewing(collection) -> None:  # type: ignore[no-untyped-def]
    short = _lease(collection, "machine-a pid 11", seconds=1.5)
    with holding(short):
        time.sleep(3.75)  # 2.5 lease lengths: only renewals keep it
        with pytest.raises(IndexBusyError, match="machine-a pid 11"):
            _lease(collection, "machine-b pid 22").acquire()
        short.check()  # never lost
    _lease(collection, "machine-b pid 22").acquire()  # released on leaving the block


class _ClaimingTogether(WriterLease):
    """Writes its first claim only once every writer has read the lease as free, `delay`
    seconds later: the race the settle wait exists for, with a read-to-write gap as a slow
    network would give (in one process Chroma's calls would otherwise serialise)."""

    def __init__(self, barrier: threading.Barrier, delay: float, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.barrier: threading.Barrier | None = barrier
        self.delay = delay

    def _write(self) -> None:
        if self.barrier is not None:
            barrier, self.barrier = self.barrier, None
            barrier.wait(timeout=10)
            time.sleep(self.delay)
        super()._write()


def _race(collection, settle: float) -> list[str]:  # type: ignore[no-untyped-def]
    collection.delete(ids=[LEASE_ID])
    barrier = threading.Barrier(2)
    leases = [
        _ClaimingTogether(barrier, delay, collection, "http://chroma:8000", settle=settle)
        for delay in (0.0, 0.1)
    ]
    won: list[str] = []

    def run(lease: WriterLease) -> None:
        try:
            lease.acquire()
            won.append(lease.token)
        except IndexBusyError:
            pass

    threads = [threading.Thread(target=run, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won


def test_two_writers_that_both_find_it_free_end_with_one_holder(collection) -> None:  # type: ignore[no-untyped-def]
    # Both read "free", then both write their claims, 0.1 s apart; the settle wait (longer
    # than that gap) makes the later claim visible to both before either proceeds, so
    # exactly one goes on to write. (With no settle wait, both would.)
    for _ in range(5):
        assert len(_race(collection, settle=0.3)) == 1
