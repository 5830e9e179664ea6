"""Question analysis, answer phrases and each scoring signal, on tiny hand-made inputs."""

import numpy as np
import pytest

from askdocs.answer.candidates import Candidate, CandidatePool, Retrieved, gather
from askdocs.answer.combiner import QUESTION_FEATURES, Combiner
from askdocs.answer.comparison import picks
from askdocs.answer.entities import (
    common_words,
    date_precision,
    dates,
    names,
    new_spans,
    places,
    quantities,
    words,
)
from askdocs.answer.extractive import (
    LOOK_AHEAD,
    ExtractiveAnswerer,
    answer_lacks,
    asks_which,
    bare_date,
    choose,
    hard_constraints,
    lacks_asked,
    question_features,
    rate_terms,
    refusal_reason,
    repeated,
    same_root,
    softmax,
    unmeasured,
    with_antecedent,
)
from askdocs.answer.features import (
    ARTICLE_LEVEL,
    FEATURES,
    LESS_PRECISE_DATE,
    MIN_RARITY_PASSAGES,
    Similarities,
    all_snippets,
    answer_near_focus,
    constraints_met,
    feature_matrix,
    first_mention,
    graded_by_precision,
    kind_match,
    leaves_unnamed,
    near_best,
    neighbour_max,
    new_date_precision,
    novelty,
    pool_terms,
    rank_scores,
    specificity,
    weighted_overlap,
)
from askdocs.answer.question import analyse, asked_unit, split_focus
from askdocs.answer.short import short_answer
from askdocs.index.keywords import content_terms, stem
from askdocs.types import Article, Chunk, Passage

# ------------------------------------------------------------------ question analysis


@pytest.mark.parametrize(
    ("question", "focus", "context"),
    [
        # An apposition after the subject describes it: it finds the story, it is not asked.
        (
            "Who leads Acme Bank, the lender whose shares rose 3%?",
            "Who leads Acme Bank",
            "the lender whose shares rose 3%",
        ),
        # A scene-setting clause before the question.
        (
            "After the storm hit Leeds, which bridge was closed?",
            "which bridge was closed",
            "After the storm hit Leeds",
        ),
        # The subject, an aside, then the asking verb phrase.
        (
            "Jan Smit, whom Ajax asked for help, now advises which club?",
            "Jan Smit now advises which club",
            "whom Ajax asked for help",
        ),
        # An aside inside the main clause: the verb after it still asks.
        (
            "Which president, who holds power for life, rules the country?",
            "Which president rules the country",
            "who holds power for life",
        ),
        # A describing clause that holds a wh-word is not the asking one.
        (
            "Who hosted the awards in Rome, where OutKast won three prizes?",
            "Who hosted the awards in Rome",
            "where OutKast won three prizes",
        ),
        # A participle clause right after the asking clause tells what followed: context.
        (
            "Which bone did Smit break in the derby, ruling him out of the cup?",
            "Which bone did Smit break in the derby",
            "ruling him out of the cup",
        ),
        # After an aside the participle resumes the asking clause: "is ... seeking".
        (
            "How much is Acme, the maker of Swap, seeking from Fox?",
            "How much is Acme seeking from Fox",
            "the maker of Swap",
        ),
        # A capitalised word ending in -ing is a name, not a participle: the clause stays.
        (
            "Who scored for Hull, Reading's rivals?",
            "Who scored for Hull Reading's rivals",
            "",
        ),
        ("Who won?", "Who won", ""),
    ],
)
def test_split_focus(question: str, focus: str, context: str) -> None:
    assert split_focus(question) == (focus, context)


def test_analysis_keeps_constraints_and_terms_apart() -> None:
    q = analyse("Which film won in 2004, the year Sideways took best film?")
    assert q.kind == "name" and q.head == "film"
    assert q.years == ("2004",)
    assert "sideway" in q.context_terms and "sideway" not in q.focus_terms
    assert set(q.terms) == set(q.focus_terms) | set(q.context_terms)


# ---------------------------------------------------------------------- answer phrases


def test_phrase_finders() -> None:
    sentence = "On 3 March 2004 Larne boss Jimmy McGeough paid £1.5m in Belfast for 40% of it."
    assert [s.text for s in dates(sentence)] == ["3 March 2004"]
    assert [s.text for s in quantities(sentence)] == ["£1.5m", "40%"]
    assert "Jimmy McGeough" in [s.text for s in names(sentence)]
    assert [s.text for s in places(sentence)] == ["Belfast"]


@pytest.mark.parametrize(
    ("sentence", "found"),
    [
        # A weekday before a US-style date is one date with it, not a date of its own: the
        # short answer to "What is the date of ..." was "Wednesday".
        ("Date: Wednesday, November 18, 2020.", ["Wednesday, November 18, 2020"]),
        ("Release Date:10/27/2017; in Europe 27.10.17.", ["10/27/2017", "27.10.17"]),
        ("Founded 2015-12-11 in San Francisco.", ["2015-12-11"]),
        ("They won 3/4 of their games 42-6.", []),  # a fraction and a score are no dates
        # a year before 1800 after a preposition of time; not a count of something
        ("It was set up in 1337 by King Edward III.", ["1337"]),
        ("In 1066, William came.", ["1066"]),
        ("Aid went from 1700 local firms to 900 others.", []),
    ],
)
def test_dates_with_weekdays_and_in_figures(sentence: str, found: list[str]) -> None:
    assert [s.text for s in dates(sentence)] == found
    assert not any(q.text in found for q in quantities(sentence))


def test_names_keep_slashed_parts_and_abbreviations_match_the_question() -> None:
    # "Google I/O" was cut to "Google I", a new name for "Who is the CEO of Google?"
    assert [s.text for s in names("Sundar spoke at Google I/O with AC/DC.")] == [
        "Sundar",
        "Google I/O",
        "AC/DC",
    ]
    # "U.S." in a sentence is the question's "US", nothing it adds.
    assert words("the U.S. Open") == words("the US Open")
    q = analyse("Who won the US Open?")
    assert short_answer(q, "At the U.S. Open, Bianca Andreescu won.") == "Bianca Andreescu"


def test_a_brand_with_a_lower_case_opening_is_the_question_s_not_a_new_name() -> None:
    # `names` reads "Bay" in "eBay"; for a question naming eBay it had been a new company name
    # and the short answer of "Which company placed the winning bid in ... eBay auction?".
    q = analyse("Which company placed the winning bid in the eBay auction?")
    sentence = "A man is selling space to the highest bidder on website eBay."
    assert [s.text for s in names(sentence)] == ["Bay"]
    assert kind_match(q, sentence, words(q.text)) == 0.0
    assert short_answer(q, sentence) is None
    # A capital after other capitals opens no brand: "USA" stays one word.
    assert words("the USA") == {"the", "usa"}


def test_names_drop_a_leading_stop_word_but_keep_inner_connectors() -> None:
    assert [s.text for s in names("But the Bank of England said no.")] == ["Bank of England"]
    assert names("the end.") == ()


# ---------------------------------------------------------------------------- signals


def test_weighted_overlap_counts_rare_words_more() -> None:
    assert weighted_overlap({"club": 1.0, "fenerbahce": 4.0}, {"fenerbahce"}) == 0.8
    assert weighted_overlap({}, {"x"}) == 0.0


def test_novelty_of_a_sentence_that_only_restates_is_zero() -> None:
    assert novelty({"share", "rise"}, ["share", "rise"]) == 0.0
    assert novelty({"share"}, []) == 0.0


def test_rank_scores_and_neighbours() -> None:
    assert rank_scores(np.array([0.1, 0.3, 0.2])).tolist() == [1 / 3, 1.0, 0.5]
    values = np.array([0.1, 0.9, 0.2, 0.7])
    # Sentences 0-2 of article "a" in a row; "b"'s only sentence has no neighbour.
    assert neighbour_max(["a", "a", "a", "b"], [0, 1, 2, 0], values).tolist() == [
        0.9,
        0.2,
        0.9,
        0.0,
    ]


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("Who leads the bank?", "Bank chief Anna Berg said so.", 1.0),
        ("Who leads the bank?", "The bank said so.", 0.0),  # no new name
        ("Who leads Acme?", "Acme said so.", 0.0),  # only the question's own name
        ("How many fans came?", "Some 40,000 fans came.", 1.0),
        ("How many fans came in 2004?", "Fans came in 2004.", 0.0),  # a year is not a count
        ("How much did the appeal raise?", "The appeal raised £180,000.", 1.0),
        # the only money is the question's own; the new number measures nothing asked
        ("How much did the £2m appeal raise?", "The £2m appeal raised 180 in all.", 0.5),
        ("When did it open?", "It opened in May 2004.", 1.0),
        # a new date, but not the part of a date asked
        ("In which year was the duchy founded?", "The duchy last year made £12m.", 0.5),
        ("In which year was the duchy founded?", "It was set up in 1337 by Edward III.", 1.0),
        ("On what date did they pull out?", "They pulled out in August 2004.", 0.5),
        ("Where was the show?", "The show was held in Rome.", 1.0),
        ("Where was the show?", "Rome hosted the show.", 0.5),  # a name, not said to be a place
        ("Why did he miss it?", "He missed it because of an ankle injury.", 1.0),
        ("Which institute made the report?", "The report by the Fraser Institute said so.", 1.0),
        (
            "Which institute made the report?",
            "Jim Fraser said that the figures in the institute report were wrong.",
            0.5,
        ),
    ],
)
def test_kind_match(question: str, sentence: str, expected: float) -> None:
    q = analyse(question)
    assert kind_match(q, sentence, words(question)) == expected


def test_date_precision_orders_day_month_year_and_relative_dates() -> None:
    ranked = ["last week", "2004", "May", "May 2004", "18 May", "18 May 2004"]
    assert [date_precision(d) for d in ranked] == sorted(date_precision(d) for d in ranked)
    assert len({date_precision(d) for d in ranked}) == len(ranked)  # none ties another
    assert date_precision("Friday") == 0  # a weekday names no day of a month
    assert date_precision("2017-10-27") == date_precision("27 October 2017")


def test_new_date_precision_reads_only_dates_the_question_lacks() -> None:
    asked = words("When did the 2004 Games open?")
    assert new_date_precision("The 2004 Games opened on 13 August.", asked) == 6
    assert new_date_precision("The 2004 Games were a success.", asked) == -1
    assert new_date_precision("They opened last week, not in 2003.", asked) == 1


def test_graded_by_precision_keeps_the_most_precise_dates_whole() -> None:
    kind = np.array([1.0, 1.0, 1.0, 0.5, 0.0])
    graded = graded_by_precision(kind, [3, 7, 7, 7, -1])
    assert graded.tolist() == [LESS_PRECISE_DATE, 1.0, 1.0, 0.5, 0.0]
    # Nothing to grade: no candidate adds a date of the asked kind.
    assert graded_by_precision(np.array([0.0, 0.5]), [-1, 7]).tolist() == [0.0, 0.5]


def _story_pool(text: str, title: str = "") -> CandidatePool:
    """The candidates of one short story held in one chunk, the chunk retrieved."""
    article = Article(id="g", title=title, text=text, source="g.txt")
    chunk = Chunk("g0", "g", 0, text, 0, len(text))
    retrieved = Retrieved([Passage(chunk, 0.8, title, "g.txt")], {"g": article}, lambda i: [chunk])
    return gather(retrieved, lambda texts: np.eye(len(texts), 4, dtype=np.float32), 3)


def test_a_bare_when_question_grades_its_dates_in_the_feature_matrix() -> None:
    pool = _story_pool(
        "The game came out in 2017. It went on sale on 1 December 2017 in Japan.", "Game"
    )
    sims = np.array([0.9, 0.5])
    column = FEATURES.index("kind_date")
    bare = feature_matrix(
        analyse("When did the game come out?"), pool, Similarities(sims, sims, sims, sims), {}
    )
    assert bare[:, column].tolist() == [LESS_PRECISE_DATE, 1.0]
    # "In which year" names the part asked: both years answer it alike.
    year = feature_matrix(
        analyse("In which year did the game come out?"),
        pool,
        Similarities(sims, sims, sims, sims),
        {},
    )
    assert year[:, column].tolist() == [1.0, 1.0]


def test_answer_near_focus_prefers_the_phrase_next_to_the_focus_words() -> None:
    q = analyse("Who manages Larne, the club whose midfielder is leaving?")
    near = answer_near_focus(
        q, "Larne manager Jim Brown said the midfielder may go.", words(q.text)
    )
    far = answer_near_focus(
        q,
        "Larne said that, in a long statement, after some weeks, Jim Brown agreed.",
        words(q.text),
    )
    assert near > far
    assert answer_near_focus(q, "The club said nothing.", words(q.text)) == 0.0


def test_constraints_met_by_years_and_numbers() -> None:
    q = analyse("Who won the 2021 women's final, 6-3?")
    assert constraints_met(q, "In 2021 she won 6-3.") == 1.0
    assert constraints_met(q, "In 2020 she won 6-3.") == 0.5
    assert constraints_met(analyse("Who won?"), "anything") == 1.0


# -------------------------------------------------------------- candidates and answers

TEXT = (
    "Acme shares rose 3% on merger talk.\n\n"
    "The bank has 200 branches. Its president Anna Berg said growth was needed.\n\n"
    "She joined in 1999."
)
ARTICLE = Article(id="a1", title="Acme shares rise", text=TEXT, source="acme.txt")
CHUNKS = [
    Chunk("c0", "a1", 0, TEXT[:35], 0, 35),
    Chunk("c1", "a1", 1, TEXT[37:], 37, len(TEXT)),
]


# Retrieval found the first chunk; the store holds both.
RETRIEVED = Retrieved(
    [Passage(CHUNKS[0], 0.8, ARTICLE.title, ARTICLE.source)], {"a1": ARTICLE}, lambda ids: CHUNKS
)


def _pool() -> CandidatePool:
    return gather(RETRIEVED, lambda texts: np.eye(len(texts), 4, dtype=np.float32), 3)


def test_gather_takes_every_sentence_of_the_article_with_its_chunk() -> None:
    pool = _pool()
    assert [c.text for c in pool.candidates] == [
        "Acme shares rose 3% on merger talk.",
        "The bank has 200 branches.",
        "Its president Anna Berg said growth was needed.",
        "She joined in 1999.",
    ]
    assert [c.chunk.id for c in pool.candidates] == ["c0", "c1", "c1", "c1"]
    assert [c.in_passage for c in pool.candidates] == [True, False, False, False]
    for c in pool.candidates:
        assert TEXT[c.start : c.end] == c.text and c.chunk.start <= c.start < c.end <= c.chunk.end


def test_gather_takes_snippets_beyond_the_article_limit_but_not_stories() -> None:
    # Past the limit of one article: a second article held whole by its retrieved passage (a
    # snippet) still gives its sentence; a third, only partly retrieved (a story), does not.
    snippet = Article(id="s", title="", text="Anna Berg leads Acme.", source="s.txt")
    story = Article(id="t", title="", text="Acme grew. It hired staff.", source="t.txt")
    chunks = {
        "s": [Chunk("s0", "s", 0, snippet.text, 0, len(snippet.text))],
        "t": [Chunk("t0", "t", 0, "Acme grew.", 0, 10), Chunk("t1", "t", 1, "It hired staff.",
                                                             11, 26)],
    }  # fmt: skip
    passages = [
        Passage(CHUNKS[0], 0.9, "", "acme.txt"),
        Passage(chunks["t"][0], 0.8, "", "t.txt"),
        Passage(chunks["s"][0], 0.7, "", "s.txt"),
    ]
    retrieved = Retrieved(
        passages,
        {"a1": ARTICLE, "s": snippet, "t": story},
        lambda ids: [c for a in ids for c in (CHUNKS if a == "a1" else chunks[a])],
    )
    pool = gather(retrieved, lambda texts: np.ones((len(texts), 2), dtype=np.float32), 1)
    assert {c.article_id for c in pool.candidates} == {"a1", "s"}
    assert pool.article_scores == (0.9, 0.7)
    assert [c.article_rank for c in pool.candidates if c.article_id == "s"] == [1]
    assert pool.snippets == {"s"}  # the story "t" was only partly retrieved
    assert not all_snippets(pool)  # "a1" is a story: its sentences are not all retrieved


def _snippet_pool(texts: list[str]) -> CandidatePool:
    """A pool of one-sentence web snippets, each its own article, as eval-rgb indexes them."""
    passages, articles, chunks = [], {}, {}
    for n, text in enumerate(texts):
        chunk = Chunk(f"s{n}", f"s{n}", 0, text, 0, len(text))
        articles[f"s{n}"] = Article(id=f"s{n}", title="", text=text, source=f"s{n}.txt")
        chunks[f"s{n}"] = chunk
        passages.append(Passage(chunk, 0.9 - 0.1 * n, "", f"s{n}.txt"))
    retrieved = Retrieved(passages, articles, lambda ids: [chunks[a] for a in ids])
    return gather(retrieved, lambda t: np.eye(len(t), 4, dtype=np.float32), 3)


def test_article_signals_tell_no_snippet_from_another() -> None:
    # RGB's shape: the snippet that repeats the question ranks first and covers the most of
    # it; the one that answers does not. Neither is a story, so neither signal may decide.
    pool = _snippet_pool(
        [
            "Wimbledon 2019 women's singles: Serena Williams and Johanna Konta.",
            "Simona Halep beat Serena Williams to win the 2019 Wimbledon title.",
        ]
    )
    assert all_snippets(pool)
    q = analyse("Who won the women's singles Wimbledon in 2019?")
    sims = np.array([0.8, 0.6])
    matrix = feature_matrix(q, pool, Similarities(sims, sims, sims, sims), {"women": 2.0})
    column = {name: matrix[:, i] for i, name in enumerate(FEATURES)}
    for name in ARTICLE_LEVEL:
        assert column[name][0] == column[name][1], name
    assert column["article_rank_0"].tolist() == [0.5, 0.5]  # the pool's mean, not 0 or 1
    # The sentence's own signals still tell them apart.
    assert column["sim_question"][0] != column["sim_question"][1]
    assert column["years_article"].tolist() == [1.0, 1.0]  # constraints stay as they are


def test_article_signals_stay_when_a_story_is_among_the_articles() -> None:
    pool = _pool()  # one story of four sentences
    assert not all_snippets(pool)
    q = analyse("Who leads Acme?")
    sims = np.array([0.9, 0.5, 0.6, 0.2])
    matrix = feature_matrix(q, pool, Similarities(sims, sims, sims, sims), {})
    assert matrix[:, FEATURES.index("lead")].tolist() == [1.0, 0.5, 1 / 3, 0.25]


def test_gather_skips_what_the_conversation_already_said() -> None:
    pool = gather(RETRIEVED, lambda t: np.ones((len(t), 2)), 3, skip=["She joined in 1999. [1]"])
    assert "She joined in 1999." not in [c.text for c in pool.candidates]


def test_feature_matrix_has_one_named_column_per_feature() -> None:
    pool = _pool()
    q = analyse("Who leads Acme, the bank whose shares rose 3%?")
    sims = np.array([0.9, 0.5, 0.6, 0.2])
    matrix = feature_matrix(q, pool, Similarities(sims, sims, sims, sims), {})
    assert matrix.shape == (4, len(FEATURES))
    column = {name: matrix[:, i] for i, name in enumerate(FEATURES)}
    assert column["kind_person"].tolist() == [0.0, 0.0, 1.0, 0.0]  # only "Anna Berg" is new
    assert column["constraints_sentence"].tolist() == [1.0, 0.0, 0.0, 0.0]  # "3%"
    assert column["rank_question"][0] == 1.0
    assert column["lead"].tolist() == [1.0, 0.5, 1 / 3, 0.25]
    # The article holds five of the question's six terms (acme, bank, shares, rose, 3%), not
    # "leads"; every sentence of the article gets the article's figure.
    assert column["article_coverage"].tolist() == [5 / 6] * 4


def test_specificity_prefers_a_precise_detail_over_a_generic_phrase() -> None:
    rarity = {"miss": 2.0, "game": 2.0, "injury": 3.0, "trapped": 8.0, "nerve": 6.0, "neck": 5.0}
    question = {"miss", "game"}
    generic = specificity(question, ["miss", "game", "injury"], rarity)
    precise = specificity(question, ["trapped", "nerve", "neck"], rarity)
    assert precise == pytest.approx(19 / 3 / 8) and generic == pytest.approx(3 / 8)
    assert specificity(question, ["miss", "game"], rarity) == 0.0  # it only restates
    # Without a keyword index (no rarity at all) every added word counts the same.
    assert specificity(question, ["miss", "injury"], {}) == 1.0


def test_specificity_column_reads_the_rarity_of_each_candidates_words() -> None:
    pool = _pool()
    q = analyse("Who leads Acme, the bank whose shares rose 3%?")
    sims = np.zeros(4)
    terms = pool_terms(pool)
    assert terms[3] == ("join", "1999")  # "She joined in 1999.", stemmed
    # "1999" the rarest of every term: the sentence that adds it is the most specific.
    rarity = {t: 1.0 for t in set(q.terms).union(*terms)} | {"1999": 9.0}
    similarities = Similarities(sims, sims, sims, sims)
    matrix = feature_matrix(q, pool, similarities, rarity, added_rarity=rarity)
    column = matrix[:, FEATURES.index("specificity")]
    assert column[3] == pytest.approx((1 + 9) / 2 / 9) and int(np.argmax(column)) == 3
    # Without rarities measured on enough passages the column adds nothing to anyone.
    unmeasured = feature_matrix(q, pool, similarities, rarity)
    assert not unmeasured[:, FEATURES.index("specificity")].any()


def test_specificity_waits_for_a_collection_large_enough_to_measure_rarity(fake_embedder) -> None:
    asked: list[set[str]] = []

    def rarity(terms):
        asked.append(set(terms))
        return {t: 9.0 if t == "1999" else 1.0 for t in terms}

    column = FEATURES.index("specificity")
    question = "Who leads Acme, the bank whose shares rose 3%?"
    for passages, measured in ((MIN_RARITY_PASSAGES - 1, False), (MIN_RARITY_PASSAGES, True)):
        answerer = ExtractiveAnswerer(
            fake_embedder,
            Combiner.load("default"),
            term_rarity=rarity,
            rarity_passages=lambda n=passages: n,
        )
        _, _, matrix = answerer.features(question, RETRIEVED)
        assert matrix[:, column].any() == measured
        # Only a measured collection is asked for the candidates' words as well.
        assert ("1999" in asked[-1]) == measured


def test_near_best_counts_sentences_within_each_article() -> None:
    # Article "a": best at index 4, so 2 is two sentences away; "b": its only sentence is best.
    out = near_best(["a", "a", "b", "a"], [2, 4, 0, 7], np.array([0.5, 0.8, 0.9, 0.1]))
    assert out.tolist() == [0.5, 0.0, 0.0, pytest.approx(1 / 3)]


def test_article_coverage_weighs_rare_question_words_more() -> None:
    pool = _pool()
    q = analyse("Who leads Acme, the bank whose shares rose 3%?")
    sims = np.zeros(4)
    plain = feature_matrix(q, pool, Similarities(sims, sims, sims, sims), {})
    # "lead" is the one question term the article lacks: the rarer it is, the less it covers.
    rare_lead = {t: 1.0 for t in q.terms} | {"lead": 5.0}
    weighted = feature_matrix(q, pool, Similarities(sims, sims, sims, sims), rare_lead)
    column = FEATURES.index("article_coverage")
    assert weighted[0, column] == pytest.approx(5 / 10)
    assert plain[0, column] == pytest.approx(5 / 6)


def test_antecedent_is_merged_only_inside_the_same_chunk() -> None:
    pool = _pool()
    its = pool.candidates[2]  # "Its president ..." follows "The bank has 200 branches." in c1
    assert TEXT[with_antecedent(TEXT, its) :].startswith("The bank has")
    # A pronoun sentence at the start of its chunk keeps its own start: the sentence before it
    # lies in another chunk, which the citation cannot point into.
    lone = Candidate("a1", 0, 1, 37, 63, TEXT[37:63], Chunk("cx", "a1", 0, "", 37, 200), False)
    assert with_antecedent("It " + TEXT[3:], lone) == 37


def test_choose_adds_sentences_the_model_cannot_tell_apart_shorter_ones_first() -> None:
    scores = np.array([3.0, 0.0, 2.9, 2.8, 2.7])
    probabilities = softmax(scores)
    words = [10, 10, 10, 40, 10]
    assert choose(scores, probabilities, 3, 0.05, words) == [0, 2, 4]  # best first
    # The 40-word sentence is as likely as its neighbours but costs four times the words:
    # skipped for the shorter one after it.
    assert choose(scores, probabilities, 3, 0.05, words).count(3) == 0
    assert choose(scores, probabilities, 4, 0.02, words) == [0, 2, 3, 4]
    assert choose(scores, probabilities, 2, 0.05, words) == [0, 2]  # at most max_sentences
    assert choose(scores, probabilities, 3, 1.01, words) == [0]  # above 1: never a second
    assert choose(scores, probabilities, 1, 0.001, words) == [0]
    # Only the LOOK_AHEAD candidates after the best by score may join it.
    many = np.array([3.0] + [2.99] * 8)
    assert len(choose(many, softmax(many), 9, 0.0, [1] * 9)) == 1 + LOOK_AHEAD


def test_choose_quotes_a_sentence_once_when_two_copies_of_the_story_hold_it() -> None:
    # The same story filed twice gives each sentence twice with almost the same score; the
    # answer had quoted "The growth has been fuelled by lower prices ..." from both copies.
    texts = ["Prices fell.", "Prices  fell.", "Choice grew.", "Other news."]
    scores = np.array([3.0, 2.99, 2.9, 0.0])
    probabilities = softmax(scores)
    words = [2, 2, 2, 2]
    assert choose(scores, probabilities, 3, 0.05, words) == [0, 1, 2]  # without the texts
    assert choose(scores, probabilities, 3, 0.05, words, texts) == [0, 2]
    # The copy leaves the look-ahead window to the distinct sentences after it.
    many = np.array([3.0] + [2.99] * 8)
    texts = ["a"] * 4 + [str(i) for i in range(5)]
    assert choose(many, softmax(many), 9, 0.0, [1] * 9, texts) == [0, 4, 5, 6, 7, 8]
    assert repeated(["A won.", "B lost.", "A  won."], np.array([0.2, 0.5, 0.9])).tolist() == [
        True,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Bank chief Anna Berg said so.", 1.0),  # two-word name
        ("The deal was agreed, Mr Berg said.", 1.0),  # a title
        ("Berg said the deal was done.", 1.0),  # a verb of saying after it
        ("Rockline will stream first, the station said.", 0.5),  # a name, not marked a person's
    ],
)
def test_person_questions_prefer_names_marked_as_people(sentence: str, expected: float) -> None:
    q = analyse("Who runs the station?")
    assert kind_match(q, sentence, words(q.text)) == expected


def test_focus_names_are_told_from_focus_words() -> None:
    q = analyse("Who manages Larne Athletic, the club that sold Weir?")
    assert set(q.name_terms) >= {"larne", "athletic", "weir"}
    (manages,) = content_terms("manages")
    assert manages in q.focus_terms and manages not in q.name_terms


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How much did the club pay for him?", "He cost £5m.", 1.0),
        ("How much did the club pay for him?", "He scored 12 goals.", 0.5),  # not a sum
        ("How many fans watched?", "Some 40,000 fans watched.", 1.0),
        ("How many fans watched?", "The club sold 3 players.", 0.5),  # not fans
        ("How long did the strike last?", "It lasted 12 days.", 1.0),
        ("What percentage of the vote did he win?", "He won 56% of it.", 1.0),
        ("What transfer fee did they pay?", "They paid £2m.", 1.0),
        # a bare "million" counts anything; money has a currency
        ("How much was she paid?", "The book sold 45 million copies.", 0.5),
        ("How much was she paid?", "She was paid 2 million dollars.", 1.0),
    ],
)
def test_number_questions_want_the_unit_they_ask_for(
    question: str, sentence: str, expected: float
) -> None:
    q = analyse(question)
    assert q.kind == "number"
    assert kind_match(q, sentence, words(question)) == expected


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        ("How much did Fiat pay for Ferrari?", "money"),
        ("What transfer fee did the club pay?", "money"),
        # what a firm earns is money, after a possessive too (RGB: "What was Tesla's revenue
        # in Q1 2021?" was answered with "Q3-2021. Q4-2021." from passages without a figure)
        ("What was Tesla's revenue in Q1 2021?", "money"),
        ("What profit did BP report?", "money"),
        ("What were the album's sales?", None),  # copies or money: the question does not say
        ("How long did the strike last?", "time"),
        # an amount asked per week or a year is a rate of pay, whatever the verb
        ("How much per week will the new allowance for carers be?", "money"),
        ("How much a year does the job bring in?", "money"),
        ("How much rain fell?", None),
        # the time a doing or someone's run takes is a length of time; "what time" is a clock's
        ("What was Kipchoge's winning time in the 9.2km race?", "time"),
        ("What was the marathon's time?", "time"),
        ("What time did the polls close?", None),
        ("What was the last time he won?", None),
        ("What is the museum's opening time?", None),  # a clock's time too
        ("What percentage of the vote did she win?", "percent"),
        # the counted noun phrase up to the auxiliary; any of its words may be what is counted
        ("How many international goals did she score?", "count:international+goal"),
        ("How many fraud or theft cases were found?", "count:fraud+theft+cas"),
        ("How many times had he been capped?", None),  # "51 caps": times are counted by any noun
        ("Who leads the bank?", None),
        ("For how long was the road closed?", "time"),  # the cue after the preposition
        # a later "how long" belongs to a clause that describes, not to what is asked
        ("What is the pension called that depends on how long you worked?", None),
    ],
)
def test_asked_unit(question: str, unit: str | None) -> None:
    assert asked_unit(question) == unit


def test_unit_missing_top3_only_when_an_amount_is_asked_and_none_of_three_states_one() -> None:
    features = np.zeros((4, len(FEATURES)))
    number = FEATURES.index("kind_number")
    features[3, number] = 1.0  # only the fourth best states a new amount of what is asked
    scores = np.array([4.0, 3.0, 2.0, 1.0])
    missing = QUESTION_FEATURES.index("unit_missing_top3")

    def flag(unit_asked: bool, rows: np.ndarray) -> float:
        return question_features(rows, scores, softmax(scores), [1.0], "number", unit_asked)[
            missing
        ]

    assert flag(True, features) == 1.0
    assert flag(False, features) == 0.0  # "how many" without a unit, or not a number question
    features[2, number] = 1.0  # the third best states one
    assert flag(True, features) == 0.0


@pytest.mark.parametrize(
    ("question", "kind_value", "word_overlap", "lacks"),
    [
        # a new amount of money, but in a sentence about something else ("a cost of £8m")
        ("How much money did the dinner raise?", 1.0, 0.0, True),
        ("How much money did the dinner raise?", 1.0, 0.3, False),  # "the dinner raised £2m"
        ("How many copies did the album sell?", 1.0, 0.0, True),  # counts too
        ("How much did Fiat pay?", 0.5, 0.4, True),  # still a number, not money: as "units"
        ("How much did Fiat pay Ferrari?", 1.0, 0.0, True),
        ("Who leads the bank?", 1.0, 0.0, False),  # no amount asked
        ("How many did Acme sell?", 1.0, 0.0, False),  # no count unit: nothing said to measure
    ],
)
def test_measured_refuses_an_amount_of_something_the_question_does_not_ask(
    question: str, kind_value: float, word_overlap: float, lacks: bool
) -> None:
    analysis = analyse(question)
    row = np.zeros(len(FEATURES))
    row[FEATURES.index(f"kind_{analysis.kind}")] = kind_value
    row[FEATURES.index("focus_word_overlap")] = word_overlap
    assert lacks_asked(analysis, row, "measured") is lacks


@pytest.mark.parametrize(
    ("sentence", "lacks"),
    [
        # "tourist" is "tourism"'s root though the stemmer keeps them apart: it is measured
        ("Exports rose by 14%, while tourist revenues were up by 30%.", False),
        ("Exports rose by 14% in 2004.", True),  # nothing said of what is asked
        ("Transport costs rose by 14%.", True),  # "trans-" alone is no shared root
    ],
)
def test_measured_takes_a_word_of_the_same_root_as_said(sentence: str, lacks: bool) -> None:
    analysis = analyse("By what percentage did tourism transfers climb in 2004?")
    row = np.zeros(len(FEATURES))
    row[FEATURES.index("kind_number")] = 1.0  # a new percentage, by the features
    assert lacks_asked(analysis, row, "measured", sentence) is lacks
    assert same_root(["tourism"], ["tourist"]) and not same_root(["transfer"], ["transport"])


@pytest.mark.parametrize(
    ("question", "kind_value", "rule", "lacks"),
    [
        ("How much did Fiat pay for Ferrari?", 0.5, "units", True),  # a number, not money
        ("How much did Fiat pay for Ferrari?", 1.0, "units", False),
        ("How much did Fiat pay for Ferrari?", 0.5, "none", False),
        ("What percentage of the vote did he win?", 0.0, "units", True),
        ("How many copies did the album sell?", 0.5, "units", False),  # a count: not a unit
        ("How many copies did the album sell?", 0.5, "all-units", True),
        ("Who leads the bank?", 0.5, "all-units", False),
        ("Who leads the bank?", 0.5, "kinds", True),
        ("Why did the talks fail?", 0.0, "kinds", False),  # a reason: no phrase kind
    ],
)
def test_a_sentence_lacks_what_is_asked_by_rule(
    question: str, kind_value: float, rule: str, lacks: bool
) -> None:
    analysis = analyse(question)
    row = np.zeros(len(FEATURES))
    column = f"kind_{analysis.kind}"
    if column in FEATURES:
        row[FEATURES.index(column)] = kind_value
    assert lacks_asked(analysis, row, rule) is lacks
    rows = np.ones((1, len(FEATURES)))  # near the question, every year met
    reason = refusal_reason(rows, 0, (), 0.9, 0.5, 0.2, lacks_asked(analysis, row, rule))
    assert (reason is not None) is lacks


@pytest.mark.parametrize(
    ("sentence", "head", "unnamed"),
    [
        ("A US woman is suing Hewlett Packard over its cartridges.", "woman", True),
        ("A 26-year-old Dutch-Moroccan man has been charged.", "man", True),
        ("He plans to release it through another label.", "label", True),
        # the name follows: an apposition, "called"
        ("A US woman, Jane Doe, is suing Hewlett Packard.", "woman", False),
        ("A woman called Jane Doe is suing Hewlett Packard.", "woman", False),
        # a predicate or an apposition describes someone the sentence names
        ("Jane Doe is a US woman who sued Hewlett Packard.", "woman", False),
        ("Jane Doe, a US woman, sued Hewlett Packard.", "woman", False),
        ("Jane Doe will stand as a Conservative woman candidate.", "woman", False),
        ("The woman is suing Hewlett Packard.", "woman", False),  # definite
        ("A US firm is suing the woman.", "woman", False),  # the indefinite phrase is the firm
        ("A very long and winding list of US firms.", "list", False),  # too far from "a"
    ],
)
def test_an_indefinite_phrase_brings_in_the_asked_thing_unnamed(
    sentence: str, head: str, unnamed: bool
) -> None:
    assert leaves_unnamed(sentence, stem(head)) is unnamed


def assert_named_alone_refuses(question: str, sentence: str, lacks: bool) -> None:
    """The `named` rule refuses the sentence exactly when `lacks`, and `measured`, the rule
    before it, never does: every other signal is present, so only the sentence decides."""
    row = np.ones(len(FEATURES))
    assert lacks_asked(analyse(question), row, "named", sentence) is lacks
    assert lacks_asked(analyse(question), row, "measured", sentence) is False


@pytest.mark.parametrize(
    ("question", "sentence", "lacks"),
    [
        ("What is the name of the Georgia woman suing HP?", "A US woman is suing HP.", True),
        ("What is the name of the Georgia woman suing HP?", "Jane Doe is suing HP.", False),
        ("What is the name of the judge who granted it?", "A judge granted it.", True),
        # "which X" may be answered by a common noun another sentence gives ("the radius")
        ("Which bone did he break?", "He broke a bone in his arm.", False),
        ("Who granted the injunction?", "A judge granted the injunction.", False),  # no noun
        # what the question asks for is not a name
        ("How many women sued HP?", "A US woman is suing HP.", False),
    ],
)
def test_named_refuses_a_sentence_that_leaves_the_asked_thing_unnamed(
    question: str, sentence: str, lacks: bool
) -> None:
    assert_named_alone_refuses(question, sentence, lacks)


@pytest.mark.parametrize(
    ("sentence", "lacks"),
    [
        # every new number measures time or labels a rank: nothing is counted
        ("The Massacre is released five weeks after Documentary went to number one.", True),
        ("It sold 1.1 million copies, five weeks after the first.", False),  # copies counted
        ("Sales reached 480,000 in its first week.", False),  # a bare number may count them
        ("It cost £5m to make.", True),  # money, not copies
        ("It was a hit.", False),  # no new number: the ranker's kind feature, not this rule
    ],
)
def test_named_refuses_a_count_answered_only_by_other_measures(sentence: str, lacks: bool) -> None:
    assert_named_alone_refuses(
        "How many copies did The Massacre sell in its first week?", sentence, lacks
    )


@pytest.mark.parametrize(
    ("question", "sentence", "lacks"),
    [
        # a person is asked and the only new name is a thing's ("the Uefa Cup")
        ("Whom did Ajax name as coach?", "Ajax went out of the Uefa Cup.", True),
        ("Whom did Ajax name as coach?", "Ajax went out of the 2004 Uefa Cup.", True),
        ("Whom did Ajax name as coach?", "Ajax named Danny Blind after the Uefa Cup.", False),
        ("Whom did Ajax name as coach?", "Ajax named the former striker Danny Blind.", False),
        # a capital "The" opens a sentence or a title: a company may answer "who"
        ("Who acquired Fox?", "The Walt Disney Co. has set a deal to acquire Fox.", False),
        # a thing may answer what is not a person's question
        ("Which cup did Ajax leave?", "Ajax went out of the Uefa Cup.", False),
    ],
)
def test_named_refuses_a_person_question_whose_sentence_names_no_one(
    question: str, sentence: str, lacks: bool
) -> None:
    assert_named_alone_refuses(question, sentence, lacks)


def test_named_refuses_a_sentence_that_names_nothing_when_a_name_is_asked() -> None:
    row = np.ones(len(FEATURES))
    asked = analyse("What is the name of the airline that the executives set up?")
    assert lacks_asked(asked, row, "named", "They set up Acme Air.") is False
    # a weekday is capitalised but names nothing
    assert lacks_asked(asked, row, "named", "Last Friday they set up a rival.") is True
    row[FEATURES.index(f"kind_{asked.kind}")] = 0.0  # no new phrase of the asked kind
    assert lacks_asked(asked, row, "named", "They set up a rival.") is True
    # a question that does not ask for the name in so many words is left to the ranker
    assert lacks_asked(analyse("What did the executives set up?"), row, "named", "x") is False


def test_a_title_and_a_surname_the_question_holds_are_not_a_new_name() -> None:
    # "Mr Walsh" is the question's Willie Walsh: what he did is not a name the question lacks
    found = names("Mr Walsh met Ms Anna Berg, Dr Lee's aide.")
    assert [s.text for s in new_spans(found, words("Did Willie Walsh meet Lee?"))] == [
        "Ms Anna Berg"
    ]
    assert new_spans(names("Mr Walsh spoke."), words("Did Walsh speak?")) == []


@pytest.mark.parametrize(
    ("question", "which"),
    [
        ("In which court did Bruce Willis file his lawsuit?", True),
        ("Which judge granted the injunction?", True),
        # the wh-word of a describing clause does not ask
        ("What cause will the match, which sold out, help?", False),
        # "which year" asks for a date, "which city" for a place: their own rules
        ("In which year did he join?", False),
        ("Which was bigger: the trade deficit or the budget deficit?", False),
    ],
)
def test_asks_which_is_a_which_x_question_for_a_named_thing(question: str, which: bool) -> None:
    assert asks_which(analyse(question)) is which


def test_named_refuses_a_which_question_when_no_quoted_sentence_names_anything_new() -> None:
    asked = analyse("In which court did Bruce Willis file his lawsuit against Revolution?")
    rows = np.ones((3, len(FEATURES)))
    texts = [
        "According to the lawsuit, the injury was suffered on set.",
        "The lawsuit said Willis has endured pain.",
        "Willis filed the suit in Los Angeles Superior Court on Monday.",
    ]
    assert answer_lacks(asked, rows, [0, 1], texts, "named") is True
    # a further quoted sentence that names something is enough: it may hold the answer
    assert answer_lacks(asked, rows, [0, 2], texts, "named") is False
    # only the "named" rule reads every quoted sentence
    assert answer_lacks(asked, rows, [0, 1], texts, "measured") is False
    # a question that does not ask "which X" is left to the best sentence's rules
    assert answer_lacks(analyse("What did Willis say?"), rows, [0, 1], texts, "named") is False


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("In which year did the song top the charts?", "date"),
        ("For how long was the road closed?", "number"),
        # the kind comes from the asking wh-phrase, not a wh-word of a describing clause
        ("What is the pension called that depends on how long you worked?", "any"),
        ("What did the minister say when the vote was lost?", "any"),
        ("The film was directed by whom?", "person"),
        # a question that does not open with its wh-phrase asks with its last one
        ("The minister who quit had begun recruiting how many officers?", "number"),
        ("The leader who plans cuts skipped lessons in which town?", "place"),
        # ... but a joining "when" inside it does not ask
        ("She says he was in which country when he skipped a test?", "place"),
        ("A song whose re-release topped the charts. In what year did it first top them?", "date"),
        ("What is the premiere date of the new season?", "date"),
        ("What was Kipchoge's winning time in the race?", "number"),  # a length of time
        # a reason, asked for one or for several
        ("What reason did the council give for the ban?", "reason"),
        ("What reasons does the piece give for the sanctions?", "reason"),
        ("What time did the polls close?", "date"),
        # a place noun after a qualifying word or two, closed by an auxiliary
        ("In which US city will the children connect?", "place"),
        ("In which west London town was he born?", "place"),
        # ... not a place noun that qualifies the asked one, nor one inside a compound
        ("Which Manchester City chairman told the meeting?", "name"),
        ("Which state-owned oil company bought it?", "name"),
    ],
)
def test_answer_kind_comes_from_the_first_wh_phrase(question: str, kind: str) -> None:
    assert analyse(question).kind == kind


@pytest.mark.parametrize(
    ("question", "head"),
    [
        # the last word of the noun phrase an auxiliary or a comma closes
        ("Which arm bone did he break?", "bone"),
        ("Through which other label does he plan to release it?", "label"),
        ("Which big XP security upgrade did Microsoft mention?", "upgrade"),
        ("Which two new web domain endings, for mobile services, were approved?", "ending"),
        # ... up to a preposition or a possessive
        ("What percentage of the vote did she win?", "percentage"),
        ("Which institute's report found it?", "institute"),
        # nothing closes it soon: the first plain word after the wh-word
        ("Which London Film Festival prize went to the film?", "prize"),
        ("Which Manchester City chairman told the annual general meeting?", "chairman"),
        ("What is the name of the airline?", None),  # a name is asked: `named` below
    ],
)
def test_head_noun_is_the_last_word_of_the_asked_noun_phrase(question: str, head: str) -> None:
    assert analyse(question).head == head


@pytest.mark.parametrize(
    ("question", "named"),
    [
        # "the name of" a noun phrase asks for that noun's name: the phrase ends where what is
        # said of it begins (a participle, a relative pronoun); a possessor is no head
        ("What is the name of the airline?", "airline"),
        ("What is the name of the Georgia woman suing Hewlett Packard?", "woman"),
        ("What is the name of the union led by Jonathan Baume?", "union"),
        ("What was the title of 50 Cent's first album, which nearly topped the chart?", "album"),
        ("What is the name of the building?", "build"),  # "-ing" before any noun: the noun
        # a relative clause whose pronoun is left out opens with its subject
        ("What is the name of the private airline they were setting up?", "airline"),
        ("What is the name?", None),
        ("Which airline did they set up?", None),  # which one, not its name
    ],
)
def test_named_is_the_noun_whose_name_is_asked(question: str, named: str | None) -> None:
    assert analyse(question).named == named


@pytest.mark.parametrize(
    "sentence",
    [
        "The plan was abandoned in the wake of stiff opposition.",
        "The growth has been fuelled by lower prices.",
        "Demand was driven by cheaper calls.",
        "He quit because of an injury.",
    ],
)
def test_reason_questions_want_a_causal_connective(sentence: str) -> None:
    q = analyse("Why was the plan dropped?")
    assert kind_match(q, sentence, words(q.text)) == 1.0
    assert kind_match(q, "The plan was dropped on Monday.", words(q.text)) == 0.0


@pytest.mark.parametrize(
    ("question", "options"),
    [
        (
            "Which was bigger in 2004: the trade deficit or the budget deficit?",
            ("the trade deficit", "the budget deficit"),
        ),
        (
            "Were more games available at its Japanese launch or at its US launch?",
            ("at its Japanese launch", "at its US launch"),
        ),
        ("Who is taller, Smith or Jones?", ("Smith", "Jones")),
        # an "or" that offers no choice
        ("How many goals did she score, a record for any player, male or female?", ()),
        ("What did the manager say about the pay rise or the bonus?", ()),
    ],
)
def test_comparison_options(question: str, options: tuple[str, ...]) -> None:
    assert analyse(question).options == options


def test_comparison_picks_the_best_sentence_about_each_option() -> None:
    options = ("actor Dan O'Herlihy", "comedian Cyril Fletcher")
    texts = [
        "O'Herlihy died at his home in Malibu aged 85.",
        "The comedian was best known for his odd odes.",
        "Cyril Fletcher died aged 90.",
        "Dan O'Herlihy was nominated for an Oscar.",
    ]
    scores = np.array([0.9, 0.8, 0.3, 0.5])
    # "comedian" is Fletcher's word too: the best sentence about him is the second
    assert picks(options, texts, scores) == [0, 1]
    # one sentence about both answers alone; nothing about one side: no comparison answer
    assert picks(("A trade", "B budget"), ["Trade beat the budget."], np.array([1.0])) == [0]
    assert picks(options, texts[:1], scores[:1]) is None


def test_a_follow_up_asks_with_its_latest_turn(fake_embedder) -> None:
    answerer = ExtractiveAnswerer(fake_embedder, Combiner.load("default"))
    earlier = "Who built the Harbourton bridge?"
    cost = answerer.analyse(f"{earlier} And how much did it cost?", "And how much did it cost?")
    assert (cost.kind, cost.unit) == ("number", "money")
    which = "Which was bigger: the bridge or the tunnel?"
    assert answerer.analyse(f"{earlier} {which}", which).options == ("the bridge", "the tunnel")


def test_kind_match_ignores_an_opening_word_the_articles_write_in_lower_case() -> None:
    q = analyse("Who directed the film?")
    sentence = "Written, directed and produced by him, it ran for years."
    assert kind_match(q, sentence, words(q.text)) > 0.0  # "Written" looks like a name
    common = common_words("The script was written in a week.")
    assert kind_match(q, sentence, words(q.text), common) == 0.0


def test_the_rate_an_amount_is_asked_per_is_not_what_it_measures() -> None:
    # "£100 per week" paid by other councils does not say what a new allowance per week will be
    asked = analyse("How much per week will the government's new minimum allowance be?")
    assert rate_terms(asked.text) == {"per", "week"}
    row = np.zeros(len(FEATURES))
    row[FEATURES.index("focus_word_overlap")] = 0.2  # "week" is a focus word
    assert unmeasured(asked, row, "Rates paid by councils vary by as much as £100 per week.")
    assert not unmeasured(asked, row, "The new allowance will be £60 per week.")
    # a question without a rate keeps every focus word
    assert not unmeasured(analyse("How much did the appeal raise?"), row, "It raised £9m.")


@pytest.mark.parametrize(
    ("sentence", "bare"),
    [
        # A web snippet's page date, alone or with the clock time a news site prints beside it.
        ("Jan 22, 2021 ...", True),
        ("August 9, 2021 | 1:15 PM EDT.", True),
        # A fixture list's heading.
        ("Tuesday, 1 March", True),
        # A date that says when something happened is a statement, not a bare date.
        ("The game was released on September 14, 2018.", False),
        ("Sep 7, 2019 ... Andreescu is the first teenager to win a Grand Slam title.", False),
        ("Released 2018 on PS4.", False),
        # No date at all.
        ("...", False),
    ],
)
def test_bare_date_is_a_date_and_nothing_else(sentence: str, bare: bool) -> None:
    assert bare_date(sentence) is bare


def test_hard_constraints_rule_out_a_bare_date_only_while_something_else_states() -> None:
    # The bare date scores best but cannot say what happened on its day: the statement wins.
    features = np.zeros((2, len(FEATURES)))
    scores = hard_constraints(
        np.array([3.0, 1.0]), features, ["Oct 19, 2021 ...", "Pixel 6 was announced."]
    )
    assert scores.argmax() == 1
    # When every candidate is a bare date, the scores stay: the refusal rules decide.
    same = hard_constraints(np.array([3.0, 1.0]), features, ["Oct 19, 2021 ...", "Oct 20, 2021."])
    assert same.tolist() == [3.0, 1.0]


def test_a_constraint_never_rules_out_the_last_candidates_in_the_running() -> None:
    # The question is ruled out first (it asks); of the two left both are bare dates, so the
    # date rule tells neither from the other and leaves them to the refusal rules, rather than
    # leaving no candidate at all.
    features = np.zeros((3, len(FEATURES)))
    texts = ["Who won it?", "Oct 19, 2021 ...", "Oct 20, 2021."]
    scores = hard_constraints(np.array([3.0, 2.0, 1.0]), features, texts)
    assert scores.tolist() == [-1e6, 2.0, 1.0]


@pytest.mark.parametrize(
    ("phrases", "before", "first"),
    [
        # The name is brought in here: the article has not used it before this sentence.
        (["SMFG President Yoshifumi Nishikawa"], "Japan bank shares rose 2.7%.", 1.0),
        # Named again (by surname) after the sentence that introduced him: not new to the story.
        (["Mr Nishikawa"], "SMFG President Yoshifumi Nishikawa said so.", 0.0),
        # One of two phrases new to the story is enough.
        (["Nishikawa", "Daiwa"], "Yoshifumi Nishikawa said so.", 1.0),
        # A figure the story gave before.
        (["£5.5bn"], "The plan would cost £5.5bn a year.", 0.0),
        # No phrase of the asked kind: nothing is brought in.
        ([], "Anything at all.", 0.0),
    ],
)
def test_first_mention_reads_whether_the_story_brings_the_phrase_in_here(
    phrases: list[str], before: str, first: float
) -> None:
    assert first_mention(phrases, words(before)) == first


def test_first_mention_column_reads_the_article_before_the_sentence() -> None:
    # Two sentences name the same new person for a "who" question; only the first brings
    # him in.
    pool = _story_pool("Tom Holt runs the Acme bank. Tom Holt said profits rose.")
    assert [c.text for c in pool.candidates] == [
        "Tom Holt runs the Acme bank.",
        "Tom Holt said profits rose.",
    ]
    sims = np.zeros(2)
    matrix = feature_matrix(
        analyse("Who heads Acme?"), pool, Similarities(sims, sims, sims, sims), {}
    )
    assert matrix[:, FEATURES.index("first_mention")].tolist() == [1.0, 0.0]
