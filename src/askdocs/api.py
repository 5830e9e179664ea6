"""The `Assistant` facade: ingest articles, then ask questions that come back cited."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from askdocs.answer.extractive import ExtractiveAnswerer
from askdocs.answer.follow_ups import HistoryTurn
from askdocs.answer.parts import AnswerParts
from askdocs.answer.pipeline import QuestionPipeline
from askdocs.config import Settings, load_settings
from askdocs.embeddings import TokenAwareEmbeddings, make_embedder
from askdocs.index import ingest_lock
from askdocs.index.ingest import Ingester, ProgressCallback, remove_articles
from askdocs.index.local import open_index
from askdocs.index.store import ChromaStore, check_index
from askdocs.loaders import Fetcher, is_url
from askdocs.types import Answer, Filters, IngestReport

if TYPE_CHECKING:  # LangChain's model and retriever classes load its tracing (~1 s): only
    # an LLM backend or a LangChain chain needs them, not an extractive answer.
    from langchain_core.language_models import BaseChatModel
    from langchain_core.retrievers import BaseRetriever

    from askdocs.answer.generative import GenerativeAnswerer

__all__ = ["Assistant", "ProgressCallback"]


class Assistant:
    """Question answering over a folder of articles, with citations to exact passages.

    >>> assistant = Assistant(index_dir="index")  # doctest: +SKIP
    >>> assistant.ingest(["examples/articles"]).added  # doctest: +SKIP
    1
    >>> answer = assistant.ask("Who did Rubio accuse?")  # doctest: +SKIP
    >>> answer.citations[0].quote  # doctest: +SKIP
    'Washington, Dec 20 (NationPress) US Secretary of State Marco Rubio has accused ...'
    """

    def __init__(
        self,
        index_dir: str | Path | None = None,
        *,
        settings: Settings | None = None,
        embedder: TokenAwareEmbeddings | None = None,
        chat_model: BaseChatModel | None = None,
        config_file: str | Path | None = None,
        **overrides: Any,
    ) -> None:
        if settings is None:
            settings = load_settings(config_file, index_dir=index_dir, **overrides)
        elif index_dir is not None or overrides:
            settings = settings.updated(index_dir=index_dir, **overrides)
        self.settings = settings
        self._embedder = embedder
        self._store: ChromaStore | None = None
        self._lock = threading.Lock()
        self.parts = AnswerParts(settings, lambda: self.embedder, lambda: self.store, chat_model)

    def variant(self, **overrides: Any) -> Assistant:
        """Another Assistant over the same index and embedder, with some settings changed."""
        return Assistant(settings=self.settings.updated(**overrides), embedder=self._embedder)

    @property
    def embedder(self) -> TokenAwareEmbeddings:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings)
        return self._embedder

    def _open_store(self, create: bool, locked: bool = False) -> ChromaStore:
        """The store, opened once per Assistant; `locked`: the caller holds the ingest lock."""
        with self._lock:
            if self._store is None:
                self._store = open_index(self.settings, create=create, locked=locked)
            return self._store

    @property
    def store(self) -> ChromaStore:
        return self._open_store(create=False)

    @contextmanager
    def writing(self, create: bool = False) -> Iterator[ChromaStore]:
        """The store, for a block that writes it: one writer per index, by the OS file lock on
        this machine and, with a Chroma server, the writer lease across machines."""
        with ingest_lock(self.settings):
            store = self._open_store(create=create, locked=True)
            with store.writing(self.settings.writer_lease_seconds):
                yield store

    # ----------------------------------------------------------------- ingest

    def ingest(
        self,
        paths: Iterable[str | Path],
        progress: ProgressCallback | None = None,
        *,
        feeds: Iterable[str] = (),
        fetcher: Fetcher | None = None,
    ) -> IngestReport:
        """Index files, folders, web pages (http/https URLs, feeds detected) and `feeds`.

        Unchanged articles cost nothing, changed ones are replaced. One bad file or URL never
        stops the others: it is reported as skipped with its reason. Ctrl-C stops after the
        article being written; what was written stays indexed. `fetcher` is for tests.
        """
        items = [str(p) if is_url(str(p)) else Path(p).expanduser() for p in paths]
        urls = [item for item in items if isinstance(item, str)]
        local = [item for item in items if isinstance(item, Path)]
        feeds = [str(f) for f in feeds]
        missing = [str(p) for p in local if not p.exists()]
        if missing:
            raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
        with self.writing(create=True) as store:
            return Ingester(self.settings, self.embedder, store).run(
                local, urls, feeds, progress, fetcher
            )

    # -------------------------------------------------------------------- ask

    def ask(
        self,
        question: str,
        history: Sequence[HistoryTurn] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Answer from the indexed articles, citing the sentences used, or abstain."""
        *_, answer = self.stream(question, history=history, k=k, filters=filters)
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[HistoryTurn] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the final, verified `Answer`.

        With a generative backend the pieces are the model's raw words; the final Answer holds
        the verified text, which may differ (unsupported citations removed, markers renumbered).
        """
        yield from self.pipeline.stream(question, history=history, k=k, filters=filters)

    def as_retriever(self, k: int | None = None, filters: Filters | None = None) -> BaseRetriever:
        """The index's retrieval as a LangChain retriever, for LCEL chains of your own: the
        same hybrid search and filters as `ask`, passages as Documents (article, offsets and
        score in the metadata)."""
        from askdocs.langchain_retriever import PassageRetriever

        if k is not None and k <= 0:
            raise ValueError(f"k must be > 0, got {k}")
        return PassageRetriever(passages=self.parts.retriever(self.store, k, filters))

    @property
    def pipeline(self) -> QuestionPipeline:
        """The question path (answer/pipeline.py), wired from this Assistant's parts."""
        return self.parts.pipeline

    @property
    def answerer(self) -> ExtractiveAnswerer:
        return self.parts.answerer

    @property
    def generative(self) -> GenerativeAnswerer | None:
        """The LLM answerer, or None when the backend is extractive."""
        return self.parts.generative

    # ------------------------------------------------------------- maintenance

    def remove(self, reference: str) -> list[str]:
        """Remove articles by id, by file path, or every article under a folder.

        Takes the ingest lock: a removal never interleaves with an ingest of the same index.
        """
        with self.writing() as store:
            return remove_articles(store, reference)

    def check(self) -> list[str]:
        """Problems found in the index (orphan or mismatched chunks, wrong counts, duplicates)."""
        self.store.keywords_ready.wait()  # this machine's cache is checked once it caught up
        return check_index(self.store)

    def stats(self) -> dict[str, Any]:
        counts = self.store.counts()
        return {**counts, "index": self.store.where, "settings_hash": self.settings.settings_hash()}
