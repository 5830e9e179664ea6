"""Spans of a sentence that can answer a question of one kind: names, quantities, dates, places.

Plain patterns over capitalisation, digits and a few closed classes of English words (months,
weekdays, units, causal connectives); no word here comes from a particular question or article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from askdocs.answer.question import DATE, NAME, NUMBER, PERSON, PLACE, REASON
from askdocs.index.keywords import STOPWORDS, TOKEN, stem

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
# A date written in figures: day/month/year either way round ("10/27/2017", "27.10.2017") or
# ISO ("2017-10-27"); two-figure years too ("27/10/17"). Not "3/4" (a fraction) nor a score.
_NUMERIC_DATE = r"\b(?:\d{1,2}[/.]\d{1,2}[/.](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2})\b"
# Words that may follow a year in running text ("in 1337 by", "in 1701 that").
_FUNCTION_WORDS = ("and", "but", "for", "the", "that", "which", "when", "with", "was", "were")
_YEAR = (
    r"\b(?:1[89]\d\d|20\d\d)s?\b"
    # An older year only after a preposition of time and not before a word it would count
    # ("set up in 1337 by King Edward III", not "from 1700 local firms").
    r"|(?:(?<=\b[Ii]n )|(?<=\b[Ss]ince )|(?<=\b[Ff]rom )|(?<=\b[Uu]ntil ))1[0-7]\d\d\b"
    rf"(?!,?\d|\s+(?!{'|'.join(_FUNCTION_WORDS)}\b)[a-z]{{3,}})"
)
DATE_SPAN = re.compile(
    rf"{_NUMERIC_DATE}"
    rf"|\b(?:{_WEEKDAY},?\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\b(?:,?\s+\d{{4}})?"
    rf"|\b(?:{_WEEKDAY},?\s+)?{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?"
    rf"|\b(?:(?:early|late|mid)[- ])?{_MONTH}\s+(?:of\s+)?\d{{4}}\b"
    rf"|{_YEAR}|\b{_WEEKDAY}\b"
    r"|\b(?:yesterday|today|tomorrow|last (?:week|month|year)|next (?:week|month|year))\b"
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|hundreds|thousand|thousands|dozen|dozens|half|quarter|third"
)
QUANTITY_SPAN = re.compile(
    r"(?:[£$€¥]\s?)?\d[\d,.]*(?:\s?-\s?\d[\d,.]*)?"
    r"(?:\s?%|\s?(?:per ?cent|percent|bn|m|k|million|billion|trillion|thousand|pence|p)\b)?"
    rf"|\b(?:{_NUMBER_WORDS})(?:[- ](?:{_NUMBER_WORDS}))*\b",
    re.IGNORECASE,
)
# A name word, or one with an Arabic article or patronymic joined by a hyphen ("al-Gosaibi").
# A slash joins two capitalised parts into one name ("AC/DC", "Google I/O").
_NAME_WORD = r"(?:(?:al|el|ul|bin|ibn|abu)-)?(?:[A-Z][\w'’.&-]*|[A-Z]{2,}\d*)(?:/[A-Z][\w&-]*)*"
_NAME_SPAN = re.compile(
    rf"{_NAME_WORD}(?:\s+(?:(?:of|de|del|da|di|la|le|van|von|bin|al|and|&|the)\s+)?{_NAME_WORD})*"
)
# A month or a weekday: a date where a name is asked for ("November 17", "on Tuesday").
CALENDAR_WORD = re.compile(rf"(?:{_MONTH}|{_WEEKDAY})\.?")
# Nationality and people adjectives by their English endings ("Venezuelan", "Chinese", "British").
_DEMONYM = re.compile(r"(?:an|ese|ish|ic|i)$")
_DEMONYM_NOUN = re.compile(r"\s+([a-z][a-z-]+)\b")
_PLACE_PREPOSITION = re.compile(r"\b(?:in|at|near|from|to|outside|inside|across)\s+(?:the\s+)?$")
# English causal connectives: a cause ("because", "in the wake of"), an agent of change ("fuelled
# by", "driven by"), a purpose ("so that") or a consequence ("led to", "which is why").
_CAUSE = re.compile(
    r"\b(?:because|due to|owing to|as a result|result of|thanks to|caused by|blamed|reason|"
    r"after|since|so that|in order to|amid|following|led to|meant|aimed at|in the wake of|"
    r"on the grounds|in response to|for fear|given that|as a consequence|consequently|"
    r"therefore|which is why|(?:fuell?ed|driven|prompted|triggered|sparked|spurred|"
    r"motivated|explained) by)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w'’-]+")
_CACHED_SENTENCES = 50_000
"""Sentences whose phrases are kept: every feature reads them, and questions about one story
read the same sentences again."""


@dataclass(frozen=True)
class Span:
    """A candidate answer phrase: sentence[start:end] == text."""

    start: int
    end: int
    text: str


Token = tuple[int, int, str]


@lru_cache(maxsize=_CACHED_SENTENCES)
def tokens(text: str) -> tuple[Token, ...]:
    """(start, end, stem) of each word or number, stemmed as the question's terms are (cached:
    several features, the short answer and several questions read the same sentence).

    >>> tokens("Fans came.")
    ((0, 4, 'fan'), (5, 9, 'came'))
    """
    return tuple(
        (m.start(), m.end(), stem(m.group().lower().strip(".,'’-"))) for m in TOKEN.finditer(text)
    )


# The dots of an abbreviation: "U.S." is the question's "US".
_ABBREVIATION_DOT = re.compile(r"(?<=\b[A-Za-z])\.(?=[A-Za-z]\b)")


# A brand written with a lower-case opening before its capital ("eBay", "iPod"): `names`
# reads only the capitalised rest ("Bay"), which is the same brand, not a new name.
_LOWER_OPENING = re.compile(r"^[a-z]{1,2}(?=[A-Z])")


@lru_cache(maxsize=_CACHED_SENTENCES)
def words(text: str) -> frozenset[str]:
    """Lower-cased words without possessives or abbreviation dots, for comparing a phrase with
    the question; a brand with a lower-case opening also gives the rest that `names` reads.

    >>> sorted(words("the U.S. Open's"))
    ['open', 'the', 'us']
    >>> sorted(words("his eBay auction"))
    ['auction', 'bay', 'ebay', 'his']
    """
    found = set()
    for word in _WORD.findall(_ABBREVIATION_DOT.sub("", text)):
        word = word.removesuffix("'s").removesuffix("’s")
        found.add(word.lower())
        if opening := _LOWER_OPENING.match(word):
            found.add(word[opening.end() :].lower())
    return frozenset(found)


@lru_cache(maxsize=_CACHED_SENTENCES)
def names(sentence: str) -> tuple[Span, ...]:
    """Runs of capitalised words, a leading stop word ("The", "But") left off.

    A name that is a nationality or people ("Venezuelan", "Chinese") names what the noun
    after it says: "the Venezuelan government" is one name.

    >>> [s.text for s in names("But Acme President Anna Berg said so.")]
    ['Acme President Anna Berg']
    >>> [s.text for s in names("Rubio accused the Venezuelan government of it.")]
    ['Rubio', 'Venezuelan government']
    >>> [s.text for s in names("Labour Minister Ghazi al-Gosaibi said so.")]
    ['Labour Minister Ghazi al-Gosaibi']
    """
    spans = []
    for match in _NAME_SPAN.finditer(sentence):
        start, text = match.start(), match.group().rstrip(".'’")
        first = text.split(" ", 1)
        while first and first[0].lower() in STOPWORDS:
            if len(first) == 1:
                text = ""
                break
            start += len(first[0]) + 1
            text = first[1]
            first = text.split(" ", 1)
        if text:
            noun = _DEMONYM_NOUN.match(sentence, start + len(text)) if " " not in text else None
            if noun and _DEMONYM.search(text) and noun[1].lower() not in STOPWORDS:
                text = sentence[start : noun.end()]
            spans.append(Span(start, start + len(text), text))
    return tuple(spans)


@lru_cache(maxsize=_CACHED_SENTENCES)
def quantities(sentence: str) -> tuple[Span, ...]:
    """Numbers with their currency or unit; years and dates are left to `dates`.

    >>> [s.text for s in quantities("It cost £5.5bn in 2004, up 12%.")]
    ['£5.5bn', '12%']
    """
    dated = [(m.start(), m.end()) for m in DATE_SPAN.finditer(sentence)]
    spans = []
    for m in QUANTITY_SPAN.finditer(sentence):
        text = m.group().strip().rstrip(".,")
        if not text or any(a <= m.start() < b for a, b in dated):
            continue
        spans.append(Span(m.start(), m.start() + len(text), text))
    return tuple(spans)


@lru_cache(maxsize=_CACHED_SENTENCES)
def dates(sentence: str) -> tuple[Span, ...]:
    """Years, days of the month, weekdays and relative days.

    >>> [s.text for s in dates("It was set up in 1337 by King Edward III on 3 March.")]
    ['1337', '3 March']
    >>> dates("Aid went from 1700 local firms to the 900 others.")
    ()
    """
    return tuple(Span(m.start(), m.end(), m.group()) for m in DATE_SPAN.finditer(sentence))


@lru_cache(maxsize=_CACHED_SENTENCES)
def places(sentence: str) -> tuple[Span, ...]:
    """Names that follow a preposition of place: "in Rome", "at the Tor Di Valle arena"."""
    return tuple(s for s in names(sentence) if _PLACE_PREPOSITION.search(sentence[: s.start]))


# Money has a currency: a sign, a currency word, or the "m"/"bn" that news writes only for
# money ("£5m", "5bn"). A bare "million" is any count ("45 million copies", "3 million
# customers"), so it is money only with one of the others.
_MONEY = re.compile(
    r"[£$€¥]\s?\d|\d\s?(?:bn|m)\b|\b(?:pounds|dollars|euros|yen|francs|sterling)\b", re.IGNORECASE
)
_TIME = re.compile(
    r"\d+\s*(?:-\s*)?(?:second|minute|min|hour|day|week|month|year|season|lap|round)s?\b|"
    r"\d+(?:st|nd|rd|th) minute|\b(?:minutes?|hours?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"%|\bper ?cent\b|\bpercent", re.IGNORECASE)


def holds_unit(sentence: str, unit: str) -> bool:
    """Whether a sentence measures what the question asks: money, time, percent, or
    "count:<noun>" (the noun within a few words after a number: "40,000 fans", "3 new jobs").

    >>> holds_unit("It cost £5m.", "money"), holds_unit("Some 40,000 loyal fans came.", "count:fan")
    (True, True)
    """
    undated = DATE_SPAN.sub(" ", sentence)
    if unit == "money":
        return bool(_MONEY.search(undated))
    if unit == "time":
        return bool(_TIME.search(undated))
    if unit == "percent":
        return bool(_PERCENT.search(undated))
    nouns = "|".join(re.escape(noun) for noun in unit.removeprefix("count:").split("+"))
    number = rf"(?:\d[\d,.]*|{_NUMBER_WORDS})"
    return (
        re.search(rf"\b{number}\s+(?:\S+\s+){{0,2}}(?:{nouns})", undated, re.IGNORECASE) is not None
    )


UNIT_WORDS_AFTER = 3
"""A number's unit follows it within a few words ("40,000 loyal fans", "5 million pounds")."""


def unit_window(sentence: str, span: Span, spans: Sequence[Span] = ()) -> str:
    """A quantity with the sign just before it and the few words after it, up to the next of
    `spans`: the text that says what this quantity measures.

    >>> s = "They raised £180,000 in six weeks to keep it open."
    >>> [unit_window(s, x, quantities(s)) for x in quantities(s)]
    ['£180,000 in', 'six weeks to keep']
    """
    start = span.start - 1 if span.start and not sentence[span.start - 1].isspace() else span.start
    end = min((s.start for s in spans if s.start >= span.end), default=len(sentence))
    after = sentence[span.end : end].split()[:UNIT_WORDS_AFTER]
    return " ".join([sentence[start : span.end], *after])


def measuring(sentence: str, found: Sequence[Span], spans: Sequence[Span], unit: str) -> list[Span]:
    """The quantities of `found` that measure `unit` (money, time, percent, count:<noun>),
    each judged by its own few words, not by the whole sentence.

    >>> s = "Parents raised 180,000 pounds in six weeks."
    >>> [x.text for x in measuring(s, quantities(s), quantities(s), "time")]
    ['six']
    """
    return [x for x in found if holds_unit(unit_window(sentence, x, spans), unit)]


# What gives each part of a date; a date in figures gives them all.
_DATE_PARTS = {
    # of a phrase `dates` found: any year it gave, a decade too ("the 2000s")
    "year": re.compile(rf"\b(?:1\d\d\d|20\d\d)s?\b|{_NUMERIC_DATE}"),
    "month": re.compile(rf"\b{_MONTH}\b|{_NUMERIC_DATE}"),
    "date": re.compile(
        rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\b|\b{_MONTH}\.?\s+\d{{1,2}}\b|{_NUMERIC_DATE}"
    ),
}


def holds_date_part(date: str, part: str) -> bool:
    """Whether a date phrase gives the part of a date a question asks for ("year", "month",
    "date": a day of a month; QuestionAnalysis.date_part).

    >>> holds_date_part("Friday", "year"), holds_date_part("in 2000", "year")
    (False, True)
    >>> holds_date_part("the 2000s", "year"), holds_date_part("1337", "year")
    (True, True)
    >>> holds_date_part("March 2004", "date"), holds_date_part("3 March 2004", "date")
    (False, True)
    """
    return bool(_DATE_PARTS[part].search(date))


def date_precision(date: str) -> int:
    """How precisely a date phrase places a day: a day of a month outranks a month, which
    outranks a year alone; a weekday or "last year" gives none of the three (0). Only the order
    of the values counts (a day of a month, 4, beats a month with its year, 3).

    >>> [date_precision(d) for d in ("last year", "2019", "September 2019", "20 September")]
    [0, 1, 3, 6]
    >>> date_precision("September 20, 2019"), date_precision("10/27/2017")
    (7, 7)
    """
    return sum(
        weight * holds_date_part(date, part)
        for part, weight in (("date", 4), ("month", 2), ("year", 1))
    )


def has_cause(sentence: str) -> bool:
    """Whether the sentence gives a reason ("because", "due to", "after", "blamed")."""
    return bool(_CAUSE.search(sentence))


def spans_of_kind(
    kind: str, sentence: str, common: frozenset[str] = frozenset()
) -> tuple[Span, ...]:
    """The phrases of a sentence that could answer a question of this kind; `common`: the
    words its articles write in lower case (`common_words`)."""
    if kind == NUMBER:
        return quantities(sentence)
    if kind == DATE:
        return dates(sentence)
    if kind == PLACE:
        return places(sentence) or without_common_opening(names(sentence), sentence, common)
    if kind in (PERSON, NAME):
        return without_common_opening(names(sentence), sentence, common)
    if kind == REASON:
        return ()
    return ()


# A capitalised run that names a weekday (with its month), or a month after a word that places
# it in time ("Last Friday", "Friday, March", "Early March"): a date, not the name of anything.
# A month alone may be a name ("May" said, "June" Brown).
_WHEN = r"(?:Last|Next|This|Early|Late|Mid|On|Since|Until)\s+"
_DATE_NAME = re.compile(rf"(?:{_WHEN})?{_WEEKDAY}(?:,?\s+{_MONTH})?|{_WHEN}{_MONTH}")


def is_date_name(text: str) -> bool:
    """Whether a capitalised run only names a day or month.

    >>> is_date_name("Last Friday"), is_date_name("Friday, March"), is_date_name("Early March")
    (True, True, True)
    >>> is_date_name("May"), is_date_name("Theresa May")
    (False, False)
    """
    return bool(_DATE_NAME.fullmatch(text))


# English puts no article before a person's name: one right after "the" (or "the" and a
# year) names a thing ("exit from the Uefa Cup", "the 2004 Summer Olympics"). Not after a
# capital "The", which opens a sentence or a title ("The Walt Disney Co. has set a deal ...":
# a company may answer "who"; "Avatar: The Way of Water").
_THE_BEFORE = re.compile(r"\bthe\s+(?:\d\w*\s+)?$")


def names_a_thing(sentence: str, span: Span) -> bool:
    """Whether the name at `span` follows "the": a thing's name, not a person's.

    >>> s = "Ronald Koeman quit after their exit from the Uefa Cup, said the striker Henry."
    >>> [(x.text, names_a_thing(s, x)) for x in names(s)]
    [('Ronald Koeman', False), ('Uefa Cup', True), ('Henry', False)]
    >>> s = "The Walt Disney Co. has set a deal."
    >>> [(x.text, names_a_thing(s, x)) for x in names(s)]
    [('Walt Disney Co', False)]
    """
    return bool(_THE_BEFORE.search(sentence[: span.start]))


_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z][a-z'’-]*")
_OPENING = " \t\n\"'‘“(["
_FIRST_WORD = re.compile(r"\S+\s+")


@lru_cache(maxsize=64)
def common_words(text: str) -> frozenset[str]:
    """The words a text writes in lower case somewhere. Capitalised only because a sentence
    opens with them, they are ordinary words ("Despite", "Now", "Written"), not names: the
    articles themselves tell which, with no word list.

    >>> sorted(common_words("Despite rain, Rubio spoke. It went on despite it."))
    ['despite', 'it', 'on', 'rain', 'spoke', 'went']
    """
    return frozenset(_LOWER_WORD.findall(text))


def without_common_opening(
    spans: Sequence[Span], sentence: str, common: frozenset[str]
) -> tuple[Span, ...]:
    """The spans, less the first word of one that opens the sentence when that word is a
    `common` one (the span goes when nothing is left).

    >>> s = "Despite this, Now Corp grew."
    >>> [x.text for x in without_common_opening(names(s), s, frozenset({"despite"}))]
    ['Now Corp']
    >>> s = "Last Friday Acme said so."
    >>> [x.text for x in without_common_opening(names(s), s, frozenset({"last"}))]
    ['Friday Acme']
    """
    if not common:
        return tuple(spans)
    out = []
    for span in spans:
        first = span.text.split(maxsplit=1)[0]
        if sentence[: span.start].strip(_OPENING) or first.lower() not in common:
            out.append(span)
            continue
        cut = _FIRST_WORD.match(span.text)
        if cut:
            out.append(Span(span.start + cut.end(), span.end, span.text[cut.end() :]))
    return tuple(out)


HONORIFICS = frozenset("mr mrs ms miss dr sir lord lady dame prof".split())
"""Titles say nothing new on their own: "Mr Walsh" is the question's Willie Walsh, and "Mr
Baume's" answers nothing when the question names Baume."""


def new_spans(spans: Sequence[Span], question_words: set[str]) -> list[Span]:
    """Spans holding a word the question does not, a title aside: what the sentence adds.

    >>> found = names("Mr Walsh met Ms Anna Berg.")
    >>> [s.text for s in new_spans(found, {"willie", "walsh"})]
    ['Ms Anna Berg']
    """
    return [s for s in spans if words(s.text) - question_words - HONORIFICS]
