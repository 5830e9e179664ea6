"""The change log: which articles each write changed, numbered by generation, kept in Chroma.

Every process that reads an index keeps local caches of it (the keyword index). A cache records
the generation it reflects; to catch up it asks Chroma for the log records after that
generation (one small request) and refreshes only the articles they name. A cache older than
the oldest record kept, or one that sees a gap in the numbers, rebuilds from Chroma instead.

Records live in their own collection, `<collection>_changes`: id = generation (zero-padded),
metadata {generation, articles (JSON list), at (unix time)}. Beside them, while a write is in
progress, its journal: records `pending-<n>` {kind: "pending", articles}, deleted once the
write is logged; a writer that finds them cleans up after one that died. Chroma wants a
vector for every record; a one-dimensional vector holding the generation number gives its HNSW
index distinct points. The current generation is also kept in the collection's metadata, so
the writer does not have to search for the largest number.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ARTICLES_PER_RECORD_BYTES = 3900
"""JSON of one record's article ids stays under Chroma Cloud's 4,096-byte metadata value."""

READ_LIMIT = 300
"""Records read in one request (Chroma Cloud returns at most 300); a process that is further
behind than that rebuilds its cache from Chroma instead of replaying the log."""

PENDING = "pending-"
"""Id prefix of journal records (a write in progress), kept apart from generations."""

KEEP_RECORDS = 10_000
"""Records kept; older ones are deleted as new ones arrive (a cache that far behind rebuilds)."""


@dataclass(frozen=True)
class Changes:
    """What changed after a generation: the newest generation and the articles it touched.

    `complete` is False when the log cannot say (records pruned or too many): rebuild."""

    generation: int
    article_ids: frozenset[str]
    complete: bool = True


def pieces(article_ids: Sequence[str], limit: int = ARTICLES_PER_RECORD_BYTES) -> list[list[str]]:
    """Article ids cut into groups whose JSON fits one metadata value."""
    groups: list[list[str]] = [[]]
    size = 2
    for article_id in dict.fromkeys(article_ids):
        cost = len(json.dumps(article_id)) + 2
        if groups[-1] and size + cost > limit:
            groups.append([])
            size = 2
        groups[-1].append(article_id)
        size += cost
    return [g for g in groups if g]


def changes_after(generation: int, records: Sequence[dict[str, Any]], limit: int) -> Changes:
    """Fold log records (metadatas) newer than `generation` into one Changes.

    Complete only if the records continue the numbering without a gap (nothing pruned or
    unread) and fewer than `limit` came back (nothing left unread)."""
    numbers = sorted(int(r["generation"]) for r in records)
    if not numbers:
        return Changes(generation, frozenset())
    contiguous = numbers == list(range(generation + 1, generation + 1 + len(numbers)))
    articles = frozenset(a for r in records for a in json.loads(str(r["articles"])))
    return Changes(numbers[-1], articles, contiguous and len(numbers) < limit)


class ChangeLog:
    """The log collection of one index (see the module's docstring)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.name = f"{prefix}_changes"
        self.collection = client.get_or_create_collection(self.name, embedding_function=None)
        # Whether this process knows that no journal is open (it ended one, or looked and
        # found none): then `begin` has nothing to clear first, one Chroma write fewer.
        self._journal_clear = False

    def current(self) -> int:
        """The newest generation written (read fresh: another process may have written)."""
        metadata = self.client.get_collection(self.name).metadata or {}
        return int(metadata.get("generation", 0))

    def record(self, article_ids: Sequence[str], after: int | None = None) -> int:
        """Log a write that changed these articles; returns its last generation. Called by
        the one writer (the index lock), after the write, so a reader that sees a record
        finds the articles as written. `after`: the current generation, if already read."""
        generation = self.current() if after is None else after
        groups = pieces(article_ids)
        if not groups:
            return generation
        numbers = list(range(generation + 1, generation + 1 + len(groups)))
        self.collection.add(
            ids=[f"{n:016d}" for n in numbers],
            embeddings=np.asarray([[float(n)] for n in numbers], dtype=np.float32),
            metadatas=[
                {"generation": n, "articles": json.dumps(group), "at": time.time()}
                for n, group in zip(numbers, groups, strict=True)
            ],
        )
        self.collection.modify(metadata={"generation": numbers[-1]})
        if numbers[-1] > KEEP_RECORDS and numbers[-1] // 1000 != generation // 1000:
            self.collection.delete(where={"generation": {"$lte": numbers[-1] - KEEP_RECORDS}})
        return numbers[-1]

    def begin(self, article_ids: Sequence[str]) -> None:
        """Journal a write before it starts: if the writer dies, the next writer cleans up
        exactly these articles (store.finish_interrupted)."""
        if not self._journal_clear:
            self.end()
        self._journal_clear = False
        groups = pieces(article_ids)
        self.collection.upsert(
            ids=[f"{PENDING}{n}" for n in range(len(groups))],
            embeddings=np.asarray([[-1.0 - n] for n in range(len(groups))], dtype=np.float32),
            metadatas=[{"kind": "pending", "articles": json.dumps(group)} for group in groups],
        )

    def end(self) -> None:
        """The journalled write is finished (and logged)."""
        self.collection.delete(where={"kind": "pending"})
        self._journal_clear = True

    def pending(self) -> list[str]:
        """Articles of a write that began and never finished."""
        found = self.collection.get(where={"kind": "pending"}, include=["metadatas"])
        self._journal_clear = not found["ids"]
        return [a for meta in found["metadatas"] or [] for a in json.loads(str(meta["articles"]))]

    def after(self, generation: int) -> Changes:
        """The changes after `generation`, from one request."""
        found = self.collection.get(
            where={"generation": {"$gt": generation}}, include=["metadatas"], limit=READ_LIMIT
        )
        return changes_after(generation, found["metadatas"] or [], READ_LIMIT)
