"""Metrics recomputed by hand on a tiny corpus, the eval command end to end, and bad files."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from askdocs import cli as cli_module
from askdocs.evaluation import (
    Question,
    QuestionFileError,
    QuestionScore,
    abstention_curve,
    aggregate,
    answer_contains,
    load_questions,
    normalize,
    score_answer,
    token_f1,
)
from askdocs.rgb import answer_groups, is_correct, pick_passages
from askdocs.types import BELOW_THRESHOLD, Answer, Chunk, Citation, Passage
from conftest import FakeEmbeddings

ARTICLE = "Bridge approved\nThe bridge will cost £12 million. It opens in 2026. Critics object."


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "bridge.txt").write_text(ARTICLE)
    (folder / "other.txt").write_text("Other news\nNothing to see here.")
    return folder


def passage(corpus: Path, name: str, start: int, end: int, text: str) -> Passage:
    chunk = Chunk(f"{name}-c", name, 0, text[start:end], start, end)
    return Passage(chunk, 0.5, name, str((corpus / name).resolve()))


def citation(corpus: Path, key: int, name: str, quote: str, text: str) -> Citation:
    start = text.index(quote)
    source = str((corpus / name).resolve())
    return Citation(key, name, name, source, start, start + len(quote), quote, f"{name}-c")


def test_normalisation_and_containment() -> None:
    assert normalize("The £7,500 Figure, 56 per cent!") == "£7500 figure 56 percent"
    assert answer_contains("It took 7500 troops.", ["7,500"])
    assert answer_contains("a 56% stake", ["56 per cent"])
    assert not answer_contains("the Venezuelans", ["Venezuela"])  # whole words only
    assert token_f1(
        "the Venezuelan government", ["Venezuelan government officials"]
    ) == pytest.approx(0.8)


def test_metrics_by_hand(corpus: Path) -> None:
    question = Question(
        "q1", "How much will the bridge cost?", ["£12 million"], ["bridge.txt"],
        ["The bridge will cost £12 million."], "how-many",
    )  # fmt: skip
    other_text = (corpus / "other.txt").read_text()
    answer = Answer(
        question=question.question,
        text="The bridge will cost £12 million. [1] Nothing to see here. [2]",
        abstained=False,
        citations=[
            citation(corpus, 1, "bridge.txt", "The bridge will cost £12 million.", ARTICLE),
            citation(corpus, 2, "other.txt", "Nothing to see here.", other_text),
        ],
        passages=[
            passage(corpus, "other.txt", 0, len(other_text), other_text),
            passage(corpus, "bridge.txt", 16, len(ARTICLE), ARTICLE),
        ],
        standalone_question=question.question,
        settings_hash="x",
    )
    texts = {
        str((corpus / n).resolve()): (corpus / n).read_text() for n in ("bridge.txt", "other.txt")
    }
    score = score_answer(question, answer, corpus, texts.get)
    assert score.doc_recall == 1.0  # the one gold article is among the passages
    assert score.reciprocal_rank == 0.5  # ...at rank 2
    assert score.evidence_recall == 1.0  # the evidence lies inside the second passage
    assert score.citation_precision == 0.5  # one of two citations overlaps the evidence
    assert score.citation_recall == 1.0
    assert score.answer_contains and score.quote_violations == 0

    bridge = str((corpus / "bridge.txt").resolve())
    tampered = Citation(3, "bridge.txt", "Bridge", bridge, 0, 5, "Brige", "bridge.txt-c")
    broken = Answer(**{**answer.__dict__, "citations": [tampered]})
    assert score_answer(question, broken, corpus, texts.get).quote_violations == 1

    unanswerable = Question("q2", "Who?", [], [], [], "unanswerable")
    abstained = Answer("Who?", "I could not find this in the articles.", True, [], [], "Who?", "x")
    totals = aggregate([score, score_answer(unanswerable, abstained, corpus, texts.get)])
    assert totals["abstained_unanswerable"] == 1.0 and totals["abstained_answerable"] == 0.0
    assert totals["answer_contains"] == 1.0 and totals["mrr"] == 0.5


def test_bad_question_files_name_the_line(tmp_path: Path, corpus: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "question": "q", "answers": []}\n{not json}\n')
    with pytest.raises(QuestionFileError, match=r"bad.jsonl:2: invalid JSON"):
        load_questions(bad)
    bad.write_text('{"id": "1", "answers": []}\n')
    with pytest.raises(QuestionFileError, match=r"bad.jsonl:1: missing field\(s\) question"):
        load_questions(bad)
    bad.write_text('{"id": "1", "question": "q", "answers": ["a"], "doc": "nope.txt"}\n')
    with pytest.raises(QuestionFileError, match=r"bad.jsonl:1: doc not found in corpus: nope.txt"):
        load_questions(bad, corpus)


def test_eval_command_writes_all_outputs(
    tmp_path: Path, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("askdocs.api.make_embedder", lambda settings: FakeEmbeddings())
    monkeypatch.setenv("ASKDOCS_ABSTAIN_THRESHOLD", "0.3")
    questions = tmp_path / "qa.jsonl"
    rows = [
        {"id": "a", "question": "How much will the new Harbourton bridge cost?",
         "answers": ["£12 million"], "doc": "harbour-bridge.txt",
         "evidence": ["The bridge will cost £12 million"], "type": "how-many"},
        {"id": "b", "question": "Who won the Northfield regional chess championship?",
         "answers": ["Priya Nair"], "doc": "chess-title.md", "evidence": [], "type": "who"},
        {"id": "c", "question": "What is the boiling point of tungsten on Mars?", "answers": [],
         "doc": None, "evidence": [], "type": "unanswerable"},
    ]  # fmt: skip
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli_module.cli, ["eval", str(questions), "--corpus", str(articles_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in (
        "results.json",
        "report.md",
        "metrics_by_type.png",
        "latency.png",
        "abstention.png",
    ):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    assert results["aggregate"]["answer_contains"] == 1.0
    assert results["aggregate"]["abstained_unanswerable"] == 1.0
    assert results["aggregate"]["quote_violations"] == 0
    assert "## By question type" in (out / "report.md").read_text()
    assert "| 0.300 (current) |" in (out / "report.md").read_text()

    # the second run reuses the index and compares cleanly with the first
    again = CliRunner().invoke(
        cli_module.cli,
        ["eval", str(questions), "--corpus", str(articles_dir), "--out", str(tmp_path / "run2")],
    )
    assert again.exit_code == 0
    compare = CliRunner().invoke(cli_module.cli, ["eval-compare", str(out), str(tmp_path / "run2")])
    assert compare.exit_code == 0 and "0 question(s) flipped" in compare.output
    assert (tmp_path / "run2" / "compare" / "comparison.png").is_file()


def test_rgb_answer_groups_and_passage_mix() -> None:
    assert answer_groups("Tampa") == [["Tampa"]]
    assert answer_groups(["Facebook", "Meta"]) == [["Facebook", "Meta"]]
    assert answer_groups([["Dec 1, 2017", "1 December 2017"]]) == [
        ["Dec 1, 2017", "1 December 2017"]
    ]
    assert is_correct("It came out on 1 December 2017.", [["Dec 1, 2017", "1 December 2017"]])
    row = {"id": 1, "query": "q", "positive": ["p1", "p2", "p3"], "positive_wrong": ["w1", "w2"],
           "negative": ["n1", "n2", "n3", "n4"]}  # fmt: skip
    texts, pos, neg = pick_passages(row, 5, 0.4, False, False, seed=0)
    assert (pos, neg) == (3, 2) and set(texts) <= {"p1", "p2", "p3", "n1", "n2", "n3", "n4"}
    texts, pos, neg = pick_passages(row, 5, 0.0, True, False, seed=0)
    assert set(texts) == {"w1", "w2"}
    texts, pos, neg = pick_passages(row, 5, 0.0, False, True, seed=0)
    assert (pos, neg) == (0, 4)
    assert pick_passages(row, 5, 0.4, False, False, seed=0) == pick_passages(
        row, 5, 0.4, False, False, seed=0
    )


def test_eval_rgb_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("askdocs.api.make_embedder", lambda settings: FakeEmbeddings())
    monkeypatch.setenv("ASKDOCS_ABSTAIN_THRESHOLD", "0.3")
    rgb = tmp_path / "rgb.jsonl"
    rgb.write_text(json.dumps({
        "id": 0, "query": "Where was the Super Bowl 2021 played?", "answer": "Tampa, Florida",
        "fakeanswer": "Glendale, Arizona",
        "positive": ["Super Bowl 2021 was played in Tampa, Florida."],
        "positive_wrong": ["Super Bowl 2021 was played in Glendale, Arizona."],
        "negative": ["Knitting needs patience and wool.", "Bread rises slowly in the cold."],
    }) + "\n")  # fmt: skip
    for extra, key, expected in (
        ([], "accuracy", 1.0),
        (["--counterfactual"], "repeats_fake_rate", 1.0),
        (["--rejection"], "rejection_rate", 1.0),
    ):
        result = CliRunner().invoke(
            cli_module.cli,
            ["eval-rgb", str(rgb), "--passages", "2", "--out", str(tmp_path / "rgb"), *extra],
        )
        assert result.exit_code == 0, result.output
        assert f"{key}: {expected}" in result.output
    # each row keeps the answerer's confidence, to compare right answers with wrong ones
    report = json.loads((tmp_path / "rgb" / "rgb-noise-noise0.json").read_text())
    (row,) = report["rows"]
    assert row["correct"] and 0.0 < row["confidence"] <= 1.0
    # ... and whether its short answer and first quote hold the answer, not only some quote
    assert row["first_correct"] and row["quotes"] >= 1
    assert report["summary"]["first_quote_accuracy"] == 1.0
    assert report["summary"]["quotes_per_answer"] == row["quotes"]


def test_first_quote_accuracy_is_stricter_than_accuracy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An answer that quotes two sentences, the answer only in the second: RGB's judge counts
    # it right; what the reader meets first does not hold it.
    from askdocs import rgb as rgb_module
    from askdocs.types import Answer, Citation

    quotes = ["The final was in Glendale, Arizona, in 2015.", "In 2021 it was in Tampa, Florida."]
    answer = Answer(
        "q", " [1] ".join(quotes) + " [2]", False,
        [Citation(n + 1, "a", "", "", 0, len(q), q, "c") for n, q in enumerate(quotes)],
        [], "q", "h", short_answer="Glendale, Arizona",
    )  # fmt: skip

    class Fake:
        embedder = None

        def ask(self, question: str, k: int) -> Answer:
            return answer

    monkeypatch.setattr(rgb_module, "passages_index", lambda *a, **k: Fake())
    rgb = tmp_path / "rgb.jsonl"
    rgb.write_text(
        json.dumps(
            {
                "id": 0,
                "query": "Where was the 2021 final?",
                "answer": "Tampa, Florida",
                "positive": ["p"],
                "negative": ["n"],
            }
        )
    )
    summary = rgb_module.run_rgb(rgb, passages=2)["summary"]
    assert summary["accuracy"] == 1.0
    assert summary["first_quote_accuracy"] == 0.0
    assert summary["quotes_per_answer"] == 2.0


def _scored(
    answerable: bool, confidence: float | None, abstained: bool, reason: str = ""
) -> QuestionScore:
    return QuestionScore(
        id="q", type="t", question="?", answerable=answerable, answer="", abstained=abstained,
        doc_recall=0, evidence_recall=0, reciprocal_rank=0, answer_contains=False, token_f1=0,
        citation_precision=None, citation_recall=None, quote_violations=0, latency=0,
        confidence=confidence, abstain_reason=reason,
    )  # fmt: skip


def test_abstention_curve_by_hand() -> None:
    scores = [
        _scored(True, 0.70, False),
        _scored(True, 0.50, False),
        _scored(False, 0.60, False),
        _scored(False, 0.40, True, BELOW_THRESHOLD),
        # abstained because no sum was in the answer: abstains at every threshold
        _scored(False, 0.80, True, "no sentence holds the number asked"),
        # nothing retrieved: no confidence at all
        _scored(False, None, True, "nothing relevant was retrieved"),
    ]
    curve = {p["threshold"]: p for p in abstention_curve(scores, [0.3, 0.55, 0.65, 0.75])}
    assert curve[0.3] == {
        "threshold": 0.3,
        "abstained_unanswerable": 0.5,
        "abstained_answerable": 0.0,
    }
    assert curve[0.55]["abstained_unanswerable"] == 0.75
    assert curve[0.55]["abstained_answerable"] == 0.5
    assert curve[0.65]["abstained_unanswerable"] == 1.0
    assert curve[0.75]["abstained_answerable"] == 1.0


def test_evaluation_deletes_under_the_ingest_lock(ingested, articles_dir: Path) -> None:
    # An eval reusing an index drops the articles outside its corpus: a write, so it must not
    # run while another ingest (here: the lock held) is writing the same index.
    from askdocs.evaluation import _drop_articles_outside
    from askdocs.index import IndexBusyError, ingest_lock

    elsewhere = articles_dir / "only-this"
    elsewhere.mkdir()
    before = ingested.stats()["articles"]
    with ingest_lock(ingested.settings), pytest.raises(IndexBusyError):
        _drop_articles_outside(ingested, elsewhere)
    assert ingested.stats()["articles"] == before
    _drop_articles_outside(ingested, elsewhere)
    assert ingested.stats()["articles"] == 0
