"""Question analysis: what is asked (the focus), what only pins the story down (the context),
what kind of thing answers it, and the hard constraints its answer must meet.

Readers pin a story down with a clause taken from elsewhere in the article ("Who leads Acme
Bank, the lender whose shares rose 3% on talk of a merger?"). That clause finds the article;
the focus ("Who leads Acme Bank") chooses the sentence. Everything here is
grammar (wh-words, clause openers, units), never a word of a particular question or article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from askdocs.index.keywords import content_terms, stem

# Kinds of answer, from the question's wording.
NUMBER, DATE, PERSON, PLACE, NAME, REASON, ANY = (
    "number",
    "date",
    "person",
    "place",
    "name",
    "reason",
    "any",
)
KINDS = (NUMBER, DATE, PERSON, PLACE, NAME, REASON, ANY)

# What a business earns or spends: an amount of money ("What was Tesla's revenue ...").
_EARNINGS = r"revenues?|profits?|turnover|earnings|income|budget"
# "What was Kipchoge's winning time": a time that someone's or something's doing takes is
# a length of time (a clock time is asked "what time did ...", a date cue below, and so is an
# opening, closing or starting time).
_DURATION = r"\bwhat (?:[a-z'’-]+ ){0,4}?[a-z]+(?:'s|’s|(?<!open)(?<!clos)(?<!start)ing) times?\b"
_ASKS_NUMBER = re.compile(
    rf"{_DURATION}|\bhow (many|much|big|far|long|old|large|high|often|heavy|tall|fast)\b"
    r"|\bwhat (?:[a-z'’-]+ ){0,2}(percentage|share|level|sum|amount|price|proportion|number|stake|"
    rf"rate|fee|figure|total|score|margin|salary|value|cost|sales|{_EARNINGS})\b|\bby how much\b"
)
# "What is the (premiere) date of ...": the noun phrase a date question may open with.
_WHAT_IS_THE = r"\bwhat (?:is|was|are|were|will be) the (?:[a-z-]+ ){0,2}"
_ASKS_DATE = re.compile(
    r"\bwhen\b|\b(what|which|in what|in which) (year|date|day|month|season|decade|time)s?\b"
    rf"|{_WHAT_IS_THE}(?:date|day)s?\b"
)
_ASKS_PERSON = re.compile(r"\b(who|whom|whose)\b")
_AUXILIARIES = frozenset(
    "is are was were did does do has have had will would can could should may might".split()
)
_PLACE_NOUN = (
    r"(?:town|city|country|countries|venue|stadium|region|state|county|island|village|capital|"
    r"place|ground|arena|nation|port|area)(?![\w-])"  # not "state-owned"
)
# "which city", and "which US city will ...": a place noun after a word or two that qualify
# it, when an auxiliary follows, so that it ends the phrase ("which Manchester City chairman"
# asks for a chairman).
_ASKS_PLACE = re.compile(
    rf"\bwhere\b|\b(?:what|which|in what|in which) (?:{_PLACE_NOUN}"
    rf"|(?:[a-z-]+ ){{1,2}}{_PLACE_NOUN} (?=(?:{'|'.join(sorted(_AUXILIARIES))})\b))"
)
_ASKS_REASON = re.compile(r"\bwhy\b|\bwhat (reasons?|caused|led)\b|\bfor what reasons?\b")
# "which X", "what X does ...", "what is the name": a named thing. A bare "what did ..." asks
# for anything (a phrase, an action), so it is left to ANY.
_ASKS_NAME = re.compile(
    r"\bwhich\b|\bwhat (?:is|was|are|were) the (?:name|title)\b|\bwhat (?!(?:is|was|are|were|"
    r"did|does|do|has|have|had|will|would|can|could|should|it|he|she|they|the|a|an|if)\b)[a-z]+"
)
# Checked in this order at the same position: "which year" is a date before it is a name.
_KIND_CUES = [
    (NUMBER, _ASKS_NUMBER),
    (DATE, _ASKS_DATE),
    (PLACE, _ASKS_PLACE),
    (REASON, _ASKS_REASON),
    (PERSON, _ASKS_PERSON),
    (NAME, _ASKS_NAME),
]
WH_WORD = re.compile(r"\b(who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)

# Words that open a clause which describes rather than asks: relative pronouns, subordinators
# and the prepositions readers use to set a scene ("As X opened ...", "In X's plan, ...").
_CONTEXT_OPENERS = re.compile(
    r"^(?:the|a|an|whose|who|whom|which|that|where|when|after|before|while|as|since|despite|"
    r"in spite of|following|during|with|without|in|on|at|for|from|according to|once|"
    r"having|until|amid|among|ahead of|under|over|by|[\w-]+ed by|[\w-]+ed with)\b",
    re.IGNORECASE,
)
# A lower-case word in -ing opening a clause: a participle ("ruling", "prompting", "ending").
_PARTICIPLE = re.compile(r"[a-z]{3,}ing\b")
# A relative clause inside a segment: "the office whose report found ...". Not "that": in
# questions it is as often a conjunction ("told the meeting that no offers came in").
_RELATIVE = re.compile(r"\s(?:whose|which|who|whom|where)\s", re.IGNORECASE)
_RELATIVE_WH = re.compile(
    r"\b(?:in|on|at|for|by|from|to|with|through|of|during|under|after) (?:which|whom|whose)\b",
    re.IGNORECASE,
)
_SEGMENT = re.compile(r"\s*[,;:]\s+|\s*[()]\s*|\s+[-–—]\s+")

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_NUMBER_TOKEN = re.compile(r"\d[\d,.]*(?:-\d+)?")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of|de|la|van|von|bin|the)?\s*[A-Z][\w'’.-]*)*")
_HEAD_NOUN = re.compile(
    r"\b(?i:which|what)\s+(?:[A-Z][\w-]*\s+|[a-z]+(?:ed|ing)\s+)*([a-z][a-z-]+)(?:'s|’s)?\b"
)
_NOT_HEADS = frozenset(
    "is are was were did does do has have had will would can could should the a an".split()
)


@dataclass(frozen=True)
class QuestionAnalysis:
    """A question taken apart: `focus` + `context` hold all its words between them.

    >>> q = analyse("Who leads Sumitomo Mitsui, the lender whose shares rose 2.7%?")
    >>> q.kind, q.focus, q.context
    ('person', 'Who leads Sumitomo Mitsui', 'the lender whose shares rose 2.7%')
    """

    text: str
    focus: str
    context: str
    kind: str
    head: str | None = None
    unit: str | None = None
    years: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    # Where focus and context lie in `text` (empty when they are not parts of it).
    focus_at: Spans = ()
    context_at: Spans = ()
    focus_terms: tuple[str, ...] = field(default=())
    context_terms: tuple[str, ...] = field(default=())
    # Terms of capitalised words after the first: the names that pin the story down.
    name_terms: tuple[str, ...] = field(default=())
    # The two things a comparison question asks to choose between ("... bigger: A or B?").
    options: tuple[str, ...] = ()
    # The noun whose name the question asks in so many words ("What is the name of the Georgia
    # woman ..." -> woman): a sentence that brings it in unnamed does not answer.
    named: str | None = None
    # The part of a date the question names ("In which year ..." -> year; month, date): a
    # short answer of another part ("Friday") does not answer it.
    date_part: str | None = None

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.focus_terms + self.context_terms))


# "How much per week / a year ..." asks a rate of pay whatever the verb ("will the allowance be").
_MONEY_QUESTION = re.compile(
    r"\bhow much (?:per|a|an|each|every) (?:hour|day|week|month|year)\b|"
    r"\bhow much\b.*\b(?:earn|pay|paid|cost|raise|spen[dt]|sell|sold|worth|make|made|take|took|"
    r"fetch|gross|owe|fine|charge|money|cash|fund|bid|invest)|\bwhat (?:[a-z'’-]+ ){0,2}"
    rf"(?:fee|price|sum|cost|salary|amount|fine|bid|{_EARNINGS})\b",
    re.IGNORECASE,
)
_TIME_QUESTION = re.compile(
    rf"\bhow (?:long|far into|soon|late|early)\b|{_DURATION}", re.IGNORECASE
)
_PERCENT_QUESTION = re.compile(
    r"\b(?:what|by what) (?:percentage|proportion|share)\b|\bby how much\b", re.IGNORECASE
)
_HOW_MANY = re.compile(r"\bhow many\s+((?:[a-z-]+\s*){1,6})", re.IGNORECASE)
# Words that end the counted noun phrase of "how many ...": auxiliaries, prepositions, linkers.
_COUNT_PHRASE_END = _AUXILIARIES | frozenset(
    "been be of in on at for to from by with that who which whom per than".split()
)
_COUNT_PHRASE_WORDS = 4
_CONJUNCTIONS = frozenset({"or", "and"})
# "How many times ...": the count of occurrences, which text gives with any noun ("51 caps").
_GENERIC_COUNTERS = frozenset({"times", "occasions"})
MONEY, TIME, PERCENT = "money", "time", "percent"


def asked_unit(question: str) -> str | None:
    """What a "how much / how many / how long" answer must measure, when the question says:
    money, time, percent, or "count:<stem>+<stem>…" for "how many <noun phrase>" (the words
    up to the first auxiliary or preposition; any of them may name what the text counts).

    >>> asked_unit("How much did Fiat pay for Ferrari?"), asked_unit("How many fans came?")
    ('money', 'count:fan+came')
    >>> asked_unit("How much per week will the new allowance be?")
    'money'
    >>> asked_unit("How many international goals did she score?"), asked_unit("How many times?")
    ('count:international+goal', None)
    """
    # Only the asking wh-phrase measures the answer (see `answer_kind`).
    starts = wh_phrase_starts(question)
    if _cue_at(_MONEY_QUESTION, question, starts):
        return MONEY
    if _cue_at(_PERCENT_QUESTION, question, starts):
        return PERCENT
    if _cue_at(_TIME_QUESTION, question, starts):
        return TIME
    counted = _cue_at(_HOW_MANY, question, starts)
    if not counted:
        return None
    phrase: list[str] = []
    for word in counted[1].lower().split():
        if word in _COUNT_PHRASE_END or len(phrase) == _COUNT_PHRASE_WORDS:
            break
        if word in _GENERIC_COUNTERS and not phrase:
            return None
        if word not in _CONJUNCTIONS:
            phrase.append(stem(word))
    return "count:" + "+".join(phrase) if phrase else None


# The preposition a wh-phrase may open with ("In which year", "By how much", "For how long").
_WH_PHRASE = re.compile(
    r"\b(?:(?P<prep>in|on|at|for|by|from|to|with|through|since|until|of|during|under) )?"
    r"(?P<wh>who|whom|whose|what|which|when|where|why|how)\b",
    re.IGNORECASE,
)


# What may come before a wh-phrase that opens a sentence of the question: nothing, an earlier
# sentence, or a clause set off by a comma ("In Kennedy's plan, what is ...").
_SENTENCE_OPENING = re.compile(r"(?:.*[.?!;:,]\s+)?|\s*", re.DOTALL)
_JOINING = frozenset({"when", "where", "why"})


def wh_phrase_starts(question: str) -> tuple[int, ...]:
    """Where the asking wh-phrase of `question` starts: at its preposition, if any, and at its
    wh-word (a cue may open at either: "in which year", "for how long"). Empty without one.

    A question asks with the wh-phrase it opens with (that of its first sentence or of a later
    one: "... number one. In what year did it top the charts?"); one that opens otherwise asks
    with its last ("The minister who quit had recruited how many officers?"): a wh-word
    inside such a question is a relative one ("who quit").

    >>> q = "In Kennedy's plan, what is the pension called that depends on how long you lived?"
    >>> [q[i:][:8] for i in wh_phrase_starts(q)]
    ['what is ']
    >>> q = "For how long was he out?"
    >>> [q[i:][:8] for i in wh_phrase_starts(q)]
    ['For how ', 'how long']
    >>> q = "The leader who plans cuts skipped lessons in which town?"
    >>> [q[i:][:8] for i in wh_phrase_starts(q)]
    ['in which', 'which to']
    """
    found = list(_WH_PHRASE.finditer(question))
    if not found:
        return ()
    opening = [m for m in found if _SENTENCE_OPENING.fullmatch(question[: m.start()])]
    # Inside a sentence "when", "where" and "why" mostly join a clause ("was in which
    # country when he skipped a test"); they ask there only as its last word ("born where?").
    asking = [
        m for m in found if m["wh"].lower() not in _JOINING or not question[m.end() :].strip(" ?.!")
    ]
    match = opening[-1] if opening else (asking or found)[-1]
    return tuple(dict.fromkeys((match.start(), match.start("wh"))))


def _cue_at(pattern: re.Pattern[str], text: str, starts: tuple[int, ...]) -> re.Match[str] | None:
    """`pattern` opening at one of `starts`, or anywhere in `text` when there are none."""
    if not starts:
        return pattern.search(text)
    return next((m for i in starts if (m := pattern.match(text, i))), None)


_ASKS_DATE_PART = re.compile(rf"\b(?:what|which) (year|month|date)s?\b|{_WHAT_IS_THE}(date)s?\b")


def asked_date_part(question: str) -> str | None:
    """The part of a date the asking wh-phrase names: "year", "month" or "date" (a day of a
    month); None for "when", "what day" (a weekday may answer) and the rest.

    >>> asked_date_part("In which year was it founded?"), asked_date_part("On what date?")
    ('year', 'date')
    >>> asked_date_part("What is the premiere date of season 11?")
    'date'
    >>> asked_date_part("When did it open?") is None
    True
    """
    q = question.lower()
    match = _cue_at(_ASKS_DATE_PART, q, wh_phrase_starts(q))
    return (match[1] or match[2]) if match else None


def answer_kind(question: str) -> str:
    """The kind of thing the question asks for, by the cue its first wh-phrase opens: a later
    wh-word belongs to a clause that describes ("... tied to how long someone has lived there"
    does not make "what is the pension called" a time question). Without a wh-word, the first
    cue anywhere.

    >>> answer_kind("In which year did the song first top the charts?")
    'date'
    >>> answer_kind("Whose killing is the subject of the film?")
    'person'
    >>> answer_kind("In which years had she won it before?")
    'date'
    >>> answer_kind("What is the scheme called that is tied to how long someone has worked?")
    'any'
    """
    q = question.lower()
    starts = wh_phrase_starts(q)
    cues = [
        (m.start(), priority, kind)
        for priority, (kind, pattern) in enumerate(_KIND_CUES)
        if (m := _cue_at(pattern, q, starts))
    ]
    return min(cues)[2] if cues else ANY


_PREPOSITIONS = frozenset("of in on at for to from by with about over under".split())
_PHRASE_TOKEN = re.compile(r"[\w'’.-]+|[,;:?!()]")
_PHRASE_WORDS = 5
"""Most words a "which ..." phrase holds before its auxiliary ("which big XP security upgrade
did"): further on, the auxiliary belongs to another clause."""


def head_noun(question: str) -> str | None:
    """The noun a "which X" / "what X" question asks for, stemmed ("Which Turkish club" -> club).

    English puts the head last in its noun phrase: when an auxiliary or a comma closes the
    phrase within a few words, the head is its last word before any preposition ("which arm
    bone did" -> bone, "what percentage of the vote did" -> percentage); otherwise the first
    word after the wh-word that is neither capitalised nor a participle ("which London Film
    Festival prize went to ..." -> prize).

    >>> head_noun("Which institute's report claimed the cost was underestimated?")
    'institute'
    >>> head_noun("What is the first research problem?") is None
    True
    >>> head_noun("Through which other label does he plan to release it?")
    'label'
    """
    phrase = _closed_phrase(question)
    if phrase and phrase[-1][:1].islower():
        return stem(phrase[-1].lower())
    match = _HEAD_NOUN.search(question)
    if not match or match[1].lower() in _NOT_HEADS:
        return None
    return stem(match[1].lower())


# "What is the name of the X ..." asks for the X's name: X's noun phrase runs until a word that
# starts what is said of it (a relative pronoun, a preposition, an auxiliary, a participle,
# punctuation), and its head is its last lower-case word ("the Georgia woman suing ..." ->
# woman). A possessive before it is a determiner ("50 Cent's management company" -> company).
_NAME_OF = re.compile(
    r"^\W*(?:what|which)\s+(?:is|was|are|were)\s+the\s+(?:name|title)s?\s+of\s+", re.IGNORECASE
)
# A personal pronoun opens a relative clause with its pronoun left out ("the airline they set
# up"), so it ends the phrase too.
_PHRASE_ENDS = (
    _PREPOSITIONS
    | _AUXILIARIES
    | frozenset("that who whom which whose where when".split())
    | frozenset("i you he she it we they".split())
)


def named_noun(question: str) -> str | None:
    """The stemmed head of the noun phrase whose name "What is the name of ..." asks, or None
    when the question does not ask for a name in so many words (or the phrase has no common
    noun). Kept apart from `head_noun`: "which X" may be answered by a common noun, a name is
    asked here.

    >>> named_noun("What is the name of the Georgia woman suing HP?")
    'woman'
    >>> named_noun("What was the title of 50 Cent's first album, which sold well?")
    'album'
    >>> named_noun("What is the name of the civil servants' union led by Mr Baume?")
    'union'
    >>> named_noun("What is the name of the airline they set up?")
    'airline'
    >>> named_noun("What is the name of the building?"), named_noun("Who is the man?")
    ('build', None)
    """
    opening = _NAME_OF.match(question)
    if not opening:
        return None
    words = _PHRASE_TOKEN.findall(question, opening.end())
    common: list[str] = []  # the phrase's lower-case words but determiners
    for n, token in enumerate(words):
        after = words[n + 1].lower() if n + 1 < len(words) else ""
        lower = token.lower()
        if (
            not token[0].isalnum()
            or lower in _PHRASE_ENDS
            # A participle after the noun says what it did ("the woman suing HP", "the
            # union led by ..."); before any noun it is part of the phrase ("the building").
            or (common and (lower.endswith(("ing", "ed")) or after == "by"))
        ):
            break
        if token.endswith(("'s", "’s", "'", "’")):
            common = []  # a possessor determines the phrase; it is not its head
        elif token[:1].islower() and lower not in _NOT_HEADS:
            common.append(lower)
    return stem(common[-1]) if common else None


def _closed_phrase(question: str) -> list[str]:
    """The words between "which"/"what" and the auxiliary or punctuation that closes its noun
    phrase, up to a preposition or a possessive; empty when nothing closes it soon."""
    wh = re.search(r"\b(?:which|what)\s+", question, re.IGNORECASE)
    if not wh:
        return []
    phrase: list[str] = []
    for token in _PHRASE_TOKEN.findall(question, wh.end()):
        if token.lower() in _AUXILIARIES or not token[0].isalnum():
            break
        if len(phrase) == _PHRASE_WORDS:
            return []
        if token.endswith(("'s", "’s")):
            return [*phrase, token[:-2]]
        phrase.append(token)
    else:
        return []
    for n, word in enumerate(phrase):
        if word.lower() in _PREPOSITIONS:
            return phrase[:n]
    return phrase


# A question that asks to choose: a wh-word or an auxiliary opens it, and a comparative
# ("bigger", "more", "first", "older") comes before its options: anywhere before a colon that
# opens them ("... was due in shops first: A or B?"), else among its first words ("Were more
# games available at A or at B?").
# An "-er" word is a comparative after a linking verb ("was bigger") or before the options
# ("... the winner, A or B"); not a noun anywhere ("the manager said ... A or B").
_COMPARATIVE = (
    r"(?:\b(?:was|were|is|are|be|been)\s+[a-z]+er\b|\b[a-z]+er(?=[:,])"
    r"|\b(?:more|less|fewer|most|least|first|last|earlier|later)\b)"
)
_OPENER = r"^(?:which|who|whose|what|was|were|is|are|did|does|do|had|has|have)\b"
_CHOOSING_BEFORE_COLON = re.compile(rf"{_OPENER}.*?{_COMPARATIVE}", re.IGNORECASE | re.DOTALL)
_CHOOSING = re.compile(rf"{_OPENER}(?:\s+\S+){{0,3}}?\s*{_COMPARATIVE}", re.IGNORECASE)
_OPTION_WORDS = 12
"""Longest option a comparison names ("the first batch of Sony PSPs shipped to retailers in
Japan"): a longer "... or ..." is not a choice between two things."""


def comparison_options(question: str) -> tuple[str, ...]:
    """The two options of a question that asks to choose between them, or none.

    After a colon, the two sides of its last "or"; otherwise the words after the last "or" and
    as many words before it (a parallel phrase: "at its Japanese launch or at its US launch").

    >>> comparison_options("Who was older when he died: actor Dan O'Herlihy or Cyril Fletcher?")
    ("actor Dan O'Herlihy", 'Cyril Fletcher')
    >>> comparison_options("Were more games available at its Japanese launch or at its US launch?")
    ('at its Japanese launch', 'at its US launch')
    >>> comparison_options("How many goals did she score, a record for any player, male or female?")
    ()
    """
    text = question.strip().rstrip("?.! ")
    head, colon, tail = text.rpartition(":")
    if not (_CHOOSING_BEFORE_COLON.match(head) if colon else _CHOOSING.match(text)):
        return ()
    if " or " not in (tail if colon else text):
        return ()
    left, _, right = (tail if colon else text).rpartition(" or ")
    left, right = left.strip(" ,"), right.strip(" ,")
    if not colon:
        left = " ".join(left.split()[-len(right.split()) :])
    if not left or not right or max(len(left.split()), len(right.split())) > _OPTION_WORDS:
        return ()
    return (left, right)


Spans = tuple[tuple[int, int], ...]


def split_focus(question: str) -> tuple[str, str]:
    """(focus, context): the clause holding the wh-word (and the subject before it) vs the
    clauses that only describe.

    >>> split_focus("Johann Cruyff, whom Ajax asked for help, currently advises which club?")
    ('Johann Cruyff currently advises which club', 'whom Ajax asked for help')
    >>> split_focus("As Ed Davey opened the campaign, what did the party propose?")
    ('what did the party propose', 'As Ed Davey opened the campaign')
    """
    focus, context = focus_spans(question)
    return _join(question, focus) or question.strip().rstrip("?.! "), _join(question, context)


def _join(text: str, spans: Spans) -> str:
    return " ".join(text[a:b] for a, b in spans)


def _segments(question: str) -> list[tuple[int, int]]:
    """Character spans of the clauses between commas, semicolons, colons, brackets and dashes."""
    end = len(question.rstrip().rstrip("?.! "))
    spans, start = [], 0
    for separator in _SEGMENT.finditer(question, 0, end):
        spans.append((start, separator.start()))
        start = separator.end()
    spans.append((start, end))
    trimmed = []
    for a, b in spans:
        while a < b and question[a].isspace():
            a += 1
        while b > a and question[b - 1].isspace():
            b -= 1
        if a < b:
            trimmed.append((a, b))
    return trimmed


def focus_spans(question: str) -> tuple[Spans, Spans]:
    """Where the focus and the context lie in the question (character spans), for
    `split_focus` and for pooling the question's own token vectors over each part."""
    segments = _segments(question)
    if not segments:
        return ((0, len(question)),), ()
    text = [question[a:b] for a, b in segments]
    # A question that opens with its wh-word ("Who ...", "In which year ...") asks in its first
    # clause; otherwise ("Johann Cruyff, whom ..., advises which club?") in the last clause
    # whose wh-word is not a relative one after a preposition ("in which", "of whom").
    asking = [i for i, t in enumerate(text) if _asking_wh(t)]
    wh = 0 if _WH_PHRASE.match(text[0]) else (asking[-1] if asking else 0)
    focus, context = [], []
    for i, span in enumerate(segments):
        describes = bool(_CONTEXT_OPENERS.match(text[i])) or (
            # A participle clause right after the asking clause says what followed or came
            # with it (", ruling him out of the Six Nations"); after an aside it resumes the
            # asking clause ("How much is RDF Media, the maker of X, seeking from Fox").
            i > wh
            and bool(focus)
            and focus[-1] == segments[i - 1]
            and bool(_PARTICIPLE.match(text[i]))
        )
        if i == wh:
            focus.append(span)
        elif i == 0 and i < wh and not describes:
            focus.append(span)  # the subject: "X, whom ..., advises which club?"
        elif i > wh and not describes and not WH_WORD.search(text[i]):
            focus.append(span)  # the verb after an aside: "Which president, who ..., rules"
        else:
            context.append(span)
    # A relative clause after the wh-word's noun phrase describes, it does not ask ("Who heads
    # the office whose report found ..."): from the first relative pronoun after the wh-word,
    # when at least four words follow, the clause goes to the context.
    a, b = segments[wh]
    wh_match = WH_WORD.search(question, a, b)
    if wh_match:
        relative = _RELATIVE.search(question, wh_match.end(), b)
        if relative and len(question[relative.start() : b].split()) >= 4:
            focus[focus.index((a, b))] = (a, relative.start())
            context.insert(0, (relative.start() + 1, b))
    return tuple(sorted(focus)), tuple(sorted(context))


def _asking_wh(segment: str) -> bool:
    """Whether a clause holds a wh-word that asks, not only relative ones ("in which")."""
    return len(WH_WORD.findall(segment)) > len(_RELATIVE_WH.findall(segment))


def analyse(question: str) -> QuestionAnalysis:
    """Focus, context, answer kind, head noun and constraints of a question."""
    focus_at, context_at = focus_spans(question)
    focus = _join(question, focus_at) or question.strip()
    context = _join(question, context_at)
    kind = answer_kind(focus) if WH_WORD.search(focus) else answer_kind(question)
    focus_terms = tuple(dict.fromkeys(content_terms(focus)))
    context_terms = tuple(t for t in dict.fromkeys(content_terms(context)) if t not in focus_terms)
    return QuestionAnalysis(
        text=question,
        focus=focus,
        context=context,
        focus_at=focus_at,
        context_at=context_at,
        kind=kind,
        head=head_noun(focus) or head_noun(question),
        unit=asked_unit(focus) or asked_unit(question) if kind == NUMBER else None,
        years=tuple(dict.fromkeys(_YEAR.findall(question))),
        numbers=tuple(
            dict.fromkeys(
                n.rstrip(".,") for n in _NUMBER_TOKEN.findall(question) if not _YEAR.fullmatch(n)
            )
        ),
        names=tuple(dict.fromkeys(m.strip() for m in _CAPITALISED.findall(question)[1:])),
        focus_terms=focus_terms,
        context_terms=context_terms,
        name_terms=tuple(
            dict.fromkeys(t for m in _CAPITALISED.findall(question)[1:] for t in content_terms(m))
        ),
        options=comparison_options(question),
        named=named_noun(question),
        date_part=asked_date_part(focus) or asked_date_part(question) if kind == DATE else None,
    )
