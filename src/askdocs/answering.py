"""The extractive answerer: the retrieved sentence that best answers the question, cited."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda

from askdocs.chunking import candidate_sentences, sentence_spans
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
from askdocs.types import BELOW_THRESHOLD, CANNOT_ANSWER, Article, Citation, Claim, Passage

HistoryTurn = tuple[str, str] | Mapping[str, str]

_YEAR_OR_DATE = re.compile(
    r"\b(1[0-9]\d\d|20\d\d)\b|\b\d{1,2}(st|nd|rd|th)?\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
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
    features: Mapping[str, float] = field(default_factory=dict)


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
    >>> answerer.answer(question, passages, articles).citations[0].quote  # doctest: +SKIP
    """

    WEIGHTS: ClassVar[dict[str, float]] = {
        "dense": 0.30,
        "nearby": 0.15,
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
        term_rarity: Callable[[Iterable[str]], dict[str, float]] | None = None,
        require_answer_kind: bool = True,
        sentence_candidates: int = 12,
    ) -> None:
        self.sentence_candidates = sentence_candidates
        self.require_answer_kind = require_answer_kind
        self.embedder = embedder
        # Inverse document frequency from the keyword index: "Fenerbahce" pins a sentence down,
        # "club" does not. Without it every word weighs the same.
        self.term_rarity = term_rarity
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
            spans = candidate_sentences(article.text, passage.chunk.start, passage.chunk.end)
            for start, end in spans:
                key = (article.id, start, end)
                text = article.text[start:end]
                context, previous = title_terms | set(content_terms(previous)), text
                if key in candidates:
                    continue
                if any(text in said for said in already_said):
                    continue  # a follow-up wants something new, not the previous answer again
                candidates[key] = (rank, text)
                context_terms[key] = context
        if not candidates:
            return []
        question_terms = content_terms(question)
        question_weights = _term_weights(question, question_terms)
        if focus and focus.strip() != question.strip():
            # In a follow-up the latest turn says what is asked; earlier turns only say about what.
            for term in content_terms(focus):
                question_weights[term] = question_weights.get(term, 1.0) * 2
        if self.term_rarity is not None:
            rarity = self.term_rarity(question_weights)
            question_weights = {t: w * rarity.get(t, 1.0) for t, w in question_weights.items()}
        kind = expected_answer_kind(focus or question)
        head = answer_head_noun(focus or question)
        keys = list(candidates)
        features = []
        for key in keys:
            rank, text = candidates[key]
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
            features.append(
                {
                    "dense": 0.0,
                    "nearby": 0.0,
                    "lexical": lexical,
                    "passage": passages[rank].score,
                    "kind": _kind_match(kind, text, question, head),
                }
            )
        # Embedding sentences is most of the time an answer takes: sentences whose vectors were
        # stored at ingest are compared, and of the others only the best candidates by the cheap
        # features (and the sentences next to them) are embedded.
        cheap = [
            sum(self.WEIGHTS[n] * f[n] for n in ("lexical", "passage", "kind")) for f in features
        ]
        shortlist = sorted(range(len(keys)), key=lambda i: -cheap[i])[: self.sentence_candidates]
        known = [i for i, key in enumerate(keys) if self.sentence_vectors.known(candidates[key][1])]
        shortlist = sorted(set(shortlist) | set(_adjacent(keys, shortlist)) | set(known))
        vectors = self.sentence_vectors([candidates[keys[i]][1] for i in shortlist])
        similarity = vectors @ np.asarray(self.embedder.embed_query(question))
        if focus and focus.strip() != question.strip():
            similarity = np.maximum(
                similarity, vectors @ np.asarray(self.embedder.embed_query(focus))
            )
        dense = np.zeros(len(keys))
        dense[shortlist] = similarity
        nearby = _neighbour_similarity(keys, dense)
        scored = []
        for i, key in enumerate(keys):
            features[i]["dense"] = float(dense[i])
            features[i]["nearby"] = float(nearby[i])
            score = sum(self.WEIGHTS[name] * value for name, value in features[i].items())
            scored.append(ScoredSentence(candidates[key][0], key[1], key[2], score, features[i]))
        scored.sort(key=lambda s: -s.score)
        return scored

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        articles: Mapping[str, Article],
        focus: str | None = None,
        already_said: Sequence[str] = (),
    ) -> ExtractiveAnswer:
        """The answer text with [n] markers and its citations, or CANNOT_ANSWER and why."""
        scored = self.score_sentences(question, passages, articles, focus, already_said)
        if not scored:
            return ExtractiveAnswer(CANNOT_ANSWER, [], None, "nothing relevant was retrieved")
        best = scored[0].score
        if best < self.threshold:
            return ExtractiveAnswer(CANNOT_ANSWER, [], best, BELOW_THRESHOLD)
        chosen = [scored[0]]
        for candidate in scored[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if candidate.score < best - self.second_sentence_margin:
                break
            if not any(_overlaps(candidate, c, passages) for c in chosen):
                chosen.append(candidate)
        kind = expected_answer_kind(focus or question)
        if (
            self.require_answer_kind
            and kind in ("number", "date")
            and all(c.features.get("kind", 1.0) < 1.0 for c in chosen)
        ):
            # "How much did X pay?" answered by a sentence with no sum in it is a guess.
            return ExtractiveAnswer(CANNOT_ANSWER, [], best, f"no sentence holds the {kind} asked")
        citations = []
        parts = []
        for key, sentence in enumerate(chosen, 1):
            passage = passages[sentence.passage_rank]
            article = articles[passage.chunk.article_id]
            start = _with_antecedent(article.text, sentence.start)
            citation = make_citation(key, passage, article, start, sentence.end)
            citations.append(citation)
            parts.append(f"{citation.quote} {format_marker([key])}")
        return ExtractiveAnswer(" ".join(parts), citations, best)


@dataclass(frozen=True)
class ExtractiveAnswer:
    text: str
    citations: list[Citation]
    confidence: float | None
    abstain_reason: str = ""


_ANAPHOR = re.compile(r"^(?:It|He|She|They|Its|His|Her|Their|This|These|Those)\b")


def _with_antecedent(text: str, start: int) -> int:
    """Where a cited sentence should start: a sentence opening with "It"/"He"/"They" is
    merged with the sentence before it, which says who or what that is."""
    if not _ANAPHOR.match(text[start : start + 12]):
        return start
    spans = candidate_sentences(text, max(0, start - 600), start)
    if spans and not text[spans[-1][1] : start].count("\n") > 1:
        return spans[-1][0]
    return start


def _adjacent(keys: list[tuple[str, int, int]], chosen: list[int]) -> list[int]:
    """Indices of the sentences directly before and after the chosen ones."""
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    position = {index: p for p, index in enumerate(order)}
    found = []
    for index in chosen:
        p = position[index]
        for q in (p - 1, p + 1):
            if 0 <= q < len(order) and _touching(keys[order[min(p, q)]], keys[order[max(p, q)]]):
                found.append(order[q])
    return found


def _touching(first: tuple[str, int, int], second: tuple[str, int, int]) -> bool:
    return first[0] == second[0] and 0 <= second[1] - first[2] <= 3


def _neighbour_similarity(keys: list[tuple[str, int, int]], dense: np.ndarray) -> np.ndarray:
    """For each sentence, the best similarity of the sentence just before or after it.

    The sentence that matches a question best often only sets the scene; the answer sits next
    to it ("The Duchy of Cornwall is an estate ..." / "It was set up in 1337 ...").
    """
    nearby = np.zeros(len(keys))
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    for a, b in itertools.pairwise(order):
        if _touching(keys[a], keys[b]):
            nearby[a] = max(nearby[a], dense[b])
            nearby[b] = max(nearby[b], dense[a])
    return nearby


def _sentence_before(text: str, position: int) -> str:
    spans = sentence_spans(text, max(0, position - 600), position)
    return text[spans[-1][0] : spans[-1][1]] if spans else ""


def _term_weights(question: str, terms: list[str]) -> dict[str, float]:
    """Names and numbers in a question pin down the answer more than common words."""
    marked = {stem(t.lower().strip(".,'’-")) for t in _PROPER_NOUN.findall(question)}
    marked |= {t for t in terms if NUMBER.search(t)}
    return {t: 2.0 if t in marked else 1.0 for t in dict.fromkeys(terms)}


def _kind_match(kind: str, sentence: str, question: str, head: str | None = None) -> float:
    """How well the sentence holds the kind of thing asked for, from 0 to 1."""
    if kind == "number":
        # Years and days of the month are dates, not the quantity "how many/much" asks for.
        undated = _YEAR_OR_DATE.sub(" ", sentence)
        quantities = set(_QUANTITY.findall(undated)) - set(_QUANTITY.findall(question))
        if not quantities:
            return 0.0
        unit = _asked_unit(question)
        if unit is None:
            return 1.0
        return 1.0 if unit.search(undated) else 0.5
    if kind == "date":
        return 1.0 if _YEAR_OR_DATE.search(sentence) else 0.0
    if kind == "name":
        asked = {_bare(w) for w in TOKEN.findall(question)}
        names = {_bare(n) for n in _PROPER_NOUN.findall(sentence)} - asked
        if not names:
            return 0.0
        # "Which institute ..." is answered by a sentence naming an institute: a new name next
        # to the noun ("the Fraser of Allander Institute"), not any mention of an institute.
        if head and _names_near(sentence, head, names):
            return 1.0
        if _WHERE.search(question) and _PLACE.search(sentence):
            return 1.0
        return 0.7
    return 0.5


def _bare(word: str) -> str:
    """A word without case or possessive: "United's" and "United" are the same name."""
    return word.lower().removesuffix("'s").removesuffix("’s").strip(".,'’-")


def _names_near(sentence: str, head: str, names: set[str], window: int = 3) -> bool:
    words = TOKEN.findall(sentence)
    heads = [i for i, w in enumerate(words) if stem(_bare(w)) == head]
    named = [i for i, w in enumerate(words) if _bare(w) in names]
    return any(abs(h - n) <= window for h in heads for n in named)


_WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)
_PLACE = re.compile(r"\b(?:in|at|near|from|to)\s+(?:the\s+)?[A-Z][a-z]+")
_MONEY_QUESTION = re.compile(
    r"\bhow much\b.*\b(earn|pay|paid|cost|raise|spen[dt]|sell|sold|worth|make|made|take|"
    r"took|fetch|gross|owe|fine|charge|money|cash|fund)",
    re.IGNORECASE,
)
_MONEY = re.compile(r"[£$€]\s?\d|\d\s?(?:pounds|dollars|euros|bn|m)\b|\b(?:million|billion)\b")
_TIME_QUESTION = re.compile(r"\bhow (?:long|far into|soon|late|early)\b", re.IGNORECASE)
_TIME = re.compile(
    r"\d+\s*(?:-\s*)?(?:second|minute|min|hour|day|week|month|year|season|lap|round)s?\b|"
    r"\d+(?:st|nd|rd|th) minute",
    re.IGNORECASE,
)
_HOW_MANY = re.compile(r"\bhow many\s+([a-z]+)", re.IGNORECASE)


def _asked_unit(question: str) -> re.Pattern[str] | None:
    """What a "how much/many/long" answer must measure, when the question says."""
    if _MONEY_QUESTION.search(question):
        return _MONEY
    if _TIME_QUESTION.search(question):
        return _TIME
    counted = _HOW_MANY.search(question)
    if counted:
        noun = stem(counted[1].lower())
        # The counted noun follows its number within a few words: "40,000 fans", "3 new jobs".
        return re.compile(rf"\d[\d,.]*\s+(?:\S+\s+){{0,2}}{re.escape(noun)}", re.IGNORECASE)
    return None


_HEAD_NOUN = re.compile(
    # Capitalised words and participles before the noun are modifiers: "which armed groups".
    r"\b(?i:which|what)\s+(?:[A-Z][\w-]*\s+|[a-z]+(?:ed|ing)\s+)*([a-z][a-z-]+)(?:'s|’s)?\b"
)
_NOT_HEADS = frozenset(
    "is are was were did does do has have had will would can could should the a an".split()
)


def answer_head_noun(question: str) -> str | None:
    """The noun a "which X" / "what X" question asks for, stemmed ("Which Turkish club" -> club).

    >>> answer_head_noun("Which institute's report claimed the cost was underestimated?")
    'institute'
    >>> answer_head_noun("What is the first research problem?") is None
    True
    """
    match = _HEAD_NOUN.search(question)
    if not match or match[1].lower() in _NOT_HEADS:
        return None
    return stem(match[1].lower())


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
