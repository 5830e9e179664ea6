"""The `Assistant` facade: ingest articles, then ask questions that come back cited."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.language_models import BaseChatModel

from askdocs.answer.combiner import Combiner
from askdocs.answer.encoder import load_encoder
from askdocs.answer.extractive import ExtractiveAnswerer
from askdocs.answer.follow_ups import HistoryTurn
from askdocs.answer.generative import GenerativeAnswerer
from askdocs.answer.pipeline import QuestionPipeline
from askdocs.citations import CitationVerifier
from askdocs.config import Settings, load_settings
from askdocs.embeddings import SentenceVectors, TokenAwareEmbeddings, make_embedder
from askdocs.index import ingest_lock
from askdocs.index.ingest import Ingester, ProgressCallback
from askdocs.index.local import open_index
from askdocs.index.store import ChromaStore, check_index
from askdocs.llms import make_chat_model
from askdocs.loaders import Fetcher, is_url
from askdocs.retrieval import PassageRetriever
from askdocs.types import Answer, Filters, IngestReport

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
        self._answerer: ExtractiveAnswerer | None = None
        self._chat_model = chat_model
        self._generative: GenerativeAnswerer | None = None
        self._lock = threading.Lock()

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
        with ingest_lock(self.settings):
            store = self._open_store(create=True, locked=True)
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

    @property
    def pipeline(self) -> QuestionPipeline:
        """The question path (answer/pipeline.py), wired from this Assistant's parts."""
        store = self.store
        return QuestionPipeline(
            store=store,
            retriever=lambda k, filters: self._retriever(store, k, filters),
            sentence_vectors=self.sentence_vectors,
            extractive=self.answerer,
            generative=self.generative,
            settings_hash=self.settings.settings_hash(),
            refresh_seconds=self.settings.index_refresh_seconds,
            fallback_extractive=self.settings.llm_fallback_extractive,
            backend=self.settings.llm,
        )

    def _retriever(
        self, store: ChromaStore, k: int | None, filters: Filters | None
    ) -> PassageRetriever:
        return PassageRetriever(
            store=store,
            embedder=self.embedder,
            k=k or self.settings.k,
            fetch_k=self.settings.fetch_k,
            mode=self.settings.retrieval,
            fusion=self.settings.fusion,
            rrf_k=self.settings.rrf_k,
            dense_weight=self.settings.dense_weight,
            keyword_weight=self.settings.keyword_weight,
            max_per_article=self.settings.max_per_article,
            mmr=self.settings.mmr,
            mmr_lambda=self.settings.mmr_lambda,
            filters=filters,
        )

    @cached_property
    def sentence_vectors(self) -> SentenceVectors:
        return SentenceVectors(self.embedder)

    @property
    def answerer(self) -> ExtractiveAnswerer:
        if self._answerer is None:
            combiner = Combiner.load(self.settings.answer_weights)
            if self.settings.abstain_threshold is not None:
                combiner = replace(combiner, abstain_threshold=self.settings.abstain_threshold)
            self._answerer = ExtractiveAnswerer(
                self.embedder,
                combiner,
                sentence_vectors=self.sentence_vectors,
                term_rarity=self._term_rarity,
                max_articles=self.settings.candidate_articles,
                max_sentences=self.settings.answer_sentences,
                # 0 answers whatever it finds: no off-topic, year or probability refusal.
                abstain=self.settings.abstain_threshold != 0,
                question_encoder=self._question_encoder(combiner),
            )
        return self._answerer

    def _term_rarity(self, terms: Iterable[str]) -> dict[str, float]:
        """Rare words weigh more, by this machine's keyword index; while that index is still
        filling from Chroma (a new machine), no weighting, as for a store without one."""
        store = self.store
        if not store.keywords_ready.is_set():
            return {}
        return store.keywords.inverse_document_frequency(terms)

    def _question_encoder(self, combiner: Combiner) -> Callable[[str], np.ndarray] | None:
        """The ranker's tuned question encoder, when the index's sentence vectors come from the
        model it was tuned against; loaded on first use."""
        if combiner.encoder_layers is None:
            return None
        folder = getattr(self.embedder, "model_path", None)  # None: a stand-in embedder
        if folder is None or self.settings.embedding_model != combiner.encoder_base_model:
            return None
        layers, sha = combiner.encoder_layers, combiner.encoder_sha256
        first = combiner.encoder_first_layer
        embedder = self.embedder
        # The tuned model shares the layers below `first` with the retrieval model: the
        # question's pass for retrieval keeps its states there, and the tuned layers go on.
        embedder.keep_question_layer = first

        def encode(text: str) -> np.ndarray:
            encoder = load_encoder(layers, sha, folder, first)
            hidden = embedder.question_hidden(text, first)
            if hidden is None:
                return encoder.encode([text])[0]
            return encoder.encode_from(hidden, first)

        return encode

    @property
    def generative(self) -> GenerativeAnswerer | None:
        """The LLM answerer, or None when the backend is extractive."""
        if self._generative is None and self.settings.llm != "extractive":
            chat_model = self._chat_model or make_chat_model(self.settings)
            self._generative = GenerativeAnswerer(
                chat_model,
                CitationVerifier(
                    self.embedder, self.settings.verify_threshold, self.sentence_vectors
                ),
                strict=self.settings.strict,
            )
        return self._generative

    # ------------------------------------------------------------- maintenance

    def remove(self, reference: str) -> list[str]:
        """Remove articles by id, by file path, or every article under a folder.

        Takes the ingest lock: a removal never interleaves with an ingest of the same index.
        """
        with ingest_lock(self.settings):
            return self._remove(reference)

    def _remove(self, reference: str) -> list[str]:
        store = self.store
        store.finish_interrupted()
        store.ensure_catalogue_fields()
        path = Path(reference).expanduser().resolve()
        found = (
            store.article_records([reference])
            | store.records_from_source(reference)
            | store.records_under([path])
        )
        matches = sorted(found)
        for article_id in matches:
            store.delete_article(article_id)
        return matches

    def check(self) -> list[str]:
        """Problems found in the index (orphan or mismatched chunks, wrong counts, duplicates)."""
        self.store.keywords_ready.wait()  # this machine's cache is checked once it caught up
        return check_index(self.store)

    def stats(self) -> dict[str, Any]:
        counts = self.store.counts()
        return {**counts, "index": self.store.where, "settings_hash": self.settings.settings_hash()}
