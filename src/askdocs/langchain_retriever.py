"""askdocs retrieval as a LangChain retriever, for chains built on an askdocs index (LCEL).

The same search as the question path (`retrieval.PassageSearch`: hybrid, filters, caps), its
passages as `Document`s with their article, offsets and score in the metadata. Imported only
when asked for (`Assistant.as_retriever()`): `langchain_core.retrievers` loads LangChain's
tracing, about 1 s on 2 cores, which answering a question does not need.
"""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from askdocs.retrieval import PassageSearch
from askdocs.types import Passage


class PassageRetriever(BaseRetriever):
    """A LangChain retriever over one `PassageSearch`.

    >>> retriever = assistant.as_retriever(k=3)  # doctest: +SKIP
    >>> retriever.invoke("Who did Rubio accuse?")[0].metadata["title"]  # doctest: +SKIP
    'Does the Venezuela Regime Support Criminal Groups?'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    passages: PassageSearch

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [passage_to_document(p) for p in self.passages.search(query)]


def passage_to_document(passage: Passage) -> Document:
    """A passage as a LangChain Document: its chunk text; where it lies and what it scored."""
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
