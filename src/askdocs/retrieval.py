"""Top-k passages for a question: hybrid search, caps, MMR, filters.

`PassageSearch` is the question path's retrieval; `langchain_retriever.PassageRetriever` is the
same search as a LangChain retriever (`Assistant.as_retriever()`), kept apart because importing
`langchain_core.retrievers` loads LangChain's tracing (about 1 s on 2 cores), which answering a
question does not need."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from askdocs.index.keywords import content_terms
from askdocs.index.store import ChromaStore
from askdocs.types import ChunkHit, Filters, Passage

KEYWORD_CACHE_WAIT_SECONDS = 1.0
"""How long a hybrid search waits for a keyword cache being filled from Chroma before it
searches dense-only: long enough for a small index's fill, short next to a large one's (about
a minute per million chunks)."""


@dataclass(frozen=True)
class PassageSearch:
    """Hybrid retrieval: dense (Chroma) and keyword (BM25) results fused by score (or rank).

    `mode` "dense" or "keyword" uses one side only (for comparisons). Every passage's score is
    its cosine similarity to the question, whichever side found it, so later stages (sentence
    scoring, abstention) see one scale. The options come from validated Settings.

    >>> search = PassageSearch(store=store, embedder=embedder, k=5)  # doctest: +SKIP
    >>> search.search("Who did Rubio accuse?")[0].title  # doctest: +SKIP
    'Does the Venezuela Regime Support Criminal Groups?'
    """

    store: ChromaStore
    embedder: Embeddings
    k: int = 5
    fetch_k: int = 20
    mode: Literal["hybrid", "dense", "keyword"] = "hybrid"
    fusion: Literal["rrf", "scores"] = "scores"
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    max_per_article: int = 0
    mmr: bool = False
    mmr_lambda: float = 0.6
    filters: Filters | None = None

    def search(
        self, query: str, k: int | None = None, filters: Filters | None = None
    ) -> list[Passage]:
        k = self.k if k is None else k
        if k <= 0:
            raise ValueError(f"k must be > 0, got {k}")
        filters = self.filters if filters is None else filters
        mode = self._mode()
        if mode != "dense" and not self.store.keywords.knows_any(content_terms(query)):
            # Only stop words, or words no article uses: nothing to find, and no model call.
            return []
        fetch = max(k, self.fetch_k)
        parts = comparison_parts(query)
        if parts:
            # "Which was bigger: A or B?" needs a passage about A and one about B; searching
            # the whole question finds whichever side its words favour, twice.
            ranked = interleave([self._ranked(part, fetch, filters, mode)[1] for part in parts])
        else:
            query_vector, ranked = self._ranked(query, fetch, filters, mode)
        if self.max_per_article:
            ranked = cap_per_article(ranked, self.max_per_article)
        if not self.mmr or parts:
            return self._passages(ranked[:k])
        chosen = mmr_select(query_vector, [hit.vector for hit in ranked], k, self.mmr_lambda)
        return self._passages([ranked[i] for i in chosen])

    def _passages(self, hits: Sequence[ChunkHit]) -> list[Passage]:
        """The hits' passages, those not read yet read in one go, scored as found."""
        unread = [hit.chunk_id for hit in hits if hit.passage is None]
        read = {p.chunk.id: p for p, _ in self.store.get_chunks(unread, vectors=False)}
        passages = []
        for hit in hits:
            passage = hit.passage or read.get(hit.chunk_id)
            if passage is not None:  # None: deleted since the search (another writer)
                passages.append(replace(passage, score=hit.score))
        return passages

    def _mode(self) -> str:
        """The configured mode, except that hybrid search runs dense-only while this machine's
        keyword cache is still being filled from Chroma (a new machine's first questions on a
        large index), after waiting up to KEYWORD_CACHE_WAIT_SECONDS for it."""
        ready = self.store.keywords_ready
        if self.mode == "keyword":
            ready.wait()  # keyword-only has nothing else to search
        elif self.mode == "hybrid" and not ready.wait(KEYWORD_CACHE_WAIT_SECONDS):
            return "dense"
        return self.mode

    def _ranked(
        self, query: str, fetch: int, filters: Filters | None, mode: str
    ) -> tuple[np.ndarray, list[ChunkHit]]:
        """Candidates for one query, best first. Their passages are read here only when
        capping per article needs their articles, their vectors only for MMR; otherwise only
        the final k passages are read (`_passages`)."""
        query_vector = np.asarray(self.embedder.embed_query(query))
        passages, vectors = bool(self.max_per_article), self.mmr
        found: dict[str, ChunkHit] = {}
        dense_ids: list[str] = []
        if mode != "keyword":
            dense = self.store.search(query_vector, fetch, filters, passages, vectors)
            found.update((hit.chunk_id, hit) for hit in dense)
            dense_ids = [hit.chunk_id for hit in dense]
        keyword_scores: dict[str, float] = {}
        if mode != "dense":
            hits = self.store.keywords.search(query, fetch, filters, also_score=dense_ids)
            keyword_scores = {hit.chunk_id: hit.score for hit in hits}
            missing = [hit.chunk_id for hit in hits if hit.chunk_id not in found and hit.score > 0]
            # Every candidate is scored by its cosine similarity, whichever side found it.
            if passages:
                for passage, vector in self.store.get_chunks(missing):
                    score = float(vector @ query_vector)
                    found[passage.chunk.id] = ChunkHit(passage.chunk.id, score, passage, vector)
            else:
                for chunk_id, vector in self.store.chunk_vectors(missing).items():
                    found[chunk_id] = ChunkHit(chunk_id, float(vector @ query_vector), None, vector)
        keyword_ids = [
            c for c, score in sorted(keyword_scores.items(), key=lambda x: -x[1])
            if c in found and score > 0
        ]  # fmt: skip
        if mode == "dense":
            order = dense_ids
        elif mode == "keyword":
            order = keyword_ids
        elif self.fusion == "rrf":
            order = reciprocal_rank_fusion(
                [(self.dense_weight, dense_ids), (self.keyword_weight, keyword_ids)], self.rrf_k
            )
        else:
            order = relative_score_fusion(
                {c: hit.score for c, hit in found.items()},
                {c: keyword_scores.get(c, 0.0) for c in found},
                self.dense_weight,
                self.keyword_weight,
            )
        return query_vector, [found[chunk_id] for chunk_id in order]


_COMPARISON = re.compile(r"^(?P<stem>[^:,]+?)\s*[:,]\s*(?P<a>[^:,]+?)\s+or\s+(?P<b>[^:,?]+)\?*\s*$")


def comparison_parts(question: str) -> list[str] | None:
    """The two searches a "stem: A or B?" question needs, or None for other questions.

    >>> comparison_parts("Who was older when he died: actor Dan O'Herlihy or Cyril Fletcher?")
    ["Who was older when he died actor Dan O'Herlihy", 'Who was older when he died Cyril Fletcher']
    >>> comparison_parts("Who did Rubio accuse?") is None
    True
    """
    match = _COMPARISON.match(question.strip())
    if not match:
        return None
    return [f"{match['stem']} {match['a']}", f"{match['stem']} {match['b']}"]


def interleave(lists: Sequence[Sequence[ChunkHit]]) -> list[ChunkHit]:
    """Take the best of each list in turn, skipping chunks already taken."""
    merged, seen = [], set()
    for row in itertools.zip_longest(*lists):
        for item in row:
            if item is not None and item.chunk_id not in seen:
                seen.add(item.chunk_id)
                merged.append(item)
    return merged


def relative_score_fusion(
    dense: dict[str, float], keyword: dict[str, float], dense_weight: float, keyword_weight: float
) -> list[str]:
    """Ids ordered by the weighted sum of their min-max normalised dense and keyword scores.

    Every candidate has both scores (its cosine similarity, and its BM25 score, 0 without a
    query word), so a chunk found by one side is not penalised for the other side's cut-off.

    >>> relative_score_fusion({"a": 0.6, "b": 0.5, "c": 0.7}, {"a": 0, "b": 9, "c": 6}, 1, 1)
    ['c', 'b', 'a']
    >>> relative_score_fusion({}, {}, 1, 1)  # filters that match nothing
    []
    """

    def normalised(scores: dict[str, float]) -> dict[str, float]:
        if not scores:
            return {}
        low, high = min(scores.values()), max(scores.values())
        span = (high - low) or 1.0
        return {c: (s - low) / span for c, s in scores.items()}

    d, k = normalised(dense), normalised(keyword)
    return sorted(dense, key=lambda c: -(dense_weight * d[c] + keyword_weight * k[c]))


def reciprocal_rank_fusion(rankings: Sequence[tuple[float, Sequence[str]]], k: int) -> list[str]:
    """Ids ordered by sum of weight / (k + rank) over the rankings they appear in.

    >>> reciprocal_rank_fusion([(1.0, ["a", "b"]), (1.0, ["b", "c"])], k=60)
    ['b', 'a', 'c']
    """
    scores: dict[str, float] = {}
    for weight, ids in rankings:
        for rank, item in enumerate(ids, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores, key=lambda item: -scores[item])


def cap_per_article(ranked: Sequence[ChunkHit], cap: int) -> list[ChunkHit]:
    """Keep at most `cap` passages per article, so one long article cannot crowd out the rest;
    the passages over the cap go to the back rather than away (used if nothing else is left).
    The hits carry their passages (`_ranked` reads them when a cap is set; a hit without one
    counts as an article of its own)."""
    kept, overflow = [], []
    per_article: dict[str, int] = {}
    for item in ranked:
        article_id = item.passage.chunk.article_id if item.passage else item.chunk_id
        per_article[article_id] = per_article.get(article_id, 0) + 1
        (kept if per_article[article_id] <= cap else overflow).append(item)
    return kept + overflow


def mmr_select(query: np.ndarray, vectors: list[np.ndarray], k: int, lambda_: float) -> list[int]:
    """Maximal marginal relevance over unit vectors: relevant, but unlike what is chosen."""
    if not vectors:
        return []
    matrix = np.vstack(vectors)
    relevance = matrix @ query
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(k, len(vectors)):
        redundancy = (matrix @ matrix[chosen].T).max(axis=1)
        scores = lambda_ * relevance - (1 - lambda_) * redundancy
        scores[chosen] = -np.inf
        chosen.append(int(np.argmax(scores)))
    return chosen
