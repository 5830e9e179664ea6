"""The short answer: its candidate phrases, each position signal, and the fitted choice."""

import json
from pathlib import Path

import numpy as np
import pytest

from askdocs.answer.combiner import QUESTION_FEATURES, Combiner, CombinerError, weights_document
from askdocs.answer.entities import Span, common_words, names
from askdocs.answer.features import FEATURES
from askdocs.answer.question import analyse, answer_kind
from askdocs.answer.short import (
    NEAREST_FOCUS,
    SPAN_FEATURES,
    SpanRanker,
    candidates,
    counts,
    head_places,
    short_answer,
    span_features,
    tokens,
    wh_weights,
    with_unit,
    without_calendar_words,
    without_known_parts,
    words_apart,
)

COLUMN = {name: i for i, name in enumerate(SPAN_FEATURES)}


def ranker_on(feature: str) -> SpanRanker:
    """A ranker that scores phrases by one feature alone."""
    n = len(SPAN_FEATURES)
    return SpanRanker(np.zeros(n), np.ones(n), np.eye(n)[COLUMN[feature]])


@pytest.mark.parametrize(
    ("question", "sentence", "short"),
    [
        ("Who leads Acme?", "Acme president Anna Berg said so.", "Anna Berg"),
        # a count comes with the noun it counts, a time with its unit
        ("How many branches does it have?", "The bank has 200 branches.", "200 branches"),
        ("When did she join?", "She joined in 1999.", "1999"),
        ("Where was it held?", "It was held in Rome last year.", "Rome"),
        ("Why did it fall?", "It fell because of rain.", None),  # no phrase kind for why
        ("Who leads Acme?", "Acme said so.", None),  # nothing new of the kind
        # the asked unit decides between two quantities, whichever is nearer the focus words
        ("How much did parents raise?", "Parents raised 180,000 pounds in six weeks.", "180,000"),
        ("How long did the appeal take?", "The appeal raised £180,000 in six weeks.", "six weeks"),
        ("How many fans came?", "In 2 hours 40,000 fans came.", "40,000 fans"),
        # a count is not a share: the bare number, though the share is nearer the focus words
        ("How many ballot papers were returned?",
         "Some 48,939 people voted, a turnout of 25.7% of papers.", "48,939"),
        # the part of a conjoined name that the question already holds is left off
        ("Besides Mexico, which region did he praise?",
         "He praised Mexico and Central America.", "Central America"),
        # a title with a name the question holds is nothing new
        ("Which union does Baume lead?", "Mr Baume's union, the FDA, said no.", "FDA"),
        ("In which years had she won before?", "She won in 1987 and in 1994.", "1987"),
        ("Which minister said so?",
         "Labour Minister Ghazi al-Gosaibi said so.", "Labour Minister Ghazi al-Gosaibi"),
        # a month or weekday is not a name: left off one, and no short answer from it alone
        ("Who spoke?", "On Tuesday Anna Berg spoke.", "Anna Berg"),
        ("Who is the chief executive?", "The post is filled in November.", None),
    ],
)  # fmt: skip
def test_short_answer(question: str, sentence: str, short: str | None) -> None:
    assert short_answer(analyse(question), sentence) == short


def test_without_known_parts_keeps_new_parts_and_whole_new_names() -> None:
    known = {"mexico"}
    assert without_known_parts(Span(0, 17, "Marks and Spencer"), known) == Span(
        0, 17, "Marks and Spencer"
    )
    span = without_known_parts(Span(10, 30, "Mexico and Cuba & Peru"), known)
    assert span is not None and span.text == "Cuba & Peru" and span.start == 21
    assert without_known_parts(Span(0, 6, "Mexico"), known) is None
    assert without_known_parts(Span(0, 8, "Sir Anna"), {"anna"}) is None  # title + known name


def test_without_calendar_words() -> None:
    assert without_calendar_words(Span(3, 20, "Tuesday Anna Berg")) == Span(11, 20, "Anna Berg")
    assert without_calendar_words(Span(0, 12, "Nov. Tuesday")) is None
    assert without_calendar_words(Span(0, 7, "Mrs May")) == Span(0, 7, "Mrs May")


def test_with_unit_only_extends_over_words_to_the_counted_noun() -> None:
    s = "Some 40,000 fans, police said."
    assert with_unit(s, Span(5, 11, "40,000"), "count:fan").text == "40,000 fans"
    s = "Some 40,000, fans said."
    assert with_unit(s, Span(5, 11, "40,000"), "count:fan").text == "40,000"  # punctuation
    s = "Some 40,000 of the many loyal fans came."
    assert with_unit(s, Span(5, 11, "40,000"), "count:fan").text == "40,000"  # too far
    s = "It took 3 weeks."
    assert with_unit(s, Span(8, 9, "3"), "money").text == "3"  # only time and counts
    assert with_unit(s, Span(8, 9, "3"), "time").text == "3 weeks"


def test_counts_prefer_bare_numbers_only_for_counts() -> None:
    found = [Span(0, 3, "12%"), Span(5, 8, "£5m"), Span(10, 12, "40")]
    assert counts(found, "count:fan") == [Span(10, 12, "40")]
    assert counts(found[:2], "count:fan") == found[:2]  # none bare: all stay
    assert counts(found, "money") == found
    # "5m" or "3bn" without a currency sign is a sum as well
    assert counts([Span(0, 2, "5m"), Span(3, 6, "3bn"), Span(7, 9, "40")], "count:x") == [
        Span(7, 9, "40")
    ]


def test_words_apart_and_tokens() -> None:
    assert [t[2] for t in tokens("Fans came, cheering.")] == ["fan", "came", "cheer"]
    assert (words_apart(2, 3, 0), words_apart(2, 3, 2), words_apart(2, 3, 3)) == (2, 0, 0)
    assert words_apart(2, 3, 7) == 4


def test_wh_weights_rank_focus_words_by_distance_from_the_wh_word() -> None:
    weights = wh_weights(analyse("The film won, but on what date was the vote held?"))
    assert weights["date"] == 1.0 and weights["vote"] == 0.5
    assert weights["held"] < weights["vote"]
    assert "film" not in weights  # context, not focus


def test_head_places_look_inside_before_and_after() -> None:
    t = tokens("the Yadavaran and Jufeyr oilfields, said NIOC oilfield experts")
    # Yadavaran..Jufeyr is tokens 1-3, "oilfields" 4, NIOC 6 (two words after "oilfields")
    assert head_places(t, 1, 3, "oilfield") == [0.0, 0.0, 1.0]
    assert head_places(t, 6, 6, "oilfield") == [0.0, 1.0, 1.0]
    assert head_places(t, 4, 4, "oilfield") == [1.0, 0.0, 0.0]
    assert head_places(t, 1, 3, None) == [0.0, 0.0, 0.0]
    t = tokens("said EFF lawyer Kurt Opsahl")
    assert head_places(t, 3, 4, "lawyer") == [0.0, 1.0, 0.0]


def test_span_features_columns() -> None:
    q = analyse("Which lawyer criticised the ruling?")
    sentence = "The ruling was criticised, said EFF lawyer Kurt Opsahl."
    found = candidates(q, sentence)
    assert [s.text for s in found] == ["EFF", "Kurt Opsahl"]
    x = span_features(q, sentence, found)
    # Both are one word from "lawyer", the focus word nearest the wh-word (weight 1); the
    # lawyer stands after EFF and before Kurt Opsahl.
    assert x.tolist() == [[0.5, 0.5, 0.0, 0.0, 1.0], [0.5, 0.5, 0.0, 1.0, 0.0]]
    assert span_features(q, sentence, []).shape == (0, len(SPAN_FEATURES))


def test_the_ranker_decides_between_phrases() -> None:
    q = analyse("Which lawyer criticised the ruling?")
    sentence = "The ruling was criticised, said EFF lawyer Kurt Opsahl."
    assert short_answer(q, sentence, NEAREST_FOCUS) == "EFF"  # the first of equals
    assert short_answer(q, sentence, ranker_on("head_before")) == "Kurt Opsahl"


def test_plural_dates_and_hyphenated_names() -> None:
    assert answer_kind("What dates were set?") == "date"
    assert [s.text for s in names("Ghazi al-Gosaibi spoke.")] == ["Ghazi al-Gosaibi"]


def _weights(path: Path, fitted: tuple | None, **changes) -> Path:
    n, m = len(FEATURES), len(QUESTION_FEATURES)
    ranker = ([0.0] * n, [1.0] * n, [1.0] * n)
    data = weights_document(ranker, ([0.0] * m, [1.0] * m, [0.0] * m, 0.0), 0.5, 0.0, 0.5, fitted)
    data.update(changes)
    path.write_text(json.dumps(data))
    return path


def test_weights_files_carry_the_short_answer_model(tmp_path: Path) -> None:
    k = len(SPAN_FEATURES)
    fitted = ([0.5] * k, [2.0] * k, list(np.eye(k)[COLUMN["head_before"]]))
    combiner = Combiner.load(str(_weights(tmp_path / "fitted.json", fitted)))
    assert combiner.short.weights.tolist() == fitted[2]
    assert combiner.short.scores(np.full((1, k), 2.5)).tolist() == [1.0]
    # a file fitted before there was a short-answer model takes the nearest phrase
    assert Combiner.load(str(_weights(tmp_path / "older.json", None))).short is NEAREST_FOCUS
    # the packaged weights carry a fitted one
    assert Combiner.load("default").short is not NEAREST_FOCUS


def test_a_short_answer_model_for_other_features_is_refused(tmp_path: Path) -> None:
    other = {"features": ["nearness"], "mean": [0], "scale": [1], "weights": [1]}
    with pytest.raises(CombinerError, match="short-answer model"):
        Combiner.load(str(_weights(tmp_path / "other.json", None, short=other)))


def test_a_word_the_articles_write_in_lower_case_does_not_open_a_name() -> None:
    # "Despite" opens its sentence; the articles write "despite" elsewhere, so it names
    # nothing. Without that knowledge it looks like a name.
    q = analyse("Which label will release the album?")
    sentence = "Despite a ban, he plans a release through Jet Star."
    assert [s.text for s in candidates(q, sentence)] == ["Despite", "Jet Star"]
    common = common_words("It went ahead despite that. They now agree.")
    assert [s.text for s in candidates(q, sentence, common)] == ["Jet Star"]
    # A name that the articles never write in lower case keeps its opening word.
    assert short_answer(q, "Rubio said so.", common=common) == "Rubio"


@pytest.mark.parametrize(
    ("question", "sentence", "short"),
    [
        # "In which year" is not answered by a weekday: no short answer rather than "Friday"
        # (the sentence is still quoted), the year where the sentence gives one.
        ("In which year did Walsh take charge?", "Last Friday the minister spoke.", None),
        ("In which year did Walsh take charge?", "Walsh, who took charge in 2000, spoke.", "2000"),
        ("On what date did they quit?", "They quit in 2004.", None),
        ("On what date did they quit?", "They quit on Friday, 18 August.", "Friday, 18 August"),
        ("When did they quit?", "They quit on Friday.", "Friday"),  # any date answers "when"
        # ... the most precise one the sentence gives, not the year beside it
        ("When did they quit?", "In 2004 they quit, on 18 August 2004.", "18 August 2004"),
        # "the premiere date" asks for a day of a month too (RGB: "Sunday" was the short answer)
        ("What is the premiere date of season 11?", "Season 11 airs on Sunday.", None),
        ("What is the premiere date?", "It airs on August 22, 2021.", "August 22, 2021"),
    ],
)
def test_a_short_answer_gives_the_part_of_a_date_asked_for(
    question: str, sentence: str, short: str | None
) -> None:
    assert short_answer(analyse(question), sentence) == short


def test_a_name_keeps_the_number_that_ends_it() -> None:
    # dv2-011's short answer was "Service Pack" where the sentence says "Service Pack 2";
    # a score or an amount after a name is not part of it.
    q = analyse("Which security upgrade would not run on pirated copies?")
    sentence = "Microsoft said Service Pack 2 would not run on pirated copies."
    assert short_answer(q, sentence) == "Service Pack 2"
    q = analyse("Which club beat United?")
    assert short_answer(q, "United went down 3-0 to Fenerbahce 2 weeks ago.") == "Fenerbahce"
    assert short_answer(q, "Fenerbahce 3-0 winners over United.") == "Fenerbahce"
