"""`askdocs watch`: the index follows a folder as files are added, changed and deleted."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from askdocs.api import Assistant
from askdocs.sync import SyncBatch, plan_changes, watch

STORY = "Harbour bridge reopens\nThe Kestrel bridge reopened on Thursday after repairs.\n"


def test_plan_changes_splits_present_and_gone_and_ignores_what_ingest_ignores(
    tmp_path: Path,
) -> None:
    (tmp_path / "new.txt").write_text(STORY)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    (tmp_path / ".draft.txt").write_text(STORY)
    (tmp_path / "sub").mkdir()
    ingest, remove = plan_changes(
        [tmp_path / name for name in ("new.txt", "photo.png", ".draft.txt", "sub", "gone.txt")]
        + [Path("/elsewhere/x.txt")],
        [tmp_path],
    )
    assert ingest == [tmp_path / "new.txt", tmp_path / "sub"]
    assert remove == [tmp_path / "gone.txt"]


def _wait_for(predicate: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_watch_follows_adds_changes_and_deletes(assistant: Assistant, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "first.txt").write_text(STORY)
    batches: queue.Queue[SyncBatch] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(
        target=watch, args=(assistant, [folder], batches.put), kwargs={"stop_event": stop,
        "debounce_ms": 200}, daemon=True,
    )  # fmt: skip
    thread.start()
    try:
        first = batches.get(timeout=30)
        assert first.report is not None and first.report.added == 1

        def sources() -> set[str]:
            return {Path(r.source).name for r in assistant.store.indexed_articles().values()}

        (folder / "second.md").write_text("# School saved\nParents raised the money.\n")
        _wait_for(lambda: sources() == {"first.txt", "second.md"}, "the new file")
        (folder / "first.txt").write_text(STORY + "Engineers replaced 312 cables.\n")
        _wait_for(
            lambda: "312 cables" in assistant.ask("How many cables were replaced?").text,
            "the changed file",
        )
        (folder / "second.md").unlink()
        _wait_for(lambda: sources() == {"first.txt"}, "the deleted file")
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive(), "watch must stop when asked"


def test_ctrl_c_that_reaches_an_ingest_stops_the_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ingest swallows KeyboardInterrupt (it keeps what it wrote and reports `interrupted`);
    # the watch loop must stop too, or a Ctrl-C landing during a batch is lost and the
    # command hangs (seen in CI as "watch did not stop within 30 s of Ctrl-C").
    from askdocs import sync
    from askdocs.types import IngestReport

    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "first.txt").write_text(STORY)
    batches: list[SyncBatch] = []
    monkeypatch.setattr(
        sync, "apply_changes", lambda *_: SyncBatch(report=IngestReport(interrupted=True))
    )
    stop, stopped = threading.Event(), threading.Event()

    def run() -> None:
        try:
            watch(None, [folder], batches.append, stop_event=stop)  # type: ignore[arg-type]
        except KeyboardInterrupt:
            stopped.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)
    stop.set()  # without the fix the loop goes on: end it so the test fails, not hangs
    thread.join(timeout=5)
    assert stopped.is_set(), "the watch went on after Ctrl-C interrupted its ingest"
    assert len(batches) == 1 and batches[0].report.interrupted  # reported, then stopped


@pytest.mark.slow
def test_watch_command_syncs_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "first.txt").write_text(STORY)
    # A child inherits an *ignored* SIGINT (a runner started in the background, `cmd &`, has
    # it ignored), and Python then never turns Ctrl-C into KeyboardInterrupt; a handled one
    # is reset to the default at exec, as in a terminal. So handle it here while starting.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    process = subprocess.Popen(
        [sys.executable, "-m", "askdocs.cli", "--index", str(tmp_path / "index"), "watch",
         str(folder), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # PYTHONFAULTHANDLER: a SIGABRT makes it print every thread's stack (see below).
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
    )  # fmt: skip
    signal.signal(signal.SIGINT, previous)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True).start()
    try:
        first = json.loads(lines.get(timeout=120))
        assert first["ingest"]["added"] == 1
        (folder / "second.txt").write_text("Village school saved\nParents raised the money.\n")
        second = json.loads(lines.get(timeout=60))
        assert second["paths"] == [str((folder / "second.txt").resolve())]
        assert second["ingest"]["added"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # Seen twice in CI: a Ctrl-C landing during a batch's ingest was swallowed by it
            # (fixed, see the test above). Should it hang again, say where.
            process.send_signal(signal.SIGABRT)
            process.wait(timeout=30)
            stacks = process.stderr.read()[-8000:]
            raise AssertionError(f"watch did not stop within 30 s of Ctrl-C:\n{stacks}") from None
    assert code == 0, process.stderr.read()
