"""The index: the one owner of everything askdocs stores, in the order data flows.

| module | part |
|---|---|
| `lock` | errors, and the writer lock (one ingest or removal per index at a time) |
| `filters` | `Filters` as a Chroma `where` (dense side) and an SQL clause (keyword side) |
| `keywords` | BM25 over chunk terms: a local cache of the chunks Chroma holds |
| `store` | the Chroma collections (chunks, articles), their write order, check |
"""

from askdocs.index.lock import IndexBusyError, StoreError, ingest_lock

__all__ = ["IndexBusyError", "StoreError", "ingest_lock"]
