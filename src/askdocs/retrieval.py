"""Top-k passages for a question, as a LangChain retriever, with optional MMR and filters."""

from __future__ import annotations

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from askdocs.store import ChromaStore
from askdocs.types import Filters, Passage


class PassageRetriever(BaseRetriever):
    """Dense retrieval over the chunk collection.

    >>> retriever = PassageRetriever(store=store, embedder=embedder, k=5)  # doctest: +SKIP
    >>> retriever.invoke("Who did Rubio accuse?")[0].metadata["title"]  # doctest: +SKIP
    'Does the Venezuela Regime Support Criminal Groups?'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ChromaStore
    embedder: Embeddings
    k: int = 5
    fetch_k: int = 20
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
        query_vector = np.asarray(self.embedder.embed_query(query))
        if not self.mmr:
            return [p for p, _ in self.store.search(query_vector, k, filters)]
        hits = self.store.search(query_vector, max(k, self.fetch_k), filters)
        chosen = mmr_select(query_vector, [v for _, v in hits], k, self.mmr_lambda)
        return [hits[i][0] for i in chosen]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [passage_to_document(p) for p in self.search(query)]


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
