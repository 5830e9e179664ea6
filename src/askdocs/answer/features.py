"""Signals that a candidate sentence answers the question, each a small pure function.

`feature_matrix` lays them out in FEATURES order for the fitted combiner. Similarities come
from the stored sentence vectors; everything else from the text. Which signals matter, and how
much, is not decided here: the combiner's weights are fitted on question sets
(scripts/fit_answerer.py).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from askdocs.answer.candidates import CandidatePool
from askdocs.answer.entities import (
    Span,
    date_precision,
    dates,
    has_cause,
    holds_date_part,
    measuring,
    new_spans,
    places,
    spans_of_kind,
    tokens,
    words,
)
from askdocs.answer.question import (
    DATE,
    KINDS,
    NAME,
    NUMBER,
    PERSON,
    PLACE,
    REASON,
    QuestionAnalysis,
)
from askdocs.index.keywords import content_terms, stem

FEATURES: tuple[str, ...] = (
    "sim_question",  # cosine of the sentence to the whole question
    "sim_focus",  # ... to the focus (the question without its context clauses)
    "sim_context",  # ... to the context clauses: they find the story, they are not the answer
    "sim_tuned",  # cosine to the question as the fine-tuned question encoder embeds it
    "rank_tuned",  # 1 / (1 + rank) of sim_tuned among the candidates
    "rank_question",  # 1 / (1 + rank) of sim_question among the candidates
    "rank_focus",  # the same for sim_focus
    "gap_question",  # sim_question minus the best candidate's
    "neighbour_sim",  # best sim_question of the sentence just before or after
    "near_best",  # 1 / sentences away from its article's sentence most like the question
    "focus_overlap",  # rarity-weighted share of the focus words the sentence holds
    "focus_name_overlap",  # ... of the focus's names ("Harbourton", "Coastal Herald")
    "focus_word_overlap",  # ... of its other words, what is said of them ("manages", "heads")
    "context_overlap",  # the same for the context words
    "neighbour_focus_overlap",  # best focus_overlap of the sentence before or after
    "novelty",  # share of the sentence's words the question does not hold
    "restates",  # the sentence adds no word to the question
    "specificity",  # how rare the words it adds are: a precise detail, not a generic phrase
    *(f"kind_{kind}" for kind in KINDS),  # a new phrase of the asked kind (one column a kind)
    "answer_near_focus",  # that phrase within a few words of a focus word
    "new_names",  # the sentence names something the question does not (any kind)
    "first_mention",  # its new phrase of the asked kind is not in its article before it
    "article_rank_0",  # the sentence's article is retrieval's first ...
    "article_rank_1",  # ... or second
    "article_gap",  # its article's best passage score minus the best article's
    "in_passage",  # the sentence lies inside a retrieved passage
    "lead",  # 1 / (1 + its position in the article)
    "length",  # log of its word count
    "quotes",  # it quotes someone
    "constraints_article",  # share of the question's years and numbers its article holds
    "years_article",  # share of the question's years its article holds (1 with none asked)
    "constraints_sentence",  # ... that the sentence itself holds
    "title_overlap",  # rarity-weighted share of the question's words in the article's title
    "article_coverage",  # ... in the article's whole text: a question is written from one story
)

_NEAR_WORDS = 6
"""Words between an answer phrase and a focus word for them to count as one statement."""
_LONG_SENTENCE_WORDS = 60
_QUOTE = re.compile(r"[\"“”]|\b(?:said|says|told|added)\b")


@dataclass(frozen=True)
class Similarities:
    """Cosines of every candidate's stored vector to the parts of the question."""

    question: np.ndarray
    focus: np.ndarray
    context: np.ndarray
    tuned: np.ndarray  # to the question as the fine-tuned question encoder embeds it


def weighted_overlap(weights: Mapping[str, float], terms: set[str]) -> float:
    """Share of the weighted question terms found among the sentence's terms.

    >>> weighted_overlap({"bank": 1.0, "nishikawa": 3.0}, {"nishikawa", "said"})
    0.75
    """
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


def novelty(question_terms: set[str], sentence_terms: Sequence[str]) -> float:
    """Share of the sentence's content terms that the question does not contain.

    >>> novelty({"share", "rose"}, ["share", "rose", "nishikawa", "said"])
    0.5
    """
    if not sentence_terms:
        return 0.0
    return sum(t not in question_terms for t in sentence_terms) / len(sentence_terms)


def rank_scores(values: np.ndarray) -> np.ndarray:
    """1 / (1 + rank) of each value among all, best (largest) first.

    >>> rank_scores(np.array([0.2, 0.9, 0.5])).round(2).tolist()
    [0.33, 1.0, 0.5]
    """
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return 1.0 / (1.0 + ranks)


def neighbour_max(article_ids: Sequence[str], indices: Sequence[int], values: np.ndarray):
    """For each sentence, the larger value of the sentences just before and after it."""
    position = {(a, i): n for n, (a, i) in enumerate(zip(article_ids, indices, strict=True))}
    out = np.zeros(len(values))
    for n, (a, i) in enumerate(zip(article_ids, indices, strict=True)):
        around = [position.get((a, i - 1)), position.get((a, i + 1))]
        found = [values[m] for m in around if m is not None]
        out[n] = max(found) if found else 0.0
    return out


def near_best(article_ids: Sequence[str], indices: Sequence[int], values: np.ndarray) -> np.ndarray:
    """For each sentence, 1 / its distance (in sentences) to the sentence of its article with
    the largest value; 0 for that sentence itself. Readers pin the story down with what its
    best-matching sentence says; the answer often sits right before or after it.

    >>> near_best(["a", "a", "a", "b"], [0, 1, 3, 5], np.array([0.1, 0.9, 0.2, 0.4])).tolist()
    [1.0, 0.0, 0.5, 0.0]
    """
    best: dict[str, tuple[float, int]] = {}
    for a, i, v in zip(article_ids, indices, values, strict=True):
        if a not in best or v > best[a][0]:
            best[a] = (v, i)
    out = np.zeros(len(values))
    for n, (a, i) in enumerate(zip(article_ids, indices, strict=True)):
        distance = abs(i - best[a][1])
        out[n] = 1.0 / distance if distance else 0.0
    return out


def kind_match(
    analysis: QuestionAnalysis,
    sentence: str,
    question_words: set[str],
    common: frozenset[str] = frozenset(),
) -> float:
    """How well the sentence holds a new phrase of the asked kind, from 0 to 1 (`common`: the
    words its articles write in lower case, which open a sentence without naming anything).

    >>> from askdocs.answer.question import analyse
    >>> q = analyse("Who leads the bank?")
    >>> kind_match(q, "President Anna Berg said it would grow.", {"who", "leads", "bank"})
    1.0
    """
    if analysis.kind == REASON:
        return 1.0 if has_cause(sentence) else 0.0
    every = spans_of_kind(analysis.kind, sentence, common)
    found = new_spans(every, question_words)
    if not found:
        return 0.0
    if (
        analysis.kind == NUMBER
        and analysis.unit
        and not measuring(sentence, found, every, analysis.unit)
    ):
        # New numbers, but none of what is asked: "six weeks" for "how much did X pay"
        # (each number judged by its own unit words, not by the sentence's other numbers).
        return 0.5
    if (
        analysis.kind == DATE
        and analysis.date_part
        and not any(holds_date_part(s.text, analysis.date_part) for s in found)
    ):
        return 0.5  # a new date, but not the part asked: "last year" for "in which year"
    if analysis.kind == PERSON and not any(_person_like(sentence, s) for s in found):
        return 0.5  # a new name, but nothing marks it as a person's
    if analysis.kind == PLACE and not new_spans(places(sentence), question_words):
        return 0.5  # a new name, but nothing says it is where something happened
    if analysis.kind == NAME and analysis.head:
        # "Which institute ..." is answered by a new name next to the noun it asks for.
        return 1.0 if _near_head(sentence, analysis.head, found) else 0.5
    return 1.0


ARTICLE_LEVEL = (
    "article_rank_0",
    "article_rank_1",
    "article_gap",
    "lead",
    "title_overlap",
    "article_coverage",
)
"""Columns that read a candidate's article as a story: which story retrieval ranked first,
how much of the question the story covers, where in it the sentence stands. (The year and
number constraints read the article too, but say the same of a snippet as of a story.)"""


def all_snippets(pool: CandidatePool) -> bool:
    """Whether every candidate comes from an article a retrieved passage holds whole: a
    collection of web snippets (RGB's shape), not of stories."""
    return bool(pool.candidates) and all(c.article_id in pool.snippets for c in pool.candidates)


def pool_averaged(columns: dict[str, np.ndarray], names: Sequence[str]) -> None:
    """Each named column set to its mean over the pool: a signal that cannot tell one
    candidate from another adds the same to each (the ranker is fitted on stories, so its
    weight for the column stays; only the differences go).

    >>> c = {"lead": np.array([1.0, 0.5, 0.0]), "length": np.array([1.0, 2.0, 3.0])}
    >>> pool_averaged(c, ["lead"]); c["lead"].tolist(), c["length"].tolist()
    ([0.5, 0.5, 0.5], [1.0, 2.0, 3.0])
    """
    for name in names:
        columns[name] = np.full_like(columns[name], columns[name].mean())


LESS_PRECISE_DATE = 0.5
"""kind_date of a sentence whose new date is less precise than another candidate's, for a
bare "when" question: the partial value kind_match gives a date lacking the asked part."""


def new_date_precision(sentence: str, question_words: set[str]) -> int:
    """The precision (entities.date_precision) of the most precise date the sentence adds to
    the question; -1 when it adds none.

    >>> new_date_precision("It opened in 2019, on 20 September 2019.", {"opened"})
    7
    >>> new_date_precision("It opened in 2019.", {"opened", "2019"})
    -1
    """
    found = new_spans(dates(sentence), question_words)
    return max((date_precision(s.text) for s in found), default=-1)


def graded_by_precision(kind: np.ndarray, precision: Sequence[int]) -> np.ndarray:
    """kind_date for a "when" question that names no part of a date: a full match only for
    the candidates whose new date is as precise as the most precise one any candidate adds.
    "When was the game released?" asks for the day; "in 2017" from one story does not answer
    it as well as "on December 1, 2017" from another (news gives the day when it knows it).
    When the question names the part ("In which year ..."), kind_match grades by that part.

    >>> graded_by_precision(np.array([1.0, 1.0, 0.0]), [1, 7, -1]).tolist()
    [0.5, 1.0, 0.0]
    """
    precision = np.asarray(precision)
    full = kind == 1.0
    if not full.any():
        return kind
    top = precision[full].max()
    return np.where(full & (precision < top), LESS_PRECISE_DATE, kind)


_HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Sir|Dame|Lord|Lady|Prof)\.?\s+$")
_SPEECH_AFTER = re.compile(r"^,?\s+(?:said|says|told|added|admitted|believes|thinks|insisted)\b")


def _person_like(sentence: str, span: Span) -> bool:
    """A name of two or more words, or one after a title or before a verb of saying."""
    return (
        len(span.text.split()) >= 2
        or bool(_HONORIFIC.search(sentence[: span.start]))
        or bool(_SPEECH_AFTER.match(sentence[span.end :]))
    )


def _near_head(sentence: str, head: str, spans: list[Span]) -> bool:
    starts, stems = _words_at(sentence)
    heads = [at for at, word in zip(starts, stems, strict=True) if word == head]
    return any(_word_distance(starts, h, s) <= 3 for h in heads for s in spans)


# What makes a phrase "a/an/another ... <noun>" introduce something the sentence does not name
# ("A US woman is suing HP"), as against describing something named elsewhere in it: after
# "as" or a linking verb it is a predicate ("Warsi ... to run as a Conservative candidate");
# after a comma, an apposition ("Jet Star, a small label"); before ", Name" or "called Name"
# the name follows.
_INDEFINITE = frozenset({"a", "an", "another"})
_PREDICATING = frozenset("as is are was were be been being become became becomes remains".split())
_NAMING = frozenset({"called", "named", "dubbed"})
_INDEFINITE_WORDS = 4
"""Most words from the article to the noun ("a 26-year-old Dutch-Moroccan man")."""
_TOKEN = re.compile(r"[\w'’-]+|[^\w\s]")


def leaves_unnamed(sentence: str, head: str) -> bool:
    """Whether the sentence brings in the asked thing (`head`, a stemmed noun) as an unnamed
    one: "a/an/another ... <head>" that is no predicate or apposition and is not followed by
    its name. "What is the name of the Georgia woman ..." is not answered by "A US woman is
    suing HP": a news story that knew her name would give it there.

    >>> leaves_unnamed("A US woman is suing Hewlett Packard.", "woman")
    True
    >>> leaves_unnamed("Sayeeda Warsi is to stand as a Conservative candidate.", "candidate")
    False
    >>> leaves_unnamed("A US woman, Jane Doe, is suing HP.", "woman")
    False
    """
    words = _TOKEN.findall(sentence)
    for n, word in enumerate(words):
        if word.lower() not in _INDEFINITE:
            continue
        before = words[n - 1].lower() if n else ""
        for m in range(n + 1, min(n + 1 + _INDEFINITE_WORDS, len(words))):
            if not words[m][0].isalnum():
                break
            if stem(words[m].lower()) != head:
                continue
            after = words[m + 1 : m + 3]
            named_after = (after[:1] == [","] and after[1:2] and after[1][:1].isupper()) or (
                after[:1] and after[0].lower() in _NAMING
            )
            if not (before in _PREDICATING or before == "," or named_after):
                return True
            break
    return False


@lru_cache(maxsize=50_000)
def _words_at(sentence: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Where each word of the sentence starts, and its stem."""
    found = tokens(sentence)
    return tuple(a for a, _, _ in found), tuple(w for _, _, w in found)


@lru_cache(maxsize=50_000)
def _terms(text: str) -> tuple[str, ...]:
    return tuple(content_terms(text))


@lru_cache(maxsize=64)
def _article_terms(text: str) -> frozenset[str]:
    """An article's terms, cached apart from sentences' with room for fewer: a question reads
    three articles, a conversation the same ones again, and an article's text can be long."""
    return frozenset(content_terms(text))


def _word_distance(starts: Sequence[int], at: int, span: Span) -> int:
    """Words between the word starting at `at` and the span (0 when inside it)."""
    index = bisect_left(starts, at)
    first = bisect_left(starts, span.start)
    last = max(first, bisect_left(starts, span.end) - 1)
    if first <= index <= last:
        return 0
    return min(abs(index - first), abs(index - last))


def answer_near_focus(
    analysis: QuestionAnalysis,
    sentence: str,
    question_words: set[str],
    common: frozenset[str] = frozenset(),
) -> float:
    """1 / (1 + words between a new phrase of the asked kind and the nearest focus word)."""
    every = spans_of_kind(analysis.kind, sentence, common)
    found = new_spans(every, question_words)
    if not found or not analysis.focus_terms:
        return 0.0
    focus = set(analysis.focus_terms)
    starts, stems = _words_at(sentence)
    anchors = [at for at, word in zip(starts, stems, strict=True) if word in focus]
    if not anchors:
        return 0.0
    distance = min(_word_distance(starts, a, s) for a in anchors for s in found)
    return 1.0 / (1.0 + distance) if distance <= _NEAR_WORDS else 0.0


def constraints_met(analysis: QuestionAnalysis, text: str, years_only: bool = False) -> float:
    """Share of the question's years and numbers (or only its years) that the text holds (1
    when it has none)."""
    wanted = set(analysis.years) | (set() if years_only else set(analysis.numbers))
    if not wanted:
        return 1.0
    plain = text.replace(",", "")
    return sum(
        re.search(rf"(?<![\d.]){re.escape(w.replace(',', ''))}(?![\d])", plain) is not None
        for w in wanted
    ) / len(wanted)


MIN_RARITY_PASSAGES = 500
"""Passages the keyword index must hold before `specificity` reads its rarities. A word's
document frequency in a handful of passages says little about how specific it is: with idf
from a random 500 of this corpus's 7,311 passages, each question's candidates rank by
specificity as with idf from all of them at Spearman 0.94, with 100 at 0.84, with 10 at 0.56
(scripts/rarity_sample_size.py). Below it the column is 0 for every candidate, adding nothing
to any candidate's score over another's: an index of five web snippets (RGB) would otherwise
rank by noise."""


def pool_terms(pool: CandidatePool) -> list[tuple[str, ...]]:
    """Each candidate's content terms (cached: the features read them again)."""
    return [_terms(c.text) for c in pool.candidates]


def specificity(
    question_terms: set[str], sentence_terms: Sequence[str], rarity: Mapping[str, float]
) -> float:
    """Mean rarity of the sentence's terms that the question does not hold, as a share of the
    rarest term's in `rarity` (the question's and its candidates' terms): "has not recovered
    from a trapped nerve in his neck" adds rarer words than "will miss the game because of
    injury". A term without a rarity counts as the rarest.

    >>> rarity = {"miss": 2.0, "trapped": 8.0, "nerve": 6.0, "injury": 3.0}
    >>> specificity({"miss"}, ["miss", "trapped", "nerve"], rarity)
    0.875
    >>> specificity({"miss"}, ["miss", "injury"], rarity), specificity({"miss"}, ["miss"], rarity)
    (0.375, 0.0)
    """
    new = [t for t in sentence_terms if t not in question_terms]
    if not new:
        return 0.0
    ceiling = max(rarity.values(), default=1.0) or 1.0
    return sum(rarity.get(t, ceiling) for t in new) / len(new) / ceiling


def first_mention(phrases: Sequence[str], seen: frozenset[str]) -> float:
    """Whether any of the sentence's new phrases of the asked kind (`phrases`) is brought in
    here: its last word (a surname, a unit, a year) is not among the words its article used
    before the sentence (`seen`, as `words` reads them). A story introduces a fact once; a
    later sentence that names the same person or figure again is about something else, or
    restates it.

    >>> first_mention(["Yoshifumi Nishikawa"], words("SMFG shares rose."))
    1.0
    >>> first_mention(["Mr Nishikawa"], words("SMFG President Yoshifumi Nishikawa said so."))
    0.0
    >>> first_mention([], frozenset())
    0.0
    """
    for phrase in phrases:
        last = words(phrase.rsplit(maxsplit=1)[-1]) if phrase.strip() else frozenset()
        if last and not last & seen:
            return 1.0
    return 0.0


def words_before(pool: CandidatePool) -> list[frozenset[str]]:
    """For each candidate, the words (`words`) its article's text holds before it: each
    article read once, piece by piece between its candidates' starts, not once a candidate."""
    before: list[frozenset[str]] = [frozenset()] * len(pool)
    by_article: dict[str, list[int]] = {}
    for row, candidate in enumerate(pool.candidates):
        by_article.setdefault(candidate.article_id, []).append(row)
    for article_id, rows in by_article.items():
        text = pool.articles[article_id].text
        seen: frozenset[str] = frozenset()
        read_to = 0
        for row in sorted(rows, key=lambda r: pool.candidates[r].start):
            start = pool.candidates[row].start
            if start > read_to:
                seen = seen | words(text[read_to:start])
                read_to = start
            before[row] = seen
    return before


def feature_matrix(
    analysis: QuestionAnalysis,
    pool: CandidatePool,
    sims: Similarities,
    rarity: Mapping[str, float],
    added_rarity: Mapping[str, float] | None = None,
) -> np.ndarray:
    """One row per candidate, one column per name in FEATURES. `rarity` weighs the question's
    terms; `added_rarity` (the candidates' terms too) is read by `specificity`, None when the
    collection is too small to measure it (MIN_RARITY_PASSAGES)."""
    n = len(pool)
    question_words = words(analysis.text)
    question_terms = set(analysis.terms)
    focus_weights = {t: rarity.get(t, 1.0) for t in analysis.focus_terms}
    context_weights = {t: rarity.get(t, 1.0) for t in analysis.context_terms}
    names_asked = set(analysis.name_terms)
    focus_names = {t: w for t, w in focus_weights.items() if t in names_asked}
    focus_words = {t: w for t, w in focus_weights.items() if t not in names_asked}
    all_weights = {t: rarity.get(t, 1.0) for t in analysis.terms}
    article_ids = [c.article_id for c in pool.candidates]
    indices = [c.index for c in pool.candidates]
    best_article = pool.article_scores[0] if pool.article_scores else 0.0
    article_facts = {
        a: (
            constraints_met(analysis, art.text),
            weighted_overlap(all_weights, set(content_terms(art.title))),
            constraints_met(analysis, art.text, years_only=True),
            weighted_overlap(all_weights, _article_terms(art.text)),
        )
        for a, art in pool.articles.items()
        if a in set(article_ids)
    }
    columns: dict[str, np.ndarray] = {name: np.zeros(n) for name in FEATURES}
    common = pool.common_words
    columns["sim_question"] = sims.question
    columns["sim_focus"] = sims.focus
    columns["sim_context"] = sims.context
    columns["sim_tuned"] = sims.tuned
    columns["rank_tuned"] = rank_scores(sims.tuned)
    columns["rank_question"] = rank_scores(sims.question)
    columns["rank_focus"] = rank_scores(sims.focus)
    columns["gap_question"] = sims.question - (sims.question.max() if n else 0.0)
    columns["neighbour_sim"] = neighbour_max(article_ids, indices, sims.question)
    columns["near_best"] = near_best(article_ids, indices, sims.question)
    seen = words_before(pool)
    for row, candidate in enumerate(pool.candidates):
        text = candidate.text
        terms = _terms(text)
        term_set = set(terms)
        columns["focus_overlap"][row] = weighted_overlap(focus_weights, term_set)
        columns["focus_name_overlap"][row] = weighted_overlap(focus_names, term_set)
        columns["focus_word_overlap"][row] = weighted_overlap(focus_words, term_set)
        columns["context_overlap"][row] = weighted_overlap(context_weights, term_set)
        columns["novelty"][row] = novelty(question_terms, terms)
        columns["restates"][row] = float(not term_set - question_terms)
        if added_rarity is not None:
            columns["specificity"][row] = specificity(question_terms, terms, added_rarity)
        columns[f"kind_{analysis.kind}"][row] = kind_match(analysis, text, question_words, common)
        columns["answer_near_focus"][row] = answer_near_focus(
            analysis, text, question_words, common
        )
        named = spans_of_kind(NAME, text, common)
        columns["new_names"][row] = float(bool(new_spans(named, question_words)))
        asked = new_spans(spans_of_kind(analysis.kind, text, common), question_words)
        columns["first_mention"][row] = first_mention([span.text for span in asked], seen[row])
        columns["article_rank_0"][row] = float(candidate.article_rank == 0)
        columns["article_rank_1"][row] = float(candidate.article_rank == 1)
        columns["article_gap"][row] = pool.article_scores[candidate.article_rank] - best_article
        columns["in_passage"][row] = float(candidate.in_passage)
        columns["lead"][row] = 1.0 / (1.0 + candidate.index)
        columns["length"][row] = math.log1p(len(text.split())) / math.log(_LONG_SENTENCE_WORDS)
        columns["quotes"][row] = float(bool(_QUOTE.search(text)))
        met, title, years, coverage = article_facts[candidate.article_id]
        columns["constraints_article"][row] = met
        columns["years_article"][row] = years
        columns["constraints_sentence"][row] = constraints_met(analysis, text)
        columns["title_overlap"][row] = title
        columns["article_coverage"][row] = coverage
    if analysis.kind == DATE and not analysis.date_part:
        columns["kind_date"] = graded_by_precision(
            columns["kind_date"],
            [new_date_precision(c.text, question_words) for c in pool.candidates],
        )
    if all_snippets(pool):
        # An article of a sentence or two is not a story: its coverage of the question is its
        # sentence's, already read by the sentence's own columns, and a same-topic snippet
        # that repeats the question outranks the one that answers it (RGB: the answering
        # snippet ranks first for 22 of 50 questions at noise 0.8 without these columns'
        # contributions, 20 with them; scripts/rgb_candidates.py --without).
        pool_averaged(columns, ARTICLE_LEVEL)
    columns["neighbour_focus_overlap"] = neighbour_max(
        article_ids, indices, columns["focus_overlap"]
    )
    return (
        np.column_stack([columns[name] for name in FEATURES]) if n else np.zeros((0, len(FEATURES)))
    )
