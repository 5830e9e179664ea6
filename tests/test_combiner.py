"""The fitted answer weights: loading, refusing what does not fit, and what they compute."""

import json
from pathlib import Path

import numpy as np
import pytest

from askdocs.answer.combiner import QUESTION_FEATURES, Combiner, CombinerError, weights_document
from askdocs.answer.encoder import EncoderError, load_encoder
from askdocs.answer.features import FEATURES
from askdocs.config import Settings


def write_weights(folder: Path, **changes) -> Path:
    """Weights ranking by sim_question alone, answering with probability 1 / (1 + e^-2)."""
    n, m = len(FEATURES), len(QUESTION_FEATURES)
    ranker = ([0.0] * n, [1.0] * n, [float(f == "sim_question") for f in FEATURES])
    data = weights_document(ranker, ([0.0] * m, [1.0] * m, [0.0] * m, 2.0), 0.5, 0.0, 0.5)
    data.update(changes)
    path = folder / "w.json"
    path.write_text(json.dumps(data))
    return path


def test_packaged_weights_load_and_fit_this_version() -> None:
    combiner = Combiner.load("default")
    assert combiner.features == FEATURES and combiner.abstain_features == QUESTION_FEATURES
    assert 0.0 <= combiner.abstain_threshold <= 1.0
    assert len(combiner.digest) == 12


def test_weights_from_a_path_score_rows(tmp_path: Path) -> None:
    combiner = Combiner.load(str(write_weights(tmp_path)))
    rows = np.zeros((2, len(FEATURES)))
    rows[1, FEATURES.index("sim_question")] = 0.5
    assert combiner.scores(rows).tolist() == [0.0, 0.5]
    # bias 2 and no weights: probability 1 / (1 + e^-2)
    assert combiner.answerable(np.zeros(len(QUESTION_FEATURES))) == pytest.approx(0.8808, abs=1e-4)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": 99}, "format 99"),
        (
            {"ranker": {"features": ["sim_question"], "mean": [0], "scale": [1], "weights": [1]}},
            "other features",
        ),
    ],
)
def test_weights_that_do_not_fit_are_refused(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(CombinerError, match=message):
        Combiner.load(str(write_weights(tmp_path, **changes)))


def test_settings_name_missing_weights_and_hash_their_content(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no packaged answer weights named 'nope'"):
        Settings(answer_weights="nope")
    with pytest.raises(ValueError, match="not found"):
        Settings(answer_weights=str(tmp_path / "missing.json"))
    first = Settings(answer_weights=str(write_weights(tmp_path))).settings_hash()
    (tmp_path / "other").mkdir()
    other = write_weights(tmp_path / "other", extra_sentence_per_word=0.9)
    assert Settings(answer_weights=str(other)).settings_hash() != first


def test_encoder_layers_must_be_the_fitted_file(tmp_path: Path) -> None:
    layers = tmp_path / "layers.safetensors"
    with pytest.raises(EncoderError, match="not found"):
        load_encoder(layers, "0" * 64, tmp_path)
    layers.write_bytes(b"changed")
    with pytest.raises(EncoderError, match="not the file"):
        load_encoder(layers, "0" * 64, tmp_path)


def shipped_tuned_model() -> Combiner:
    """The shipped model that has a tuned question encoder: the answering model (the refusing
    model ranks with the plain question vector, so no second tuned pass runs per question)."""
    combiner = Combiner.load("default")
    assert combiner.encoder_layers is None and combiner.answering is not None
    return combiner.answering


@pytest.mark.slow
def test_shipped_question_encoder_is_the_tuned_model_run_in_numpy() -> None:
    """The numpy encoder with the shipped layers computes what torch computes with them, and
    it is not the base model (the layers were really tuned)."""
    import torch
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer

    from askdocs.embeddings import resolve_model_path

    combiner = shipped_tuned_model()
    assert combiner.encoder_layers is not None and combiner.encoder_layers.is_file()
    folder = resolve_model_path(combiner.encoder_base_model)
    numpy_encoder = load_encoder(combiner.encoder_layers, combiner.encoder_sha256, folder)
    model = SentenceTransformer(str(folder), device="cpu")
    base = model.encode(QUESTIONS, normalize_embeddings=True)
    tuned_layers = {k: v.float() for k, v in load_file(str(combiner.encoder_layers)).items()}
    missing, unexpected = model[0].auto_model.load_state_dict(tuned_layers, strict=False)
    assert not unexpected and len(missing) < len(model[0].auto_model.state_dict())
    with torch.no_grad():
        tuned = model.encode(QUESTIONS, normalize_embeddings=True)
    ours = numpy_encoder.encode(QUESTIONS)
    assert np.abs(ours - tuned).max() < 1e-4
    assert (np.sum(ours * base, axis=1) < 0.995).all()


QUESTIONS = [
    "Who leads Sumitomo Mitsui Financial Group, the lender whose shares rose 2.7%?",
    "How many international goals did Mia Hamm score for the US?",
    "In which year was the Duchy of Cornwall founded?",
]


@pytest.mark.slow
def test_tuned_layers_continue_from_the_retrieval_pass_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ranker's question vector, computed from the states the retrieval pass kept below
    the tuned layers, is the tuned model's own vector: one model pass is saved, nothing else."""
    from askdocs import embeddings
    from askdocs.embeddings import LocalEmbeddings, resolve_model_path

    # Questions run in numpy whether or not another test loaded torch; start clean anyway.
    monkeypatch.setattr(embeddings, "_MODELS", {})
    combiner = shipped_tuned_model()
    folder = resolve_model_path(combiner.encoder_base_model)
    first = combiner.encoder_first_layer
    tuned = load_encoder(combiner.encoder_layers, combiner.encoder_sha256, folder, first)
    embedder = LocalEmbeddings(folder)
    embedder.keep_question_layer = first
    for question in QUESTIONS:
        embedder.embed_query(question)  # retrieval's pass
        hidden = embedder.question_hidden(question, first)
        assert hidden is not None
        assert np.abs(tuned.encode_from(hidden, first) - tuned.encode([question])[0]).max() < 1e-6
    assert embedder.question_hidden(QUESTIONS[0], first + 1) is None  # kept for one layer only


def test_the_refusal_rule_is_read_from_the_weights_and_checked(tmp_path: Path) -> None:
    assert Combiner.load(str(write_weights(tmp_path))).refuse_missing == "none"
    data = json.loads(write_weights(tmp_path).read_text())
    data["abstain"]["refuse_missing"] = "units"
    (tmp_path / "units.json").write_text(json.dumps(data))
    assert Combiner.load(str(tmp_path / "units.json")).refuse_missing == "units"
    data["abstain"]["refuse_missing"] = "sometimes"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(CombinerError, match="unknown refuse_missing rule 'sometimes'"):
        Combiner.load(str(tmp_path / "bad.json"))


def test_an_answering_model_is_read_from_its_own_document_and_hashed(tmp_path: Path) -> None:
    # fit_answerer --answering embeds a second fit whose model chooses what to quote once the
    # first has decided not to refuse (Combiner.answering): it is a whole weights document.
    answering = json.loads(write_weights(tmp_path, extra_sentence_per_word=0.02).read_text())
    path = write_weights(tmp_path, answering=answering)
    combiner = Combiner.load(str(path))
    assert combiner.answering is not None and combiner.answering.answering is None
    assert combiner.answering.extra_sentence_per_word == 0.02
    assert combiner.extra_sentence_per_word == 0.5
    before = Settings(answer_weights=str(path)).settings_hash()
    answering["extra_sentence_per_word"] = 0.03
    (tmp_path / "other").mkdir()
    other = write_weights(tmp_path / "other", answering=answering)
    assert Settings(answer_weights=str(other)).settings_hash() != before
    answering["format"] = 99
    (tmp_path / "bad").mkdir()  # a new path: loaded weights are cached by name
    with pytest.raises(CombinerError, match="format 99"):
        Combiner.load(str(write_weights(tmp_path / "bad", answering=answering)))
