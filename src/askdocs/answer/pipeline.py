"""The question pipeline: follow-up rewriting, retrieval, candidate sentences, then the
extractive or generative answer, streamed; `Assistant.ask` and `Assistant.stream` run this."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from askdocs.answer.candidates import Retrieved
from askdocs.answer.extractive import ExtractiveAnswerer
from askdocs.answer.follow_ups import HistoryTurn, history_turns, standalone_question
from askdocs.chunking import candidate_sentences
from askdocs.citations import claims_text
from askdocs.embeddings import SentenceVectors
from askdocs.index import StoreError
from askdocs.index.store import ChromaStore
from askdocs.llms import LLMError
from askdocs.retrieval import PassageSearch
from askdocs.types import CANNOT_ANSWER, Answer, Article, Chunk, Filters, Passage

if TYPE_CHECKING:
    from askdocs.answer.generative import GenerativeAnswerer

EMPTY_QUESTION = "the question is empty"


@dataclass
class QuestionPipeline:
    """Everything one question needs, wired once by the `Assistant`.

    >>> pipeline = assistant.pipeline  # doctest: +SKIP
    >>> *_, answer = pipeline.stream("Who did Rubio accuse?")  # doctest: +SKIP
    """

    store: ChromaStore
    retriever: Callable[[int | None, Filters | None], PassageSearch]
    sentence_vectors: SentenceVectors
    extractive: ExtractiveAnswerer
    generative: GenerativeAnswerer | None
    settings_hash: str
    fallback_extractive: bool
    backend: str = "extractive"
    # How stale this process's keyword cache may get before a question checks Chroma's change
    # log for writes by other processes (index/changes.py).
    refresh_seconds: float = 1.0

    def retrieve(
        self, question: str, k: int | None = None, filters: Filters | None = None
    ) -> Retrieved:
        """The passages for a (standalone) question, their articles and their other chunks."""
        # On failure, answered from this process's cache as it is; checked again next time.
        with contextlib.suppress(StoreError):
            self.store.catch_up(self.refresh_seconds)
        passages = self.retriever(k, filters).search(question)
        # The articles' chunks are read anyway (their text is assembled from them), and the
        # answerer looks at every sentence of the top articles: read once, kept for it.
        articles, read = self.store.articles_with_chunks(p.chunk.article_id for p in passages)
        # Chunks whose article record is missing come from an interrupted ingest: never cite them.
        passages = [p for p in passages if p.chunk.article_id in articles]
        loaded: set[str] = set()
        self.load_sentence_vectors([p.chunk for p in passages], articles, loaded)
        return Retrieved(passages, articles, self.chunks_of(articles, read, loaded))

    def chunks_of(
        self,
        articles: dict[str, Article],
        read: dict[str, list[Chunk]] | None = None,
        loaded: set[str] | None = None,
    ) -> Callable[[Sequence[str]], list[Chunk]]:
        """The stored chunks of some of these articles, their sentence vectors loaded; those
        already `read` are not read again, nor the vectors of the chunks in `loaded`."""
        read = read or {}
        loaded = set() if loaded is None else loaded

        def chunks(article_ids: Sequence[str]) -> list[Chunk]:
            wanted = list(dict.fromkeys(article_ids))
            missing = [a for a in wanted if a not in read]
            fetched: dict[str, list[Chunk]] = {}
            for chunk in self.store.article_chunks(missing) if missing else []:
                fetched.setdefault(chunk.article_id, []).append(chunk)
            found = [c for a in wanted for c in read.get(a, fetched.get(a, []))]
            self.load_sentence_vectors(found, articles, loaded)
            return found

        return chunks

    def load_sentence_vectors(
        self,
        chunks: Sequence[Chunk],
        articles: dict[str, Article],
        loaded: set[str] | None = None,
    ) -> None:
        """Put the sentence vectors stored at ingest for these chunks into the cache; chunks
        in `loaded` are skipped, and those loaded now are added to it (a question loads its
        passages' chunks, then every chunk of their top articles: the passages' again
        otherwise, each split into sentences and read from the cache twice)."""
        loaded = set() if loaded is None else loaded
        texts = {}
        for chunk in chunks:
            article = articles.get(chunk.article_id)
            if article is not None and chunk.id not in loaded:
                spans = candidate_sentences(article.text, chunk.start, chunk.end)
                texts[chunk.id] = [article.text[a:b] for a, b in spans]
        stored = self.store.sentence_vectors({c: len(t) for c, t in texts.items()})
        for chunk_id, matrix in stored.items():
            self.sentence_vectors.add(texts[chunk_id], matrix)
        loaded.update(stored)

    def stream(
        self,
        question: str,
        history: Sequence[HistoryTurn] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the final, verified `Answer`."""
        if not question or not question.strip():
            yield self._abstention(question or "", "", [], EMPTY_QUESTION)
            return
        question = question.strip()
        generative = self.generative
        standalone = standalone_question(question, history)
        note = ""
        if generative is not None and history:
            try:
                standalone = generative.rewrite_follow_up(question, history)
            except LLMError as exc:
                generative, note = None, self._fall_back(exc)
        retrieved = self.retrieve(standalone, k, filters)
        passages, articles = list(retrieved.passages), dict(retrieved.articles)
        if generative is not None:
            try:
                claims, citations = yield from generative.stream(standalone, passages, articles)
            except LLMError as exc:
                generative, note = None, self._fall_back(exc)
            else:
                yield Answer(
                    question=question,
                    text=claims_text(claims) if claims else CANNOT_ANSWER,
                    abstained=not claims,
                    citations=citations,
                    passages=passages,
                    standalone_question=standalone,
                    settings_hash=self.settings_hash,
                    claims=claims,
                    backend=self.backend,
                    note=note,
                    abstain_reason="" if claims else "the model found no support in the passages",
                )
                return
        said = [text for role, text in history_turns(history) if role in ("assistant", "ai")]
        extracted = self.extractive.answer(
            standalone, retrieved, latest_turn=question, already_said=said
        )
        claims = extracted.claims
        short = extracted.short_answer if claims else None
        text = extracted.text
        if short:
            text = f"**{short}** — {text}"
        yield from re.findall(r"\S+\s*", text)
        yield Answer(
            question=question,
            text=text,
            abstained=not claims,
            citations=extracted.citations,
            passages=passages,
            standalone_question=standalone,
            settings_hash=self.settings_hash,
            claims=claims,
            backend="extractive",
            note=note,
            confidence=extracted.confidence,
            abstain_reason=extracted.abstain_reason if not claims else "",
            short_answer=short,
        )

    def _abstention(
        self, question: str, standalone: str, passages: list[Passage], reason: str
    ) -> Answer:
        return Answer(
            question=question,
            text=CANNOT_ANSWER,
            abstained=True,
            citations=[],
            passages=passages,
            standalone_question=standalone,
            settings_hash=self.settings_hash,
            abstain_reason=reason,
        )

    def _fall_back(self, error: LLMError) -> str:
        """The note for an extractive answer given instead, or the error if that is not wanted."""
        if not self.fallback_extractive:
            raise error
        return f"{error}; answered extractively instead"
