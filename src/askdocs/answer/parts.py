"""The question path's parts, built from one Settings: retriever, answerers, encoders.

`Assistant` owns settings, the embedder and the store; `AnswerParts` turns them into the
`QuestionPipeline` (answer/pipeline.py) and keeps what is costly to build (the fitted
combiner, the tuned question encoder, the LLM) for the Assistant's lifetime.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from askdocs.answer.combiner import Combiner
from askdocs.answer.encoder import load_encoder
from askdocs.answer.extractive import ExtractiveAnswerer
from askdocs.answer.pipeline import QuestionPipeline
from askdocs.citations import CitationVerifier
from askdocs.config import Settings
from askdocs.embeddings import SentenceVectors, TokenAwareEmbeddings
from askdocs.index.store import ChromaStore
from askdocs.llms import make_chat_model
from askdocs.retrieval import PassageSearch
from askdocs.types import Filters

if TYPE_CHECKING:  # the generative answerer loads LangChain's model classes (~1 s): only
    # when an LLM backend is configured
    from langchain_core.language_models import BaseChatModel

    from askdocs.answer.generative import GenerativeAnswerer


class AnswerParts:
    """Builds, once each, what answering a question needs; `pipeline` wires them."""

    def __init__(
        self,
        settings: Settings,
        embedder: Callable[[], TokenAwareEmbeddings],
        store: Callable[[], ChromaStore],
        chat_model: BaseChatModel | None = None,
    ) -> None:
        self.settings = settings
        # Getters: the model loads and the index opens on first use, not here.
        self._embedder = embedder
        self._store = store
        self._chat_model = chat_model
        self._answerer: ExtractiveAnswerer | None = None
        self._generative: GenerativeAnswerer | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> TokenAwareEmbeddings:
        return self._embedder()

    @property
    def pipeline(self) -> QuestionPipeline:
        """The question path (answer/pipeline.py) over the index."""
        store = self._store()
        s = self.settings
        return QuestionPipeline(
            store=store,
            retriever=lambda k, filters: self.retriever(store, k, filters),
            sentence_vectors=self.sentence_vectors,
            extractive=self.answerer,
            generative=self.generative,
            settings_hash=s.settings_hash(),
            refresh_seconds=s.index_refresh_seconds,
            fallback_extractive=s.llm_fallback_extractive,
            backend=s.llm,
        )

    def retriever(
        self, store: ChromaStore, k: int | None = None, filters: Filters | None = None
    ) -> PassageSearch:
        s = self.settings
        return PassageSearch(
            store=store,
            embedder=self.embedder,
            k=k or s.k,
            fetch_k=s.fetch_k,
            mode=s.retrieval,
            fusion=s.fusion,
            rrf_k=s.rrf_k,
            dense_weight=s.dense_weight,
            keyword_weight=s.keyword_weight,
            max_per_article=s.max_per_article,
            mmr=s.mmr,
            mmr_lambda=s.mmr_lambda,
            filters=filters,
        )

    @cached_property
    def sentence_vectors(self) -> SentenceVectors:
        return SentenceVectors(self.embedder)

    @property
    def answerer(self) -> ExtractiveAnswerer:
        with self._lock:
            if self._answerer is None:
                self._answerer = self._extractive()
            return self._answerer

    def _extractive(self) -> ExtractiveAnswerer:
        s = self.settings
        combiner = Combiner.load(s.answer_weights)
        if s.abstain_threshold is not None:
            combiner = replace(combiner, abstain_threshold=s.abstain_threshold)
        return ExtractiveAnswerer(
            self.embedder,
            combiner,
            sentence_vectors=self.sentence_vectors,
            term_rarity=self._term_rarity,
            rarity_passages=self._rarity_passages,
            max_articles=s.candidate_articles,
            max_sentences=s.answer_sentences,
            # 0 answers whatever it finds: no off-topic, year or probability refusal.
            abstain=s.abstain_threshold != 0,
            question_encoder=self._question_encoder(combiner),
            answering_encoder=(
                self._question_encoder(combiner.answering) if combiner.answering else None
            ),
        )

    def _term_rarity(self, terms: Iterable[str]) -> dict[str, float]:
        """Rare words weigh more, by this machine's keyword index; while that index is still
        filling from Chroma (a new machine), no weighting, as for a store without one."""
        store = self._store()
        if not store.keywords_ready.is_set():
            return {}
        return store.keywords.inverse_document_frequency(terms)

    def _rarity_passages(self) -> int:
        """Passages the keyword index's rarities are measured over (0 while it fills)."""
        store = self._store()
        return store.keywords.passages() if store.keywords_ready.is_set() else 0

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
        with self._lock:
            if self._generative is None and self.settings.llm != "extractive":
                from askdocs.answer.generative import GenerativeAnswerer

                s = self.settings
                self._generative = GenerativeAnswerer(
                    self._chat_model or make_chat_model(s),
                    CitationVerifier(self.embedder, s.verify_threshold, self.sentence_vectors),
                    strict=s.strict,
                )
            return self._generative
