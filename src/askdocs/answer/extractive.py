"""The extractive answerer: the sentence of the retrieved articles that answers the question,
chosen by the fitted combiner, quoted exactly and cited, with a short answer cut from it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from langchain_core.embeddings import Embeddings

from askdocs.answer import comparison
from askdocs.answer.candidates import Candidate, CandidatePool, Retrieved, gather
from askdocs.answer.combiner import QUESTION_FEATURES, Combiner
from askdocs.answer.entities import (
    DATE_SPAN,
    Span,
    holds_unit,
    is_date_name,
    measuring,
    names,
    names_a_thing,
    new_spans,
    quantities,
    unit_window,
    words,
)
from askdocs.answer.features import (
    FEATURES,
    MIN_RARITY_PASSAGES,
    Similarities,
    feature_matrix,
    leaves_unnamed,
    pool_terms,
    rank_scores,
)
from askdocs.answer.question import (
    MONEY,
    NAME,
    PERCENT,
    PERSON,
    TIME,
    WH_WORD,
    QuestionAnalysis,
    analyse,
)
from askdocs.answer.short import PHRASE_KINDS, short_answer
from askdocs.chunking import candidate_sentences
from askdocs.citations import claims_text, make_citation
from askdocs.embeddings import SentenceVectors
from askdocs.index.keywords import content_terms
from askdocs.types import BELOW_THRESHOLD, CANNOT_ANSWER, Citation, Claim, Passage

Rarity = Callable[[Iterable[str]], dict[str, float]]


@dataclass(frozen=True)
class ScoredPool:
    """A question's candidates with their features, scores and softmax probabilities."""

    analysis: QuestionAnalysis
    pool: CandidatePool
    features: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray

    def question_features(self) -> np.ndarray:
        """The QUESTION_FEATURES of the best candidate, for the abstention model."""
        return question_features(
            self.features,
            self.scores,
            self.probabilities,
            self.pool.article_scores,
            self.analysis.kind,
            unit_asked=bool(self.analysis.unit),
        )


def question_features(
    features: np.ndarray,
    scores: np.ndarray,
    probabilities: np.ndarray,
    article_scores: Sequence[float],
    kind_asked: str,
    unit_asked: bool = False,
) -> np.ndarray:
    """QUESTION_FEATURES from one question's candidate features and scores; `unit_asked`:
    the question asks for an amount of something (QuestionAnalysis.unit)."""
    order = np.argsort(-scores, kind="stable")
    top = order[0]
    second = scores[order[1]] if len(order) > 1 else scores[top] - 1.0
    column = {name: features[top, i] for i, name in enumerate(FEATURES)}
    kind_columns = [i for i, name in enumerate(FEATURES) if name.startswith("kind_")]
    kind = max(column[FEATURES[i]] for i in kind_columns)
    asked = FEATURES.index(f"kind_{kind_asked}")
    missing = kind_asked in PHRASE_KINDS and features[top, asked] < 1.0
    missing3 = missing and all(features[j, asked] < 1.0 for j in order[:3])
    # kind_number is below 1 when no new number of the sentence measures the asked unit.
    unit_missing3 = unit_asked and all(features[j, asked] < 1.0 for j in order[:3])
    values = {
        "top_probability": probabilities[top],
        "top_score": scores[top],
        "margin": scores[top] - second,
        "top_kind": kind,
        "kind_missing": float(missing),
        "kind_missing_top3": float(missing3),
        "unit_missing_top3": float(unit_missing3),
        "top_focus_overlap": column["focus_overlap"],
        "top_constraints": column["constraints_article"],
        "top_sim_question": column["sim_question"],
        "best_article_score": article_scores[0] if len(article_scores) else 0.0,
        "top_article_coverage": column["article_coverage"],
    }
    return np.asarray([values[name] for name in QUESTION_FEATURES], dtype=float)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Probabilities over candidates.

    >>> softmax(np.array([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    if not len(scores):
        return scores
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


@dataclass(frozen=True)
class ExtractiveAnswer:
    """The quoted sentences (`claims`, each with the keys of the citations that hold it: one,
    or one per copy of its story), the citations, and the answerer's confidence; no claims is
    a refusal, for `abstain_reason`."""

    citations: list[Citation]
    confidence: float | None
    abstain_reason: str = ""
    short_answer: str | None = None
    claims: list[Claim] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The answer as text: each quoted sentence with its markers, or the refusal."""
        return claims_text(self.claims) if self.claims else CANNOT_ANSWER


class ExtractiveAnswerer:
    """Scores every sentence of the top retrieved articles and answers with the best one.

    Each sentence's signals (features.py) are combined by fitted weights (combiner.py); a
    question-level model on the best candidate decides whether to answer or abstain.

    >>> answerer = ExtractiveAnswerer(embedder, Combiner.load("default"))  # doctest: +SKIP
    >>> answerer.answer(question, pipeline.retrieve(question))  # doctest: +SKIP
    """

    def __init__(
        self,
        embedder: Embeddings,
        combiner: Combiner,
        sentence_vectors: SentenceVectors | None = None,
        term_rarity: Rarity | None = None,
        rarity_passages: Callable[[], int] | None = None,
        max_articles: int = 3,
        max_sentences: int = 2,
        abstain: bool = True,
        question_encoder: Callable[[str], np.ndarray] | None = None,
        answering_encoder: Callable[[str], np.ndarray] | None = None,
    ) -> None:
        if max_articles <= 0:
            raise ValueError(f"max_articles must be > 0, got {max_articles}")
        if max_sentences <= 0:
            raise ValueError(f"max_sentences must be > 0, got {max_sentences}")
        self.embedder = embedder
        self.combiner = combiner
        self.sentence_vectors = sentence_vectors or SentenceVectors(embedder)
        # Inverse document frequency from the keyword index: "Harbourton" pins a sentence down,
        # "club" does not. Without it every word weighs the same.
        self.term_rarity = term_rarity
        # How many passages those rarities are measured over (features.MIN_RARITY_PASSAGES).
        self.rarity_passages = rarity_passages
        self.max_articles = max_articles
        self.max_sentences = max_sentences
        self.abstain = abstain
        # The ranker's own question encoder (encoder.py); without it (another embedding model,
        # whose sentence vectors it was not tuned against) the plain question vector stands in.
        self.question_encoder = question_encoder
        # The encoder of the combiner's answering model (Combiner.answering), when it has one.
        self.answering_encoder = answering_encoder

    def analyse(self, question: str, latest_turn: str | None = None) -> QuestionAnalysis:
        """The question's analysis; in a follow-up the latest turn says what is asked."""
        analysis = analyse(question)
        if latest_turn and latest_turn.strip() != question.strip():
            turn = analyse(latest_turn)
            return QuestionAnalysis(
                text=question,
                focus=latest_turn.strip(),
                context=question,
                kind=turn.kind,
                head=turn.head or analysis.head,
                # What the latest turn asks to measure or to choose between ("and how much
                # did it cost?", "which was bigger: A or B?").
                unit=turn.unit,
                options=turn.options,
                years=analysis.years,
                numbers=analysis.numbers,
                names=analysis.names,
                focus_terms=turn.terms,
                context_terms=tuple(t for t in analysis.terms if t not in turn.terms),
                name_terms=analysis.name_terms,
            )
        return analysis

    def features(
        self,
        question: str,
        retrieved: Retrieved,
        latest_turn: str | None = None,
        already_said: Sequence[str] = (),
    ) -> tuple[QuestionAnalysis, CandidatePool, np.ndarray]:
        """The question's analysis, its candidates and their FEATURES (one row each)."""
        analysis = self.analyse(question, latest_turn)
        pool = gather(retrieved, self.sentence_vectors, self.max_articles, already_said)
        if not len(pool):
            return analysis, pool, np.zeros((0, len(FEATURES)))
        vectors = self._part_vectors(analysis)
        sim_question = pool.vectors @ vectors[0]
        sim_focus = pool.vectors @ vectors[1]
        sim_context = pool.vectors @ vectors[2] if vectors[2] is not None else np.zeros(len(pool))
        sim_tuned = (
            pool.vectors @ self.question_encoder(analysis.text)
            if self.question_encoder
            else sim_question
        )
        # Rarity of the candidates' words as well as the question's, when the collection is
        # large enough to measure it: how specific the words a sentence adds are.
        measured = bool(
            self.term_rarity
            and self.rarity_passages
            and self.rarity_passages() >= MIN_RARITY_PASSAGES
        )
        terms = set(analysis.terms).union(*pool_terms(pool)) if measured else analysis.terms
        rarity = self.term_rarity(terms) if self.term_rarity else {}
        similarities = Similarities(sim_question, sim_focus, sim_context, sim_tuned)
        matrix = feature_matrix(
            analysis, pool, similarities, rarity, added_rarity=rarity if measured else None
        )
        return analysis, pool, matrix

    def _part_vectors(self, analysis: QuestionAnalysis) -> list[np.ndarray | None]:
        """Vectors of the whole question, its focus and its context (None without one)."""
        parts = getattr(self.embedder, "embed_query_parts", None)
        if parts is not None and analysis.focus_at:
            whole, pooled = parts(analysis.text, [analysis.focus_at, analysis.context_at])
            return [whole, pooled[0], pooled[1] if analysis.context_at else None]
        texts = (analysis.text, analysis.focus or analysis.text, analysis.context)
        return [np.asarray(self.embedder.embed_query(t)) if t else None for t in texts]

    def score(
        self,
        question: str,
        retrieved: Retrieved,
        latest_turn: str | None = None,
        already_said: Sequence[str] = (),
    ) -> ScoredPool:
        """Every candidate of the question with its features and combined score."""
        analysis, pool, matrix = self.features(question, retrieved, latest_turn, already_said)
        scores = self.combiner.scores(matrix) if len(pool) else np.zeros(0)
        scores = hard_constraints(scores, matrix, [c.text for c in pool.candidates])
        return ScoredPool(analysis, pool, matrix, scores, softmax(scores))

    def answer(
        self,
        question: str,
        retrieved: Retrieved,
        latest_turn: str | None = None,
        already_said: Sequence[str] = (),
    ) -> ExtractiveAnswer:
        """The answer text with [n] markers and its citations, or CANNOT_ANSWER and why."""
        scored = self.score(question, retrieved, latest_turn, already_said)
        if not len(scored.pool):
            return ExtractiveAnswer([], None, "nothing relevant was retrieved")
        c = self.combiner
        confidence = c.answerable(scored.question_features())
        texts = [candidate.text for candidate in scored.pool.candidates]
        chosen, compared = self._quoted(scored, texts, c)
        refusal = self.abstain and refusal_reason(
            scored.features,
            chosen[0],
            scored.analysis.years,
            confidence,
            c.relevance_floor,
            c.abstain_threshold,
            answer_lacks(scored.analysis, scored.features, chosen, texts, c.refuse_missing),
        )
        if refusal:
            return ExtractiveAnswer([], confidence, refusal)
        short_model = c.short
        if c.answering is not None:
            # Not refused: the answering model chooses what to quote.
            scored = self._rescored(scored, texts, c.answering)
            chosen, compared = self._quoted(scored, texts, c.answering)
            short_model = c.answering.short
        citations, claims = [], []
        for index, same in zip(chosen, copies(chosen, texts), strict=True):
            # The sentence is said once; each copy of its story is one more source for it.
            cited = [
                self._cite(scored, i, len(citations) + n) for n, i in enumerate([index, *same], 1)
            ]
            citations.extend(cited)
            claims.append(Claim(cited[0].quote, [c.key for c in cited], True))
        best = scored.pool.candidates[chosen[0]]
        short = (
            None
            if compared
            else short_answer(scored.analysis, best.text, short_model, scored.pool.common_words)
        )
        return ExtractiveAnswer(citations, confidence, short_answer=short, claims=claims)

    def ranked(self, question: str, retrieved: Retrieved) -> tuple[ScoredPool, Combiner]:
        """The candidates as the model that chooses what to quote scores them (the answering
        model, when the weights hold one), and that model: what `answer` quotes from once it
        has not refused (scripts/rgb_candidates.py reads where the right sentence ranked)."""
        scored = self.score(question, retrieved)
        model = self.combiner.answering
        if model is None or not len(scored.pool):
            return scored, self.combiner
        texts = [candidate.text for candidate in scored.pool.candidates]
        return self._rescored(scored, texts, model), model

    def _quoted(
        self, scored: ScoredPool, texts: Sequence[str], model: Combiner
    ) -> tuple[list[int], bool]:
        """The candidates `model` would quote (its extra-sentence threshold), best first."""
        return quoted(
            scored.analysis,
            texts,
            scored.scores,
            scored.probabilities,
            self.max_sentences,
            model.extra_sentence_per_word,
        )

    def _rescored(self, scored: ScoredPool, texts: Sequence[str], model: Combiner) -> ScoredPool:
        """The pool scored by another combiner (the answering model), its tuned-encoder columns
        from that model's own encoder (or the plain question cosine without one, as in
        `features`)."""
        matrix = scored.features.copy()
        sims = (
            scored.pool.vectors @ self.answering_encoder(scored.analysis.text)
            if self.answering_encoder
            else matrix[:, FEATURES.index("sim_question")]
        )
        matrix[:, FEATURES.index("sim_tuned")] = sims
        matrix[:, FEATURES.index("rank_tuned")] = rank_scores(sims)
        scores = hard_constraints(model.scores(matrix), matrix, texts)
        return replace(scored, features=matrix, scores=scores, probabilities=softmax(scores))

    @staticmethod
    def _cite(scored: ScoredPool, index: int, key: int) -> Citation:
        """Citation `key` of candidate `index`: its sentence (with the one before it when it
        opens with a pronoun), at exact offsets inside its stored chunk."""
        candidate = scored.pool.candidates[index]
        article = scored.pool.articles[candidate.article_id]
        passage = Passage(
            candidate.chunk,
            float(scored.probabilities[index]),
            article.title,
            article.source,
            article.published,
            dict(article.metadata),
        )
        start = with_antecedent(article.text, candidate)
        return make_citation(key, passage, article, start, candidate.end)


NOT_ABOUT_IT = "nothing in the articles is about this question"
_OUT_OF_RANGE = -1e6
"""Score of a candidate ruled out by a hard constraint (far below any combined score)."""


def meet_years(scores: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Rule out candidates whose article lacks a year the question names, when some
    candidate's article has them all: "Who won the 2022 final?" must not be answered from a
    story about the 2021 one. (When none has them, `refusal_reason` refuses.)

    >>> rows = np.zeros((2, len(FEATURES))); rows[1, FEATURES.index("years_article")] = 1.0
    >>> meet_years(np.array([2.0, 1.0]), rows).tolist()
    [-1000000.0, 1.0]
    """
    if not len(scores):
        return scores
    return _rule_out(scores, features[:, FEATURES.index("years_article")] < 1.0)


_ASKS = re.compile(r"\?[\"'”’)\]]*\s*$")


def statements(scores: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Rule out candidates that ask rather than state ("Who directed Titanic and Avatar?", a
    headline "Does the regime support criminal groups?"): a question cannot be the evidence for
    its own answer. When every candidate asks, the scores stay as they are.

    >>> statements(np.array([2.0, 1.0]), ["Who won it?", "Halep won it."]).tolist()
    [-1000000.0, 1.0]
    """
    return _rule_out(scores, np.array([bool(_ASKS.search(t)) for t in texts], dtype=bool))


# A clock time beside a date ("1:15 PM EDT"), read as part of the date line it sits in.
_CLOCK_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\s*(?:[AaPp]\.?[Mm]\.?)?(?:\s+[A-Z]{2,4}\b)?")
_WORD_OR_FIGURE = re.compile(r"\w")
_LOWER_CASE_WORD = re.compile(r"\b[a-z]+\b")
# The lower-case words a date or a clock time may hold (DATE_SPAN, _CLOCK_TIME): any other
# lower-case word ("the", "was") is left over once the dates are taken out, so the line is
# not bare. Checked first because nearly every sentence has one and the date pattern is slow
# (3.6 ms a question over its candidates, against a few hundredths with this check first).
_DATE_LINE_WORDS = frozenset(
    "early late mid of yesterday today tomorrow last next week month year a m am pm".split()
)


def bare_date(text: str) -> bool:
    """Whether a sentence is a date and nothing else ("Jan 22, 2021 ...", "August 9, 2021 |
    1:15 PM EDT."): a web snippet's page date or a fixture list's heading, which says what
    day something was written or scheduled, not what happened on it.

    >>> bare_date("Jan 22, 2021 ..."), bare_date("August 9, 2021 | 1:15 PM EDT.")
    (True, True)
    >>> bare_date("The game was released on September 14, 2018."), bare_date("Hello.")
    (False, False)
    """
    if any(word not in _DATE_LINE_WORDS for word in _LOWER_CASE_WORD.findall(text)):
        return False
    if not DATE_SPAN.search(text):
        return False
    return not _WORD_OR_FIGURE.search(_CLOCK_TIME.sub(" ", DATE_SPAN.sub(" ", text)))


def say_something(scores: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Rule out candidates that are a date and nothing else (`bare_date`): such a line cannot
    be the evidence for what happened on the day it names. When every candidate is one, the
    scores stay as they are.

    >>> say_something(np.array([2.0, 1.0]), ["Sep 7, 2019 ...", "Andreescu won."]).tolist()
    [-1000000.0, 1.0]
    """
    return _rule_out(scores, np.array([bare_date(t) for t in texts], dtype=bool))


def hard_constraints(scores: np.ndarray, features: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """The combined scores with every hard constraint applied (`meet_years`, `statements`,
    `say_something`): the answerer and the fitting script score candidates through this one
    function."""
    return say_something(statements(meet_years(scores, features), texts), texts)


def _rule_out(scores: np.ndarray, failing: np.ndarray) -> np.ndarray:
    """Scores with the `failing` candidates ruled out, unless none or all of the candidates
    an earlier constraint left in the running fail (then this one tells no candidate from
    another, and ruling them out would leave none to choose between).

    >>> _rule_out(np.array([3.0, _OUT_OF_RANGE, 1.0]), np.array([True, False, True])).tolist()
    [3.0, -1000000.0, 1.0]
    """
    running = scores > _OUT_OF_RANGE
    if not running.any() or failing[running].all() or not failing[running].any():
        return scores
    return np.where(failing, _OUT_OF_RANGE, scores)


LACKS_ASKED = "the passages found do not give what the question asks for"

# What a "how much / how long / what percentage" question measures (QuestionAnalysis.unit),
# as against a count of things.
_MEASURES = (MONEY, TIME, PERCENT)


def names_added(analysis: QuestionAnalysis, sentence: str) -> list[Span]:
    """The names of the sentence that hold a word the question does not."""
    return new_spans(names(sentence), words(analysis.text))


def lacks_asked(analysis: QuestionAnalysis, row: np.ndarray, rule: str, sentence: str = "") -> bool:
    """Whether, under `rule` (combiner.REFUSE_MISSING, checked when the weights are loaded), a
    `sentence` with these FEATURES lacks what the question asks for.

    >>> from askdocs.answer.question import analyse
    >>> row = np.zeros(len(FEATURES))
    >>> q = analyse("How much did Fiat pay for Ferrari?")
    >>> lacks_asked(q, row, "units"), lacks_asked(q, row, "none")
    (True, False)
    >>> row[FEATURES.index("kind_number")] = 1.0  # a new amount of money
    >>> lacks_asked(q, row, "units")
    False
    """
    if rule == "none" or analysis.kind not in PHRASE_KINDS:
        return False
    missing = bool(row[FEATURES.index(f"kind_{analysis.kind}")] < 1.0)
    if rule == "kinds":
        return missing
    unit_missing = missing and analysis.unit in _MEASURES
    if rule == "units":
        return unit_missing
    if rule in ("measured", "named"):
        wrong_thing = rule == "named" and (
            asked_unnamed(analysis, sentence)
            or names_nothing(analysis, row, sentence)
            or counts_other(analysis, sentence)
            or names_no_one(analysis, sentence)
        )
        return unit_missing or unmeasured(analysis, row, sentence) or wrong_thing
    return missing and bool(analysis.unit)


def names_nothing(analysis: QuestionAnalysis, row: np.ndarray, sentence: str) -> bool:
    """Whether the question asks for a name in so many words ("What is the name of the
    airline ...") and the sentence (these FEATURES) adds no name (adds_no_name).

    >>> from askdocs.answer.question import analyse
    >>> q = analyse("What is the name of the airline that they set up?")
    >>> row = np.ones(len(FEATURES))
    >>> names_nothing(q, row, "Last Friday they set it up."), names_nothing(q, row, "Acme did.")
    (True, False)
    >>> names_nothing(analyse("What did they set up?"), row, "Last Friday they did.")
    False
    """
    return bool(analysis.named) and adds_no_name(analysis, row, sentence)


def adds_no_name(analysis: QuestionAnalysis, row: np.ndarray, sentence: str) -> bool:
    """Whether the sentence (these FEATURES) holds no new phrase of the asked kind, or no new
    name but a day's ("Last Friday the minister ..."; "Mr Walsh" when the question names
    Willie Walsh is not new either: entities.new_spans).

    >>> from askdocs.answer.question import analyse
    >>> q = analyse("Which airline did Willie Walsh set up?")
    >>> row = np.ones(len(FEATURES))
    >>> adds_no_name(q, row, "Mr Walsh set it up on Friday."), adds_no_name(q, row, "Acme did.")
    (True, False)
    """
    if row[FEATURES.index(f"kind_{analysis.kind}")] == 0.0:
        return True
    found = names_added(analysis, sentence)
    return all(is_date_name(span.text) for span in found)


def asks_which(analysis: QuestionAnalysis) -> bool:
    """Whether the asking clause asks "which X" for a named thing ("In which court did ...",
    "Which judge granted ..."), not to choose between two options the question names.

    >>> from askdocs.answer.question import analyse
    >>> asks_which(analyse("In which court did Willis file his lawsuit?"))
    True
    >>> asks_which(analyse("Which was bigger: the trade deficit or the budget deficit?"))
    False
    >>> asks_which(analyse("What cause will the match, which sold out, help?"))
    False
    """
    wh = WH_WORD.search(analysis.focus)
    return (
        analysis.kind == NAME
        and not analysis.options
        and wh is not None
        and wh[1].lower() == "which"
    )


def quotes_no_name(
    analysis: QuestionAnalysis, rows: Sequence[np.ndarray], sentences: Sequence[str]
) -> bool:
    """Whether the question asks "which X" (asks_which) and no sentence the answer quotes
    (these FEATURES rows) adds a name: the answer names nothing of what is asked.

    A "which X" question is answered by a name: of the 46 answerable ones in dev + dev2, 44
    have candidate sentences that hold the answer; in 43 every such sentence adds a name, in
    the last ("which arm bone") one of three does (`which_adds_name` in the report of
    scripts/fit_answerer.py). Every quoted sentence is read, not only the best: a further one
    may hold the name ("... installs a version of Tetris").

    >>> from askdocs.answer.question import analyse
    >>> q = analyse("In which court did Willis file his lawsuit?")
    >>> rows = [np.ones(len(FEATURES))] * 2
    >>> quotes_no_name(q, rows, ["The lawsuit said he was hurt.", "He was in pain."])
    True
    >>> quotes_no_name(q, rows, ["The lawsuit said he was hurt.", "He sued in Los Angeles."])
    False
    """
    return asks_which(analysis) and all(
        adds_no_name(analysis, row, sentence) for row, sentence in zip(rows, sentences, strict=True)
    )


def answer_lacks(
    analysis: QuestionAnalysis,
    features: np.ndarray,
    chosen: Sequence[int],
    texts: Sequence[str],
    rule: str,
) -> bool:
    """Whether the answer these `chosen` candidates make lacks what the question asks for,
    under `rule`: its best sentence does (lacks_asked), or, under "named", the question asks
    "which X" and no quoted sentence names anything new (quotes_no_name).

    >>> from askdocs.answer.question import analyse
    >>> q = analyse("In which court did Willis file his lawsuit?")
    >>> rows = np.ones((2, len(FEATURES)))
    >>> texts = ["The lawsuit said he was hurt.", "He was in pain."]
    >>> answer_lacks(q, rows, [0, 1], texts, "named")
    True
    >>> answer_lacks(q, rows, [0, 1], texts, "measured")
    False
    """
    best = chosen[0]
    return lacks_asked(analysis, features[best], rule, texts[best]) or (
        rule == "named"
        and quotes_no_name(analysis, features[list(chosen)], [texts[i] for i in chosen])
    )


def names_no_one(analysis: QuestionAnalysis, sentence: str) -> bool:
    """Whether a person is asked ("Whom did Ajax name ...") and every name the sentence adds
    is a thing's (after "the": "their exit from the Uefa Cup") or a day's: it names no one.

    >>> from askdocs.answer.question import analyse
    >>> q = analyse("Whom did Ajax name as coach after Ronald Koeman quit?")
    >>> names_no_one(q, "Ronald Koeman quit after their exit from the Uefa Cup on Friday.")
    True
    >>> names_no_one(q, "Ajax named Danny Blind after the Uefa Cup exit.")
    False
    >>> names_no_one(analyse("Which cup did Ajax leave?"), "They left the Uefa Cup.")
    False
    """
    if analysis.kind != PERSON:
        return False
    found = names_added(analysis, sentence)
    return bool(found) and all(
        names_a_thing(sentence, span) or is_date_name(span.text) for span in found
    )


# A numeral after "number" / "No" labels a place in a ranking or a list ("went to number
# one", "the No 10 shirt"): it counts nothing.
_RANK_LABEL = re.compile(r"\b(?:number|no\.?)\s*$", re.IGNORECASE)


def counts_other(analysis: QuestionAnalysis, sentence: str) -> bool:
    """Whether a count is asked ("How many copies ...") and every number the sentence adds
    measures time, money or a share ("five weeks after"), or labels a rank ("went to number
    one"), and none counts what is asked: the sentence counts nothing.

    >>> from askdocs.answer.question import analyse
    >>> q = analyse("How many copies did the album sell?")
    >>> counts_other(q, "It came out five weeks after hers went to number one.")
    True
    >>> counts_other(q, "It sold 12,000 in five weeks."), counts_other(q, "It sold well.")
    (False, False)
    """
    if not (analysis.unit or "").startswith("count:"):
        return False
    every = quantities(sentence)
    found = new_spans(every, words(analysis.text))
    if not found or measuring(sentence, found, every, analysis.unit or ""):
        return False
    return all(
        _RANK_LABEL.search(sentence[: span.start])
        or any(holds_unit(unit_window(sentence, span, every), unit) for unit in _MEASURES)
        for span in found
    )


def asked_unnamed(analysis: QuestionAnalysis, sentence: str) -> bool:
    """Whether the question asks for the name of a thing it calls by a noun ("What is the name
    of the Georgia woman ...") and the sentence brings that thing in without naming it ("A US
    woman is suing HP": features.leaves_unnamed). Only when a name is asked in so many words:
    "Which arm bone ..." is answered by a common noun ("the radius") in one sentence while
    another says "breaking a bone in his forearm" (cross-validated: refusing those cost three
    answerable questions of the 161 for two unanswerable ones).

    >>> from askdocs.answer.question import analyse
    >>> q = analyse("What is the name of the Georgia woman suing HP?")
    >>> asked_unnamed(q, "A US woman is suing HP."), asked_unnamed(q, "Jane Doe is suing HP.")
    (True, False)
    """
    return bool(analysis.named) and leaves_unnamed(sentence, analysis.named or "")


# "per week", and "a week" / "each year" right after "how much": the rate an amount is asked
# at, not what it measures.
_RATE = re.compile(r"\bper\s+\w+|\bhow (?:much|many)\s+(?:a|an|each|every)\s+\w+", re.IGNORECASE)


def rate_terms(question: str) -> set[str]:
    """The terms of the period an amount is asked per ("How much per week ..." -> per, week).

    >>> sorted(rate_terms("How much per week will the allowance be?"))
    ['per', 'week']
    >>> rate_terms("How much a year?"), rate_terms("How many weeks did it last?")
    ({'year'}, set())
    """
    return {term for match in _RATE.finditer(question) for term in content_terms(match[0])}


def unmeasured(analysis: QuestionAnalysis, row: np.ndarray, sentence: str = "") -> bool:
    """Whether an amount is asked and the sentence holds none of the focus's words other than
    names and the rate it is asked per (`rate_terms`), nor a word of the same root
    (`same_root`): what the question says is measured ("raise", "vote", "spectators"). A
    figure in a sentence about something else measures something else; "£100 per week" in a
    sentence about other payments does not say what a new allowance per week will be.

    >>> from askdocs.answer.question import analyse
    >>> q, row = analyse("How much did the Lyric appeal raise?"), np.zeros(len(FEATURES))
    >>> unmeasured(q, row, "It cost £8m.")
    True
    >>> row[FEATURES.index("focus_word_overlap")] = 0.4  # "the appeal raised £180,000"
    >>> unmeasured(q, row, "The appeal raised £180,000.")
    False
    >>> q = analyse("How much per week will the new allowance be?")
    >>> unmeasured(q, row, "Rates vary by £100 per week."), unmeasured(q, row, "It is £9 a week.")
    (True, True)
    >>> unmeasured(q, row, "The allowance will be £9 a week.")
    False
    """
    said_of_it = set(analysis.focus_terms) - set(analysis.name_terms)
    if not (analysis.unit and said_of_it):
        return False
    terms = content_terms(sentence)
    if rate := rate_terms(analysis.text):
        # focus_word_overlap counts the rate's words ("per week") too: read the sentence.
        wanted = said_of_it - rate
        return bool(wanted) and not wanted & set(terms) and not same_root(wanted, terms)
    if row[FEATURES.index("focus_word_overlap")] != 0.0:
        return False
    return not same_root(said_of_it, terms)


ROOT_LETTERS = 6
"""Letters two long words share at their start to be one root where their stems differ
("tourism" / "tourist", "economy" / "economic"): the stemmer strips inflections, not
derivations. Shorter shared starts join unrelated words ("trans-fer" / "trans-port")."""


def same_root(wanted: Iterable[str], terms: Iterable[str]) -> bool:
    """Whether a term shares its first ROOT_LETTERS letters with a wanted one (both that long).

    >>> same_root(["tourism", "earn"], ["tourist", "revenu"])
    True
    >>> same_root(["transfer"], ["transport"])
    False
    """
    roots = {w[:ROOT_LETTERS] for w in wanted if len(w) >= ROOT_LETTERS}
    return any(t[:ROOT_LETTERS] in roots for t in terms if len(t) >= ROOT_LETTERS)


def refusal_reason(
    features: np.ndarray,
    best: int,
    years: Sequence[str],
    confidence: float,
    relevance_floor: float,
    threshold: float,
    lacks: bool = False,
) -> str | None:
    """Why the answerer should refuse, or None: no candidate is near the question (off-topic);
    the best one's article lacks a year the question names (another season, another event);
    the chosen sentence lacks what the question asks for (`lacks`, see lacks_asked); or the
    fitted probability that it answers is below the threshold.

    >>> rows = np.zeros((1, len(FEATURES)))
    >>> refusal_reason(rows, 0, (), 0.9, 0.5, 0.2)
    'nothing in the articles is about this question'
    """
    if features[:, FEATURES.index("sim_question")].max() < relevance_floor:
        return NOT_ABOUT_IT
    if years and features[best, FEATURES.index("years_article")] < 1.0:
        return f"the articles found do not mention {' or '.join(years)}"
    if lacks:
        return LACKS_ASKED
    if confidence < threshold:
        return BELOW_THRESHOLD
    return None


LOOK_AHEAD = 5
"""Candidates after the best that may join it (by score): further down, never worth the words."""


def choose(
    scores: np.ndarray,
    probabilities: np.ndarray,
    max_sentences: int,
    per_word: float,
    words: Sequence[int],
    texts: Sequence[str] = (),
) -> list[int]:
    """The best candidate, then, among the next LOOK_AHEAD by score, each whose probability
    is at least `per_word` x its word count x the best's (up to `max_sentences` in all): a
    further sentence when the model cannot tell it from the best, the more readily the
    shorter it is, since words are what an answer costs its reader. Best first: the short
    answer is cut from it. Candidates are distinct sentences, so they never overlap; given
    their `texts`, a sentence is quoted once even when two copies of a story hold it
    (`repeated`).

    >>> choose(np.array([3.0, 0.0, 2.9]), np.array([0.5, 0.05, 0.45]), 2, 0.05, [9, 9, 9])
    [0, 2]
    """
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    if len(texts):
        repeats = repeated(texts, scores)
        order = [i for i in order if not repeats[i]]
    chosen = order[:1]
    best = probabilities[order[0]]
    for index in order[1 : 1 + LOOK_AHEAD]:
        if len(chosen) >= max_sentences:
            break
        if probabilities[index] >= per_word * words[index] * best:
            chosen.append(index)
    return chosen


def copies(chosen: Sequence[int], texts: Sequence[str]) -> list[list[int]]:
    """For each chosen candidate, the other candidates with its text (spacing aside): the same
    sentence in another copy of the story, cited beside it rather than quoted again.

    >>> copies([2, 1], ["A won.", "B lost.", "A  won."])
    [[0], []]
    """
    keys = [_spaced(text) for text in texts]
    return [[i for i, key in enumerate(keys) if key == keys[c] and i != c] for c in chosen]


def repeated(texts: Sequence[str], scores: np.ndarray) -> np.ndarray:
    """Which candidates repeat the text of a better-scored one (spacing aside). The same
    story filed twice (a syndicated or re-edited article) gives every sentence twice, with
    nearly the same score; quoting both would say one thing twice and spend the answer's
    words on it.

    >>> repeated(["A won.", "B lost.", "A  won."], np.array([0.2, 0.5, 0.9])).tolist()
    [True, False, False]
    """
    seen: set[str] = set()
    repeats = np.zeros(len(texts), dtype=bool)
    for index in np.argsort(-np.asarray(scores), kind="stable"):
        key = _spaced(texts[int(index)])
        repeats[index] = key in seen
        seen.add(key)
    return repeats


def _spaced(text: str) -> str:
    """A sentence with its spacing made single (two copies of a story may differ only there)."""
    return " ".join(text.split())


def quoted(
    analysis: QuestionAnalysis,
    texts: Sequence[str],
    scores: np.ndarray,
    probabilities: np.ndarray,
    max_sentences: int,
    per_word: float,
) -> tuple[list[int], bool]:
    """The candidates the answer quotes, best first, and whether they answer a comparison: for
    one (QuestionAnalysis.options), the best sentence about each option (comparison.picks);
    otherwise the best and those `choose` adds.

    >>> from askdocs.answer.question import analyse
    >>> q = analyse("Which was bigger: the trade deficit or the budget deficit?")
    >>> texts = ["The budget deficit was $412bn.", "Exports rose.", "The trade deficit hit $617bn."]
    >>> quoted(q, texts, np.array([0.2, 0.9, 0.1]), np.array([0.3, 0.5, 0.2]), 3, 0.01)
    ([0, 2], True)
    """
    compared = comparison.picks(analysis.options, texts, scores)
    if compared:
        return compared[:max_sentences], True
    words = [len(text.split()) for text in texts]
    return choose(scores, probabilities, max_sentences, per_word, words, texts), False


_ANAPHOR = re.compile(r"^(?:It|He|She|They|Its|His|Her|Their|This|These|Those)\b")


def with_antecedent(text: str, candidate: Candidate) -> int:
    """Where a cited sentence should start: a sentence opening with "It"/"He"/"They" is
    merged with the sentence before it, which says who or what that is, when that sentence
    is in the same paragraph and the same chunk (a citation points into one chunk)."""
    start = candidate.start
    if not _ANAPHOR.match(text[start : start + 12]):
        return start
    spans = candidate_sentences(text, max(candidate.chunk.start, start - 600), start)
    if spans and text[spans[-1][1] : start].count("\n") <= 1:
        return spans[-1][0]
    return start
