"""The extractive answerer: the retrieved sentence that best answers the question, cited."""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda

from askdocs.chunking import sentence_spans
from askdocs.citations import (
    MARKER,
    CitationVerifier,
    format_marker,
    is_refusal,
    make_citation,
    verify_answer,
)
from askdocs.embeddings import SentenceVectors
from askdocs.keywords import NUMBER, TOKEN, content_terms, stem
from askdocs.llms import LLMError
from askdocs.prompts import render
from askdocs.types import CANNOT_ANSWER, Article, Citation, Claim, Passage

HistoryTurn = tuple[str, str] | Mapping[str, str]

_YEAR_OR_DATE = re.compile(
    r"\b(1[5-9]\d\d|20\d\d)\b|\b\d{1,2}(st|nd|rd|th)?\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
    r"Nov|Dec)|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}\b|"
    r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|last week)\b"
)
_PROPER_NOUN = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+|\b[A-Z]{2,}\b")
_QUANTITY = re.compile(
    r"[£$€]?\d[\d,.]*\s?(?:%|per ?cent|m\b|bn\b|million|billion|thousand)?|\b(?:one|two|three|"
    r"four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"dozen|half)\b",
    re.IGNORECASE,
)
_ASKS_NUMBER = re.compile(
    r"\bhow (many|much|big|far|long|old|large|high|often)\b"
    r"|\bwhat (percentage|share|level|sum|amount|price|proportion|number|stake|rate)\b"
)
# Checked in this order at each position, so "which year" is a date before it is a name.
_KIND_CUES = [
    ("number", _ASKS_NUMBER),
    ("date", re.compile(r"\bwhen\b|\b(what|which|in what|in which) (year|date|day|month)\b")),
    ("name", re.compile(r"\b(who|whom|whose|where|which)\b|\bwhat is the name\b")),
]
_LEADING_BULLET = re.compile(r"^[-*•·–—]\s+")
_PRONOUNS = frozenset(
    "it its they them their he she his her him that this those these there".split()
)
_FOLLOW_UP_OPENERS = ("and ", "what about", "how about", "also", "then ", "so ")


@dataclass(frozen=True)
class ScoredSentence:
    passage_rank: int
    start: int
    end: int
    score: float


def expected_answer_kind(question: str) -> str:
    """The kind of thing the question asks for (number, date, name or any), by its first cue."""
    q = question.lower()
    cues = [
        (m.start(), priority, kind)
        for priority, (kind, pattern) in enumerate(_KIND_CUES)
        if (m := pattern.search(q))
    ]
    return min(cues)[2] if cues else "any"


class ExtractiveAnswerer:
    """Scores every sentence of the retrieved passages and answers with the best ones.

    A sentence's score mixes its embedding similarity to the question, how many of the
    question's content words it holds, its passage's retrieval score, and whether it holds the
    kind of thing asked for (a number for "how many", a date for "when", a name for "who").
    Below `threshold` the answerer abstains rather than guess.

    >>> answerer = ExtractiveAnswerer(embedder, threshold=0.45)  # doctest: +SKIP
    >>> text, citations = answerer.answer(question, passages, articles)  # doctest: +SKIP
    """

    WEIGHTS: ClassVar[dict[str, float]] = {
        "dense": 0.45,
        "lexical": 0.25,
        "passage": 0.15,
        "kind": 0.15,
    }

    def __init__(
        self,
        embedder: Embeddings,
        threshold: float,
        max_sentences: int = 2,
        second_sentence_margin: float = 0.04,
        sentence_vectors: SentenceVectors | None = None,
    ) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.second_sentence_margin = second_sentence_margin
        self.sentence_vectors = sentence_vectors or SentenceVectors(embedder)

    def score_sentences(
        self,
        question: str,
        passages: Sequence[Passage],
        articles: Mapping[str, Article],
        focus: str | None = None,
        already_said: Sequence[str] = (),
    ) -> list[ScoredSentence]:
        """Candidate sentences, best first; `focus` is the latest turn of a follow-up question."""
        candidates: dict[tuple[str, int, int], tuple[int, str]] = {}
        # A sentence is read under its headline and after the sentence before it ("It was set
        # up in 1337" answers a question about what the previous sentence names).
        context_terms: dict[tuple[str, int, int], set[str]] = {}
        for rank, passage in enumerate(passages):
            article = articles.get(passage.chunk.article_id)
            if article is None:
                continue
            title_terms = set(content_terms(article.title))
            previous = _sentence_before(article.text, passage.chunk.start)
            for start, end in sentence_spans(article.text, passage.chunk.start, passage.chunk.end):
                start += _bullet_length(article.text[start:end])
                key = (article.id, start, end)
                text = article.text[start:end]
                context, previous = title_terms | set(content_terms(previous)), text
                if key in candidates or not re.search(r"\w", text):
                    continue
                if any(text in said for said in already_said):
                    continue  # a follow-up wants something new, not the previous answer again
                candidates[key] = (rank, text)
                context_terms[key] = context
        if not candidates:
            return []
        texts = [text for _, text in candidates.values()]
        vectors = self.sentence_vectors(texts)
        dense = vectors @ np.asarray(self.embedder.embed_query(question))
        question_terms = content_terms(question)
        question_weights = _term_weights(question, question_terms)
        if focus and focus.strip() != question.strip():
            # In a follow-up the latest turn says what is asked; earlier turns only say about what.
            dense = np.maximum(dense, vectors @ np.asarray(self.embedder.embed_query(focus)))
            for term in content_terms(focus):
                question_weights[term] = question_weights.get(term, 1.0) * 2
        kind = expected_answer_kind(focus or question)
        scored = []
        for (key, (rank, text)), similarity in zip(candidates.items(), dense, strict=True):
            sentence_terms = set(content_terms(text))
            in_context = sentence_terms | context_terms[key]
            lexical = (
                sum(w for t, w in question_weights.items() if t in in_context)
                / sum(question_weights.values())
                if question_weights
                else 0.0
            )
            if not sentence_terms - set(question_terms):
                lexical = 0.0  # a sentence that only repeats the question answers nothing
            score = (
                self.WEIGHTS["dense"] * float(similarity)
                + self.WEIGHTS["lexical"] * lexical
                + self.WEIGHTS["passage"] * passages[rank].score
                + self.WEIGHTS["kind"] * _kind_match(kind, text, question)
            )
            scored.append(ScoredSentence(rank, key[1], key[2], score))
        scored.sort(key=lambda s: -s.score)
        return scored

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        articles: Mapping[str, Article],
        focus: str | None = None,
        already_said: Sequence[str] = (),
    ) -> tuple[str, list[Citation]]:
        """The answer text with [n] markers and its citations; CANNOT_ANSWER with none."""
        scored = self.score_sentences(question, passages, articles, focus, already_said)
        if not scored or scored[0].score < self.threshold:
            return CANNOT_ANSWER, []
        chosen = [scored[0]]
        for candidate in scored[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if candidate.score < scored[0].score - self.second_sentence_margin:
                break
            if not any(_overlaps(candidate, c, passages) for c in chosen):
                chosen.append(candidate)
        citations = []
        parts = []
        for key, sentence in enumerate(chosen, 1):
            passage = passages[sentence.passage_rank]
            article = articles[passage.chunk.article_id]
            citation = make_citation(key, passage, article, sentence.start, sentence.end)
            citations.append(citation)
            parts.append(f"{citation.quote} {format_marker([key])}")
        return " ".join(parts), citations


def _sentence_before(text: str, position: int) -> str:
    spans = sentence_spans(text, max(0, position - 600), position)
    return text[spans[-1][0] : spans[-1][1]] if spans else ""


def _bullet_length(sentence: str) -> int:
    match = _LEADING_BULLET.match(sentence)
    return match.end() if match else 0


def _term_weights(question: str, terms: list[str]) -> dict[str, float]:
    """Names and numbers in a question pin down the answer more than common words."""
    marked = {stem(t.lower().strip(".,'’-")) for t in _PROPER_NOUN.findall(question)}
    marked |= {t for t in terms if NUMBER.search(t)}
    return {t: 2.0 if t in marked else 1.0 for t in dict.fromkeys(terms)}


def _kind_match(kind: str, sentence: str, question: str) -> float:
    if kind == "number":
        # Years and days of the month are dates, not the quantity "how many/much" asks for.
        quantities = _QUANTITY.findall(_YEAR_OR_DATE.sub(" ", sentence))
        asked = set(_QUANTITY.findall(question))
        return 1.0 if set(quantities) - asked else 0.0
    if kind == "date":
        return 1.0 if _YEAR_OR_DATE.search(sentence) else 0.0
    if kind == "name":
        asked = {w.lower() for w in TOKEN.findall(question)}
        names = {n.lower() for n in _PROPER_NOUN.findall(sentence)} - asked
        return 1.0 if names else 0.0
    return 0.5


def _overlaps(a: ScoredSentence, b: ScoredSentence, passages: Sequence[Passage]) -> bool:
    same_article = (
        passages[a.passage_rank].chunk.article_id == passages[b.passage_rank].chunk.article_id
    )
    return same_article and a.start < b.end and b.start < a.end


def standalone_question(question: str, history: Iterable[HistoryTurn] | None) -> str:
    """Make a follow-up ("And what about Mexico?") answerable alone, using earlier questions."""
    asked = [text for role, text in history_turns(history) if role in ("user", "human")]
    parts = [question]
    while asked and _depends_on_context(parts[0]):
        parts.insert(0, asked.pop())
    return " ".join(p.strip() for p in parts)


def history_turns(history: Iterable[HistoryTurn] | None) -> list[tuple[str, str]]:
    turns = []
    for turn in history or []:
        if isinstance(turn, Mapping):
            turns.append((str(turn.get("role", "")).lower(), str(turn.get("content", ""))))
        else:
            role, text = turn
            turns.append((role.lower(), text))
    return turns


def _depends_on_context(question: str) -> bool:
    lowered = question.lower().strip()
    words = re.findall(r"[a-z']+", lowered)
    return (
        lowered.startswith(_FOLLOW_UP_OPENERS)
        or any(w in _PRONOUNS for w in words)
        or len(content_terms(question)) <= 2
    )


_FENCE = re.compile(r"</?\s*passage", re.IGNORECASE)


def format_passages(passages: Sequence[Passage]) -> str:
    """Numbered passages, fenced so their text reads as data and cannot close its fence."""
    blocks = []
    for number, passage in enumerate(passages, 1):
        about = [passage.title.replace('"', "'")]
        if passage.published:
            about.append(passage.published.isoformat())
        if passage.metadata.get("outlet"):
            about.append(passage.metadata["outlet"])
        # Markers inside article text ("[1]") must not pass for citations of another passage.
        text = MARKER.sub(lambda m: f"({m[1]})", _FENCE.sub("‹passage", passage.chunk.text))
        blocks.append(f'<passage n="{number}" about="{"; ".join(about)}">\n{text}\n</passage>')
    return "\n\n".join(blocks)


def grounded_messages(question: str, passages: Sequence[Passage]) -> list[BaseMessage]:
    return [
        SystemMessage(content=render("grounded_qa_system", refusal=CANNOT_ANSWER)),
        HumanMessage(
            content=render(
                "grounded_qa_user", passages=format_passages(passages), question=question
            )
        ),
    ]


class GenerativeAnswerer:
    """An LLM writes the answer; every citation in it is then checked against its passage.

    >>> answerer = GenerativeAnswerer(chat_model, verifier)  # doctest: +SKIP
    >>> for piece in answerer.stream(question, passages, articles): ...  # doctest: +SKIP
    """

    def __init__(
        self, chat_model: BaseChatModel, verifier: CitationVerifier, strict: bool = False
    ) -> None:
        self.chat_model = chat_model
        self.verifier = verifier
        self.strict = strict
        # question + passages -> fenced prompt -> model: one LCEL runnable, streamed below.
        self.chain = (
            RunnableLambda(lambda x: grounded_messages(x["question"], x["passages"])) | chat_model
        )

    def stream(
        self, question: str, passages: Sequence[Passage], articles: Mapping[str, Article]
    ) -> Generator[str, None, tuple[list[Claim], list[Citation]]]:
        """Yield the model's text as it comes; return the verified (claims, citations)."""
        if not passages:
            return [], []
        reply = ""
        try:
            for chunk in self.chain.stream({"question": question, "passages": passages}):
                token = chunk.content if isinstance(chunk.content, str) else ""
                if token:
                    reply += token
                    yield token
        except Exception as exc:
            raise LLMError(f"the answer backend failed: {_describe(exc)}") from exc
        if is_refusal(reply):
            return [], []
        return verify_answer(
            reply, question, list(passages), dict(articles), self.verifier, self.strict
        )

    def rewrite_follow_up(self, question: str, history: Iterable[HistoryTurn] | None) -> str:
        turns = history_turns(history)
        if not turns:
            return question
        transcript = "\n".join(f"{role}: {text}" for role, text in turns[-6:])
        prompt = render("condense_question", history=transcript, question=question)
        try:
            reply = self.chat_model.invoke([HumanMessage(content=prompt)])
        except Exception as exc:  # every backend failure means the same to users
            raise LLMError(f"the answer backend failed: {_describe(exc)}") from exc
        rewritten = str(reply.content).strip().splitlines()[0].strip() if reply.content else ""
        return rewritten or question


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause).strip() and str(cause) not in text:
        text += f" ({str(cause).strip()})"
    return text
