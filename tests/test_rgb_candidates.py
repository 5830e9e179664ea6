"""scripts/rgb_candidates.py: where the answering sentence ranks on RGB, and why."""

from __future__ import annotations

import doctest
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import rgb_candidates as R

from askdocs.rgb import passages_index
from conftest import FakeEmbeddings


def test_its_doctests() -> None:
    assert doctest.testmod(R).failed == 0


def test_rank_counts_every_gold_group() -> None:
    # Both groups of a two-part answer must be in one candidate for it to hold the answer.
    texts = ["Halep won.", "Halep won in 2019.", "It was 2019."]
    order, rank = R.question_ranks(np.array([3.0, 2.0, 1.0]), texts, [["Halep"], ["2019"]])
    assert order == [0, 1, 2] and rank == 1
    assert R.question_ranks(np.array([1.0]), ["Nobody."], "Halep")[1] is None


def test_the_ranked_candidates_and_their_contributions_add_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The answerer's own ranking (what `answer` quotes from) and the per-feature contributions
    # the script subtracts: they must add up to the very scores the candidates are ranked by.
    monkeypatch.setattr("askdocs.api.make_embedder", lambda settings: FakeEmbeddings())
    texts = ["Super Bowl 2021 was played in Tampa, Florida.", "Bread rises slowly in the cold."]
    assistant = passages_index(tmp_path, 1, texts)
    pipeline = assistant.pipeline
    question = "Where was the Super Bowl 2021 played?"
    scored, model = pipeline.extractive.ranked(question, pipeline.retrieve(question, 2))
    assert len(scored.pool) == 2
    for row, score in zip(scored.features, scored.scores, strict=True):
        if score > -1e5:  # not ruled out by a hard constraint
            assert model.contributions(row).sum() == pytest.approx(score)
    assert model is (pipeline.extractive.combiner.answering or pipeline.extractive.combiner)


def test_the_script_writes_its_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("askdocs.api.make_embedder", lambda settings: FakeEmbeddings())
    rgb = tmp_path / "rgb.jsonl"
    rgb.write_text(json.dumps({
        "id": 0, "query": "Where was the Super Bowl 2021 played?", "answer": "Tampa, Florida",
        "positive": ["Super Bowl 2021 was played in Tampa, Florida."],
        "negative": ["Knitting needs patience and wool.", "Bread rises slowly in the cold."],
    }) + "\n")  # fmt: skip
    out, pools = tmp_path / "ranks.json", tmp_path / "pools.pkl"
    monkeypatch.setattr(
        sys, "argv", ["rgb_candidates", str(rgb), "--noise-ratio", "0.5", "--passages", "2",
                      "--out", str(out), "--scores", str(pools)],
    )  # fmt: skip
    R.main()
    report = json.loads(out.read_text())
    assert report["summary"]["questions"] == 1 and report["summary"]["reach"] == 1.0
    (row,) = report["rows"]
    assert row["holding"] == "Super Bowl 2021 was played in Tampa, Florida."
    assert row["candidates"] == 2
    # --scores: the pool as ranked, for scripts/reader_experiment.py to rerank.
    (pool,) = pickle.loads(pools.read_bytes())
    assert pool["query"] == "Where was the Super Bowl 2021 played?"
    assert len(pool["texts"]) == len(pool["scores"]) == len(pool["holds"]) == 2
    holding = pool["texts"].index("Super Bowl 2021 was played in Tampa, Florida.")
    assert pool["holds"].tolist() == [n == holding for n in range(2)]
    assert R.question_ranks(pool["scores"], pool["texts"], "Tampa, Florida")[1] == row["rank"]


def test_without_takes_out_only_the_named_contributions() -> None:
    contributions = np.array([[2.0, 1.0, 0.5], [0.0, 1.0, 0.5]])
    scores = contributions.sum(axis=1)
    assert R.without(scores, contributions, [0]).tolist() == [1.5, 1.5]
    assert R.without(scores, contributions, []) is scores
    # A candidate a hard constraint ruled out stays far below the others.
    ruled_out = np.array([-1e6, 1.5])
    assert R.without(ruled_out, contributions, [0, 1]).argmax() == 1


def test_an_unknown_feature_to_leave_out_is_an_argument_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        sys, "argv", ["rgb_candidates", str(tmp_path / "none.jsonl"), "--without", "no_such"]
    )
    with pytest.raises(SystemExit) as exc:
        R.main()
    assert exc.value.code == 2
