"""Top-k passages for a question, as a LangChain retriever: hybrid search, caps, MMR, filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from askdocs.keywords import content_terms
from askdocs.store import ChromaStore
from askdocs.types import Filters, Passage


class PassageRetriever(BaseRetriever):
    """Hybrid retrieval: dense (Chroma) and keyword (BM25) results fused by reciprocal rank.

    `mode` "dense" or "keyword" uses one side only (for comparisons). Every passage's score is
    its cosine similarity to the question, whichever side found it, so later stages (sentence
    scoring, abstention) see one scale.

    >>> retriever = PassageRetriever(store=store, embedder=embedder, k=5)  # doctest: +SKIP
    >>> retriever.invoke("Who did Rubio accuse?")[0].metadata["title"]  # doctest: +SKIP
    'Does the Venezuela Regime Support Criminal Groups?'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ChromaStore
    embedder: Embeddings
    k: int = 5
    fetch_k: int = 20
    mode: Literal["hybrid", "dense", "keyword"] = "hybrid"
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
        if self.mode != "dense" and not self.store.keywords.knows_any(content_terms(query)):
            # Only stop words, or words no article uses: nothing to find, and no model call.
            return []
        query_vector = np.asarray(self.embedder.embed_query(query))
        fetch = max(k, self.fetch_k)
        rankings: list[tuple[float, list[str]]] = []
        found: dict[str, tuple[Passage, np.ndarray]] = {}
        if self.mode != "keyword":
            dense = self.store.search(query_vector, fetch, filters)
            found.update((p.chunk.id, (p, v)) for p, v in dense)
            rankings.append((self.dense_weight, [p.chunk.id for p, _ in dense]))
        if self.mode != "dense":
            keyword = [hit.chunk_id for hit in self.store.keywords.search(query, fetch, filters)]
            missing = [chunk_id for chunk_id in keyword if chunk_id not in found]
            for passage, vector in self.store.get_chunks(missing):
                similarity = float(vector @ query_vector)
                found[passage.chunk.id] = (replace(passage, score=similarity), vector)
            rankings.append((self.keyword_weight, [c for c in keyword if c in found]))
        ranked = [found[chunk_id] for chunk_id in reciprocal_rank_fusion(rankings, self.rrf_k)]
        if self.max_per_article:
            ranked = cap_per_article(ranked, self.max_per_article)
        if not self.mmr:
            return [p for p, _ in ranked[:k]]
        chosen = mmr_select(query_vector, [v for _, v in ranked], k, self.mmr_lambda)
        return [ranked[i][0] for i in chosen]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [passage_to_document(p) for p in self.search(query)]


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


def cap_per_article(
    ranked: Sequence[tuple[Passage, np.ndarray]], cap: int
) -> list[tuple[Passage, np.ndarray]]:
    """Keep at most `cap` passages per article, so one long article cannot crowd out the rest;
    the passages over the cap go to the back rather than away (used if nothing else is left)."""
    kept, overflow = [], []
    per_article: dict[str, int] = {}
    for item in ranked:
        article_id = item[0].chunk.article_id
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


def passage_to_document(passage: Passage) -> Document:
    chunk = passage.chunk
    return Document(
        page_content=chunk.text,
        id=chunk.id,
        metadata={
            "article_id": chunk.article_id,
            "chunk_index": chunk.index,
            "start": chunk.start,
            "end": chunk.end,
            "score": passage.score,
            "title": passage.title,
            "source": passage.source,
            "published": passage.published.isoformat() if passage.published else None,
            **{f"meta_{k}": v for k, v in passage.metadata.items()},
        },
    )
