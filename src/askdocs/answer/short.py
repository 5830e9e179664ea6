"""The short answer: the phrase of the asked kind cut from the best sentence (a name, a
number with what it counts, a date, a place), shown in bold before the cited sentence.

The candidates are the sentence's phrases of the question's kind that say something the
question does not. A small fitted model (`SpanRanker`, weights from `scripts/fit_answerer.py`
in the answer weights file) chooses among them from where each stands: near the question's
focus words, near the words closest to its wh-word ("On what *date* was the *presidential vote*"),
and beside the noun a "which X" question asks for ("EFF *lawyer* Kurt Opsahl"). Each step is
grammar (conjunctions, titles, units, positions), never a word of a particular question or
article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from askdocs.answer.entities import (
    CALENDAR_WORD,
    HONORIFICS,
    Span,
    Token,
    date_precision,
    holds_date_part,
    measuring,
    new_spans,
    spans_of_kind,
    tokens,
    words,
)
from askdocs.answer.question import (
    DATE,
    NAME,
    NUMBER,
    PERSON,
    PLACE,
    TIME,
    WH_WORD,
    QuestionAnalysis,
)
from askdocs.index.keywords import TOKEN, stem

PHRASE_KINDS = frozenset({NUMBER, DATE, PERSON, PLACE, NAME})
"""Kinds a phrase answers; a reason or "what did they do" needs the sentence."""

_CONJOINED = re.compile(r"\s+(?:and|&)\s+")
_TIME_UNIT = re.compile(
    r"\s+(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|seasons?|laps?|rounds?)\b",
    re.IGNORECASE,
)
COUNTED_NOUN_WITHIN = 2
"""Words between a number and the noun it counts ("40,000 loyal fans"): the window that
`entities.holds_unit` uses too, less the noun itself."""
_WORDS_AFTER = re.compile(rf"(?:\s+[A-Za-z][\w'’-]*){{1,{COUNTED_NOUN_WITHIN + 1}}}")
_NOT_A_COUNT = re.compile(r"%|per ?cent|percent|[£$€¥]|\d\s?(?:bn|m|pence)\b", re.IGNORECASE)


def without_known_parts(span: Span, question_words: set[str]) -> Span | None:
    """A conjoined name ("Mexico and Central American") without the parts the question
    already holds, titles not counting as new; None when nothing new is left.

    >>> s = "Mexico and Central American nations"
    >>> without_known_parts(Span(0, 27, s[:27]), {"mexico"}).text
    'Central American'
    >>> without_known_parts(Span(0, 10, "Mr Baume's"), {"baume"}) is None
    True
    """
    parts, start = [], 0
    for separator in [*_CONJOINED.finditer(span.text), None]:
        end = separator.start() if separator else len(span.text)
        parts.append((start, end))
        start = separator.end() if separator else end
    new = [(a, b) for a, b in parts if words(span.text[a:b]) - question_words - HONORIFICS]
    if not new:
        return None
    a, b = new[0][0], new[-1][1]
    return Span(span.start + a, span.start + b, span.text[a:b])


def without_calendar_words(span: Span) -> Span | None:
    """A name without the month or weekday that opens it ("Tuesday Anna Berg" from "On
    Tuesday Anna Berg said"); None when that is all it is ("November").

    >>> without_calendar_words(Span(3, 20, "Tuesday Anna Berg")).text
    'Anna Berg'
    >>> without_calendar_words(Span(0, 8, "November")) is None
    True
    """
    text, start = span.text, span.start
    while True:
        first, _, rest = text.partition(" ")
        if not CALENDAR_WORD.fullmatch(first):
            return Span(start, start + len(text), text)
        if not rest:
            return None
        start += len(first) + 1
        text = rest


# A number that belongs to the name before it ("Service Pack 2", "Channel 4", "Euro 2004"):
# a plain number of up to four figures, not a score, share, amount or time ("Arsenal 2-1").
_NAME_NUMBER = re.compile(
    r" \d{1,4}(?![\w%:/-]|[.,]\d| ?(?:per|pc|m|bn|million|billion|minutes?|hours?|days?|"
    r"weeks?|months?|years?|points?|goals?)\b)"
)


def with_number(sentence: str, span: Span) -> Span:
    """A name with the number that ends it ("Service Pack 2" for "which security upgrade").

    >>> s = "It released Service Pack 2, in June; Arsenal won 2-1."
    >>> pack, club = Span(12, 24, "Service Pack"), Span(37, 44, "Arsenal")
    >>> with_number(s, pack).text, with_number(s, club).text
    ('Service Pack 2', 'Arsenal')
    """
    match = _NAME_NUMBER.match(sentence, span.end)
    end = match.end() if match else span.end
    return Span(span.start, end, sentence[span.start : end])


def with_unit(sentence: str, span: Span, unit: str | None) -> Span:
    """A quantity with what it measures when the question asks for a time or a count of
    something: "74 minutes" for "how far into the match", "40,000 fans" for "how many fans".

    >>> s = "He came on after 74 minutes."
    >>> with_unit(s, Span(17, 19, "74"), "time").text
    '74 minutes'
    >>> s = "Some 40,000 loyal fans came."
    >>> with_unit(s, Span(5, 11, "40,000"), "count:fan").text
    '40,000 loyal fans'
    """
    if unit == TIME:
        match = _TIME_UNIT.match(sentence, span.end)
        end = match.end() if match else span.end
    elif unit and unit.startswith("count:"):
        nouns = set(unit.removeprefix("count:").split("+"))
        # Only words follow, no punctuation: "40,000 loyal fans", not "40,000, fans said".
        after = _WORDS_AFTER.match(sentence, span.end)
        end = span.end
        for word in TOKEN.finditer(after.group() if after else ""):
            if stem(word.group().lower()) in nouns:
                end = span.end + word.end()
                break
    else:
        end = span.end
    return Span(span.start, end, sentence[span.start : end])


def counts(found: Sequence[Span], unit: str | None) -> list[Span]:
    """For "how many <things>": the bare numbers of `found`, not shares or sums of money
    (a count is neither); all of them when none is bare."""
    if not (unit and unit.startswith("count:")):
        return list(found)
    return [s for s in found if not _NOT_A_COUNT.search(s.text)] or list(found)


SPAN_FEATURES: tuple[str, ...] = (
    "focus_proximity",  # 1 / (1 + words to the nearest focus word of the question)
    "wh_proximity",  # the same, each focus word weighted by its closeness to the wh-word
    "head_inside",  # the noun a "which X" question asks for is part of the phrase
    "head_before",  # ... stands just before it ("lawyer Kurt Opsahl")
    "head_after",  # ... just after it ("the Yadavaran and Jufeyr oilfields")
)
HEAD_BEFORE_WORDS = 3
"""An apposition's noun and its name are a few words apart at most ("the union, the FDA")."""
HEAD_AFTER_WORDS = 2
"""A name before its noun: "the Jufeyr oilfields", "Acme's new bank"."""


@dataclass(frozen=True)
class SpanRanker:
    """A linear score over standardised SPAN_FEATURES; the highest-scoring phrase is the
    short answer. `NEAREST_FOCUS` (weights files without a fitted one) is the phrase nearest
    the focus words."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        return ((matrix - self.mean) / self.scale) @ self.weights


NEAREST_FOCUS = SpanRanker(
    mean=np.zeros(len(SPAN_FEATURES)),
    scale=np.ones(len(SPAN_FEATURES)),
    weights=np.eye(len(SPAN_FEATURES))[0],
)


def token_range(words_of: Sequence[Token], span: Span) -> tuple[int, int]:
    """The first and last token of `span` (by position in the sentence)."""
    first = next((i for i, (_, end, _) in enumerate(words_of) if end > span.start), len(words_of))
    last = max([first] + [i for i, (start, _, _) in enumerate(words_of) if start < span.end])
    return first, last


def words_apart(first: int, last: int, at: int) -> int:
    """Words between a phrase (tokens first..last) and the token `at`; 0 inside it.

    >>> words_apart(4, 6, 1), words_apart(4, 6, 5), words_apart(4, 6, 8)
    (3, 0, 2)
    """
    return max(0, first - at, at - last)


def wh_weights(analysis: QuestionAnalysis) -> dict[str, float]:
    """Each focus term's weight, 1 / (1 + its rank by distance from the wh-word): the words
    right after "what"/"which" say what is asked, later ones where to find it.

    >>> from askdocs.answer.question import analyse
    >>> wh_weights(analyse("On what date was the vote held?"))
    {'date': 1.0, 'vote': 0.5, 'held': 0.3333333333333333}
    """
    wh = WH_WORD.search(analysis.text)
    at = wh.start() if wh else 0
    focus = set(analysis.focus_terms)
    distance: dict[str, int] = {}
    for start, _, term in tokens(analysis.text):
        if term in focus and term not in distance:
            distance[term] = abs(start - at)
    ranked = sorted(distance, key=distance.__getitem__)
    return {term: 1.0 / (1 + rank) for rank, term in enumerate(ranked)}


def head_places(words_of: Sequence[Token], first: int, last: int, head: str | None) -> list[float]:
    """[inside, before, after]: where the question's head noun stands around the phrase.

    >>> t = tokens("said EFF lawyer Kurt Opsahl")
    >>> head_places(t, 3, 4, "lawyer"), head_places(t, 1, 1, "lawyer")
    ([0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    """
    if not head:
        return [0.0, 0.0, 0.0]

    def holds(a: int, b: int) -> float:
        return float(any(words_of[i][2] == head for i in range(max(0, a), min(len(words_of), b))))

    return [
        holds(first, last + 1),
        holds(first - HEAD_BEFORE_WORDS, first),
        holds(last + 1, last + 1 + HEAD_AFTER_WORDS),
    ]


def span_features(analysis: QuestionAnalysis, sentence: str, spans: Sequence[Span]) -> np.ndarray:
    """SPAN_FEATURES of each candidate phrase of one sentence (rows in `spans` order)."""
    words_of = tokens(sentence)
    focus = set(analysis.focus_terms)
    weight = wh_weights(analysis)
    anchors = [i for i, (_, _, term) in enumerate(words_of) if term in focus]
    rows = []
    for span in spans:
        first, last = token_range(words_of, span)
        apart = [words_apart(first, last, i) for i in anchors]
        rows.append(
            [
                1.0 / (1 + min(apart)) if apart else 0.0,
                max(
                    (
                        weight.get(words_of[i][2], 0.0) / (1 + d)
                        for i, d in zip(anchors, apart, strict=True)
                    ),
                    default=0.0,
                ),
                *head_places(words_of, first, last, analysis.head),
            ]
        )
    return np.asarray(rows, dtype=float).reshape(len(spans), len(SPAN_FEATURES))


def candidates(
    analysis: QuestionAnalysis, sentence: str, common: frozenset[str] = frozenset()
) -> list[Span]:
    """The phrases of the asked kind that could be the short answer, each with its unit
    (`common`: the words the articles write in lower case, entities.common_words)."""
    if analysis.kind not in PHRASE_KINDS:
        return []
    asked = words(analysis.text)
    every = spans_of_kind(analysis.kind, sentence, common)
    found = [s for s in (without_known_parts(s, asked) for s in new_spans(every, asked)) if s]
    if analysis.kind in (PERSON, NAME, PLACE):
        found = [s for s in (without_calendar_words(s) for s in found) if s]
    if analysis.kind == NAME:
        found = [with_number(sentence, s) for s in found]
    if analysis.kind == DATE and analysis.date_part:
        # "In which year ...": "Friday" is a date, but not the one asked for.
        found = [s for s in found if holds_date_part(s.text, analysis.date_part)]
    elif analysis.kind == DATE and found:
        # A bare "when" asks for the day: "20 September 2019", not the "2019" beside it
        # (features.graded_by_precision reads the sentences the same way).
        top = max(date_precision(s.text) for s in found)
        found = [s for s in found if date_precision(s.text) == top]
    if found and analysis.unit:
        # "How much did they raise?" asks for money: "180,000 pounds", not "six" (weeks).
        found = counts(measuring(sentence, found, every, analysis.unit) or found, analysis.unit)
    return [with_unit(sentence, s, analysis.unit) for s in found]


def short_answer(
    analysis: QuestionAnalysis,
    sentence: str,
    ranker: SpanRanker = NEAREST_FOCUS,
    common: frozenset[str] = frozenset(),
) -> str | None:
    """The phrase of the asked kind in the sentence that the question does not already hold,
    the one the ranker scores highest (the first of equals); None when the question asks for
    no such phrase or the sentence holds none.

    >>> from askdocs.answer.question import analyse
    >>> short_answer(analyse("Who leads Acme Bank?"), "Acme President Anna Berg said it.")
    'Acme President Anna Berg'
    """
    found = candidates(analysis, sentence, common)
    if not found:
        return None
    scores = ranker.scores(span_features(analysis, sentence, found))
    return found[int(np.argmax(scores))].text
