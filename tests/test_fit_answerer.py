"""The fitting script's cross-validated measures (scripts/fit_answerer.py): what it reports as
"cites the gold evidence" must count as `askdocs eval` counts citation recall."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import fit_answerer as F

from askdocs.answer.question import analyse


def _row(evidence: list[list[int]], count: int, answerable: bool = True) -> dict:
    texts = ["Acme said Anna Berg leads it.", "Shares rose.", "Berg joined in 2001."]
    n = len(texts)
    return {
        "id": "q1",
        "type": "who",
        "answerable": answerable,
        "answers": ["Anna Berg"] if answerable else [],
        "analysis": analyse("Who leads Acme?"),
        "texts": texts,
        "features": np.zeros((n, len(F.FEATURES))),
        "labels": np.asarray([True, False, False]),
        "common": frozenset(),
        "evidence": evidence,
        "evidence_count": count,
    }


def test_cited_evidence_is_the_share_of_gold_strings_the_answer_overlaps() -> None:
    row = _row([[0], [], [0, 1]], 2)
    assert F.cited_evidence(row, [0]) == 0.5
    assert F.cited_evidence(row, [0, 2]) == 1.0
    assert F.cited_evidence(row, [1]) == 0.0
    # Unanswerable, without evidence, or collected before evidence was kept: not counted.
    assert F.cited_evidence(_row([[0], [], []], 1, answerable=False), [0]) is None
    assert F.cited_evidence(_row([[], [], []], 0), [0]) is None
    assert F.cited_evidence({"answerable": True}, [0]) is None


def test_a_refused_answer_cites_nothing_and_the_summary_averages_answerable_questions() -> None:
    row = _row([[0], [], []], 1)
    scores = np.array([2.0, 0.0, -1.0])
    answered = F.outcome(row, (scores, F.softmax(scores)), ratio=1.01)
    refused = F.outcome(row, (scores, F.softmax(scores)), ratio=1.01, threshold=2.0)
    assert (answered["abstained"], answered["cites"]) == (False, 1.0)
    assert (refused["abstained"], refused["cites"]) == (True, 0.0)
    assert F.summarise([answered, refused])["cites_gold_evidence"] == 0.5
    # What it would have cited is kept for scripts/cv_compose.py, where another fit refuses.
    assert (answered["cites_answered"], refused["cites_answered"]) == (1.0, 1.0)


def test_an_outcome_record_keeps_what_the_summary_and_the_composition_read() -> None:
    row = {**_row([[0], [], []], 1), "file": "dev.jsonl"}
    scores = np.array([2.0, 0.0, -1.0])
    record = F.outcome_record(F.outcome(row, (scores, F.softmax(scores)), ratio=1.01))
    assert record["row"] == {"id": "q1", "file": "dev.jsonl", "type": "who", "answerable": True}
    assert set(record) == {"row", *F.OUTCOME_KEYS}
    assert F.summarise([record])["answer_contains"] == 1.0


def test_which_adds_name_counts_which_questions_whose_answering_sentences_name_something() -> None:
    def row(question: str, texts: list[str], labels: list[bool], answerable: bool = True):
        return {
            "analysis": analyse(question),
            "texts": texts,
            "labels": np.asarray(labels),
            "answerable": answerable,
            # every feature present: the sentence's own names decide
            "features": np.ones((len(texts), len(F.FEATURES))),
        }

    rows = [
        row("Which firm won?", ["Acme won it.", "Acme did."], [True, True]),
        row("Which bone broke?", ["His left forearm broke.", "X-rays showed it."], [True, False]),
        row("Which club signed him?", ["He signed."], [False]),
        row("Which judge ruled?", ["A judge ruled."], [False], answerable=False),
        row("What did he say?", ["He said no."], [True]),
    ]
    assert F.which_adds_name(rows) == {
        "answerable": 3,
        "answer_among_candidates": 2,
        "every_answering_sentence_adds_a_name": 1,
        "some_answering_sentence_adds_a_name": 1,
    }


def test_the_synthetic_pre_training_is_kept_apart_from_the_fold_split() -> None:
    # One pre-trained encoder serves every --seed (the pre-training sees no question file), so
    # its caches are named by the synthetic seed, the count and the rate, never by --seed.
    questions, model = F.synthetic_caches(Path("/x/rows.pkl"), 6000, 12, 5e-05)
    assert (questions.parent, model.parent) == (Path("/x"), Path("/x"))
    assert questions.name == "rows-synthetic-6000-12.pkl"
    assert model.name == "rows-synthetic-6000-12-base-5e-05.pt"
    assert F.synthetic_caches(Path("/x/rows.pkl"), 6000, 13, 5e-05)[1] != model
    assert F.synthetic_caches(Path("/x/rows.pkl"), 6000, 12, 1e-04)[1] != model
    # More questions an article, or more pre-training passes, are other caches; the defaults
    # keep the names the shipped fit's caches already have.
    more = F.synthetic_caches(Path("/x/rows.pkl"), 6000, 12, 5e-05, per_article=6)
    assert more[0] != questions and more[1] != model
    longer = F.synthetic_caches(Path("/x/rows.pkl"), 6000, 12, 5e-05, epochs=2)
    assert longer[0] == questions and longer[1] != model
    # Questions made from another folder (--synthetic-corpus) are other questions and another
    # pre-trained encoder, whatever the folder is called.
    elsewhere = F.synthetic_caches(
        Path("/x/rows.pkl"), 6000, 12, 5e-05, source=F.source_tag(Path("/a/no-sport"))
    )
    assert elsewhere[0] != questions and elsewhere[1] != model
    assert F.source_tag(Path("/a/no-sport")) != F.source_tag(Path("/b/no-sport"))


def test_a_soup_averages_the_fits_weights_and_keeps_the_first_fits_structure() -> None:
    # fit_answerer --soup N makes the encoder the mean of N fits (question_encoder.tune; measured,
    # not shipped): each weight is the mean of theirs, and nothing else of the model moves.
    torch = pytest.importorskip("torch")
    import question_encoder as QE

    fits = []
    for value in (1.0, 2.0, 6.0):
        layer = torch.nn.Linear(2, 2)
        with torch.no_grad():
            layer.weight.fill_(value)
            layer.bias.fill_(-value)
        fits.append(layer)
    first = fits[0]
    soup = QE.averaged(fits)
    assert soup is first and not soup.training
    assert torch.equal(soup.weight, torch.full((2, 2), 3.0))
    assert torch.equal(soup.bias, torch.full((2,), -3.0))


def test_pre_training_on_a_folder_that_gives_no_questions_stops_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An empty --synthetic-corpus (or one of linked folders, which rglob does not follow) once
    # "pre-trained" on nothing and went on as if it had: it must stop and say why instead.
    from types import SimpleNamespace

    monkeypatch.setattr(F.QE, "base_model", lambda: SimpleNamespace(encode=None))
    monkeypatch.setattr(F.SQ, "synthetic_rows", lambda *a, **k: [])
    args = SimpleNamespace(
        synthetic=6000,
        synthetic_seed=12,
        synthetic_per_article=3,
        synthetic_epochs=1,
        synthetic_corpus=tmp_path,
        corpus=tmp_path,
        cache=None,
        lr=5e-05,
    )
    with pytest.raises(SystemExit, match="no synthetic questions from"):
        F.pretrained_base(args, 0.0)


def test_the_held_out_scores_are_kept_with_what_a_reranker_needs() -> None:
    # --oof-scores: scripts/reader_experiment.py reranks a question's held-out scores and
    # reads its texts and labels; a question without candidates keeps None, not a crash.
    rows = [{**_row([[0], [], []], 1), "question": "Who leads Acme?"}]
    rows.append({**rows[0], "id": "q2"})
    scores = np.array([0.2, 1.5, -3.0])
    kept = F.oof_record(rows, [3, 1], {0: (scores, np.ones(3))})
    assert [k["id"] for k in kept] == ["q1", "q2"] and [k["fold"] for k in kept] == [3, 1]
    assert kept[0]["scores"] is scores and kept[1]["scores"] is None
    assert kept[0]["texts"] == rows[0]["texts"] and kept[0]["question"] == "Who leads Acme?"
    assert kept[0]["labels"].tolist() == [True, False, False]
    assert "features" not in kept[0]  # the big matrices stay out of the file
