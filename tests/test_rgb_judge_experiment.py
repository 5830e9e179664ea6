"""scripts/rgb_judge_experiment.py: the LLM judge and constraint scorers measured on RGB and
not kept. Their figures are in the README; these tests keep the model-free scorers honest (the
judge itself needs llama-cpp-python and is only run by the script)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import rgb_judge_experiment as X


def test_qualifiers_read_years_ordinals_and_numbers_after_a_head() -> None:
    assert X.qualified("When does season 4 of The Crown premiere?") == {("season", ("number", 4))}
    assert ("season", ("number", 1)) in X.qualified("When will the first season premiere?")
    assert ("nba", ("year", 2021)) in X.qualified("What is the date of the 2021 NBA Draft?")
    assert ("part", ("number", 2)) in X.qualified("The Last of Us Part II")
    # A day of a month is a date, not a qualified thing.
    assert X.qualified("It aired on November 4.") == set()


def test_a_clash_needs_the_same_head_another_value_and_never_the_asked_one() -> None:
    question = "When does season 4 of The Crown premiere?"
    assert X.meets_qualifiers(question, "Season 1 aired November 4, 2016.") == 0.0
    assert X.meets_qualifiers(question, "Season 4 follows seasons 1 and 3.") == 1.0
    assert X.meets_qualifiers(question, "It premieres on November 15.") == 1.0
    # A year does not clash with a count.
    assert X.meets_qualifiers("Who won the 2021 Tour?", "He won Tour stage 15.") == 1.0


def test_constraints_need_every_name_year_and_number_of_the_question() -> None:
    question = "Who won the women's singles Wimbledon in 2019?"
    assert X.holds_constraints(question, "Halep won Wimbledon 2019.") == 1.0
    assert X.holds_constraints(question, "Halep won Wimbledon in 2018.") == 0.0


def test_news_flags_counts_flagged_gold_sentences(tmp_path: Path) -> None:
    rows = [
        {"question": "What happened in season 4?", "evidence": ["Season 1 ended.", "Fine."]},
        {"question": "Who won?", "evidence": ["Halep won."]},
    ]
    file = tmp_path / "q.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert X.news_flags([file]) == {"questions_qualifying": 1, "gold_sentences": 3, "flagged": 1}
