"""scripts/snippet_rows.py: the question files' questions asked again over one-sentence
passages (the shape of RGB's web snippets), and the fitting script's use of them."""

from __future__ import annotations

import doctest
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import fit_answerer as F
import snippet_rows as S

from askdocs.answer.features import FEATURES
from askdocs.api import Assistant
from askdocs.evaluation import load_questions
from conftest import FakeEmbeddings

ARTICLES = {
    "acme.txt": "Acme names new chief\n\nAcme shares rose 3% on merger talk. "
    "The bank has 200 branches. Its president Anna Berg said growth was needed.",
    "bolt.txt": "Bolt bank results\n\nBolt bank shares fell on merger talk. "
    "Bolt has 90 branches in the north.",
    "cole.txt": "Cole bank opens branches\n\nCole bank opened 12 branches. Its shares rose.",
    "dune.txt": "Dune farms\n\nDune farms grow wheat on the plains.",
}


def test_its_doctests() -> None:
    assert doctest.testmod(S).failed == 0


def test_negatives_mix_the_story_own_sentences_with_one_of_each_other_article() -> None:
    found = [("b", "B weak", 0.1), ("b", "B strong", 0.6), ("c", "C", 0.5), ("g", "G", 0.9),
             ("g", "G2", 0.2)]  # fmt: skip
    assert S.negative_sentences(found, {"g"}, 4, 1) == ["G", "B strong", "C", "G2"]
    assert S.negative_sentences(found, {"g"}, 2, 0) == ["B strong", "C"]
    assert S.negative_sentences(found, {"g", "b"}, 2, 1) == ["G", "C"]


def test_a_question_becomes_a_row_over_one_sentence_passages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("askdocs.api.make_embedder", lambda settings: FakeEmbeddings())
    corpus = tmp_path / "articles"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text)
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({
        "id": "q1", "question": "Who is the president of Acme, whose shares rose 3%?",
        "answers": ["Anna Berg"], "doc": "acme.txt", "type": "who",
        "evidence": ["Its president Anna Berg said growth was needed."],
    }) + "\n")  # fmt: skip
    index = tmp_path / "index"
    weights = F.neutral_weights(tmp_path)
    Assistant(index_dir=index, answer_weights=str(weights)).ingest([corpus])
    rows = F.collect(index, corpus, [questions])
    assistant = Assistant(index_dir=index, answer_weights=str(weights))
    by_id = {q.id: q for q in load_questions(questions, corpus)}
    (row,) = S.collect_snippets(assistant, rows, corpus, by_id, weights)
    assert row["base"] == "q1" and row["snippet"] and row["id"] == "q1~snippets"
    # The answering sentence, SAME_STORY others of its article and one sentence of each other
    # article, each a document of its own: one candidate each, brevity 1, only the answering
    # one labelled.
    assert "Its president Anna Berg said growth was needed." in row["texts"]
    assert len(row["texts"]) == 1 + S.NEGATIVES
    assert "Acme shares rose 3% on merger talk." in row["texts"]  # the story's own
    assert row["labels"].sum() == 1 and row["labels"][row["in_gold_article"]].all()
    assert row["features"].shape == (len(row["texts"]), len(FEATURES))


def test_the_ranker_weighs_rows_and_leaves_out_those_of_weight_zero() -> None:
    rng = np.random.default_rng(0)

    def row(weight: float) -> dict:
        features = rng.normal(size=(4, len(FEATURES)))
        return {"features": features, "labels": np.array([1, 0, 0, 0], bool),
                "answerable": True, "weight": weight}  # fmt: skip

    a, b = row(1.0), row(1.0)
    # A row of weight 2 counts as the row twice (the loss, its L2 term included, is divided by
    # the total weight: with every weight 1, by the number of questions, as before weights).
    doubled = F.fit_ranker([{**a, "weight": 2.0}, {**b, "weight": 2.0}], 0.1)
    np.testing.assert_allclose(doubled[2], F.fit_ranker([a, b, a, b], 0.1)[2], atol=1e-5)
    assert not np.allclose(doubled[2], F.fit_ranker([a, b], 0.1)[2], atol=1e-3)
    ignored = F.fit_ranker([a, {**b, "weight": 0.0}], 0.1)
    alone = F.fit_ranker([a], 0.1)
    np.testing.assert_allclose(ignored[2], alone[2], atol=1e-6)
