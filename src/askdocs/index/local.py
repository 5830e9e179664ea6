"""What one machine keeps beside the index: opening the store and bringing this machine's
caches (keyword index, sentence-vector cache) in line with Chroma before first use."""

from __future__ import annotations

import contextlib
import threading

from askdocs.config import Settings
from askdocs.index.lock import StoreError, ingest_lock
from askdocs.index.store import ChromaStore, legacy_sentence_table, open_store


def open_index(settings: Settings, create: bool, locked: bool = False) -> ChromaStore:
    """Open the store; `locked`: the caller holds the ingest lock and the caches are prepared
    now, else (if they are behind) in the background: a new machine's first questions are
    answered while its keyword cache fills from Chroma (the retriever waits a little for it,
    then searches dense-only until it is ready)."""
    store = open_store(settings, create=create)
    if locked:
        prepare_local_caches(settings, store)
    elif _caches_behind(settings, store):
        store.keywords_ready.clear()
        threading.Thread(target=_prepare_in_background, args=(settings, store), daemon=True).start()
    return store


def _prepare_in_background(settings: Settings, store: ChromaStore) -> None:
    # Skipped while an ingest runs here (IndexBusyError): that ingest does it itself; if
    # the index went away, questions report it themselves.
    try:
        with contextlib.suppress(StoreError), ingest_lock(settings):
            prepare_local_caches(settings, store)
    finally:
        store.keywords_ready.set()


def _caches_behind(settings: Settings, store: ChromaStore) -> bool:
    return (
        legacy_sentence_table(settings).is_file() or store.keywords.count() != store.chunks.count()
    )


def prepare_local_caches(settings: Settings, store: ChromaStore) -> None:
    """Before first use on this machine (under the ingest lock): adopt the sentence vectors
    an older version kept in a side file (store.adopt_sentence_table), and fill the keyword
    cache from Chroma's chunks when it does not hold them all (a new machine, an index from
    before the keyword index)."""
    store.adopt_sentence_table(legacy_sentence_table(settings))
    if store.keywords.count() != store.chunks.count():
        current = store.changes.current()
        store.sync_keywords()
        store.keywords.set_synced_generation(current)
        store.keywords.rebuild()
