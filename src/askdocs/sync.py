"""`askdocs watch`: keep the index in step with folders as files are added, changed or deleted.

Each batch of file-system changes (watchfiles, debounced) becomes one ingest of the changed
files and one removal per deleted path, through `Assistant`, so it takes the same ingest lock
and keeps the same crash safety as `askdocs ingest`. A start first syncs the folders whole:
changes made while nothing watched are caught up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from askdocs.index import StoreError
from askdocs.loaders import is_supported
from askdocs.types import IngestReport

if TYPE_CHECKING:
    from askdocs.api import Assistant

# How long file-system events are gathered into one batch: an editor's save or a copy of many
# files is several events, and one ingest for all of them is cheaper than one each.
DEBOUNCE_MS = 1600
# Wake up this often without events (to run the first sync, to see a stop request).
IDLE_MS = 500
# A batch that met another writer's lock is tried again after this long.
RETRY_MS = 5000


@dataclass
class SyncBatch:
    """What one batch of changes did; `busy` holds the reason it must be retried."""

    report: IngestReport | None = None
    removed: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    busy: str = ""


def plan_changes(
    paths: Iterable[str | Path], roots: Iterable[Path]
) -> tuple[list[Path], list[Path]]:
    """Split changed paths into those to (re)ingest and those gone from disk.

    Hidden files and folders (a part starting with ".") and unsupported types are ignored,
    as ingest ignores them; a new folder is ingested whole.
    """
    roots = [Path(r).resolve() for r in roots]
    ingest, remove = [], []
    for raw in sorted({Path(p) for p in paths}):
        root = next((r for r in roots if raw == r or r in raw.parents), None)
        if root is None or any(part.startswith(".") for part in raw.relative_to(root).parts):
            continue
        if raw.is_dir():
            ingest.append(raw)
        elif raw.is_file():
            if is_supported(raw):
                ingest.append(raw)
        else:
            remove.append(raw)
    return ingest, remove


def apply_changes(assistant: Assistant, ingest: list[Path], remove: list[Path]) -> SyncBatch:
    batch = SyncBatch(paths=[str(p) for p in [*ingest, *remove]])
    try:
        for path in remove:
            batch.removed += assistant.remove(str(path))
        # Files may vanish between the event and now; ingest refuses missing paths.
        present = [p for p in ingest if p.exists()]
        if present:
            batch.report = assistant.ingest(present)
    except StoreError as exc:  # another writer holds the index: try again later
        batch.busy = str(exc)
    return batch


def watch(
    assistant: Assistant,
    folders: list[Path],
    on_batch: Callable[[SyncBatch], None],
    stop_event: Any = None,
    debounce_ms: int = DEBOUNCE_MS,
) -> None:
    """Sync `folders` whole, then after every batch of changes until `stop_event` is set
    (or Ctrl-C, which stops after the article being written, as ingest does).

    The first sync runs once the watcher is running, so a file written during it is seen.
    """
    import watchfiles  # lazy: only the watch command needs it

    roots = [f.resolve() for f in folders]
    pending: set[str] = set(map(str, roots))
    retry_at = 0.0
    for changes in watchfiles.watch(
        *roots,
        watch_filter=None,  # plan_changes filters as ingest does
        debounce=debounce_ms,
        stop_event=stop_event,
        rust_timeout=IDLE_MS,
        yield_on_timeout=True,
        raise_interrupt=True,
    ):
        pending |= {path for _, path in changes}
        if not pending or time.monotonic() < retry_at:
            continue
        ingest, remove = plan_changes(pending, roots)
        batch = apply_changes(assistant, ingest, remove) if ingest or remove else None
        if batch is not None:
            on_batch(batch)
        if batch is not None and batch.report is not None and batch.report.interrupted:
            # Ctrl-C reached the ingest, which kept what it wrote and returned: it was meant
            # for the whole command, not only for this batch.
            raise KeyboardInterrupt
        if batch is not None and batch.busy:
            retry_at = time.monotonic() + RETRY_MS / 1000
        else:
            pending.clear()
