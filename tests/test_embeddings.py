"""Questions are embedded in numpy with the same weights sentence-transformers uses, and give
the same vectors; torch is only loaded when something large needs it."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from askdocs.embeddings import LocalEmbeddings, resolve_model_path
from askdocs.numpy_bert import NumpyBert, _gelu, pool_spans
from conftest import REPO

TEXTS = [
    "Who did Rubio accuse?",
    "",
    "How much did the company pay, in £ or $, for 3.5% of the shares?",
    "Ünïcödé — naïve café, 東京 and 🚀 in one sentence.",
    "word " * 400 + "end",  # past the model's 256-token limit: cut off the same way
    "Short.",
]


def test_gelu_matches_the_error_function() -> None:
    x = np.linspace(-8, 8, 2001, dtype=np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(float)])
    assert np.abs(_gelu(x) - exact).max() < 1e-6
    # computed in place in buffers of its own: the activations it is given stay as they were
    assert (x == np.linspace(-8, 8, 2001, dtype=np.float32)).all()


def test_other_model_layouts_are_left_to_sentence_transformers(tmp_path: Path) -> None:
    model = resolve_model_path("all-MiniLM-L6-v2")
    copy = tmp_path / "model"
    shutil.copytree(model, copy, ignore=shutil.ignore_patterns("model.safetensors"))
    (copy / "model.safetensors").symlink_to(model / "model.safetensors")
    assert NumpyBert.from_folder(copy) is not None
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    assert NumpyBert.from_folder(copy) is None
    (copy / "config.json").write_text(json.dumps(config))
    pooling = copy / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert NumpyBert.from_folder(copy) is None
    assert NumpyBert.from_folder(tmp_path / "missing") is None


@pytest.mark.slow
def test_numpy_vectors_equal_sentence_transformers() -> None:
    from sentence_transformers import SentenceTransformer

    model = resolve_model_path("all-MiniLM-L6-v2")
    numpy_vectors = NumpyBert.from_folder(model).encode(TEXTS)  # type: ignore[union-attr]
    torch_vectors = SentenceTransformer(str(model), device="cpu").encode(
        TEXTS, normalize_embeddings=True
    )
    assert np.abs(numpy_vectors - torch_vectors).max() < 1e-5
    one_by_one = np.vstack([NumpyBert.from_folder(model).encode([t]) for t in TEXTS])  # type: ignore[union-attr]
    assert np.abs(one_by_one - numpy_vectors).max() < 1e-5  # padding changes nothing


def _fresh_python(script: str) -> str:
    """What `script` prints in a new interpreter (offline, this checkout's askdocs): which
    modules a process loads can only be seen from one that has loaded nothing yet."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    ).stdout


@pytest.mark.slow
def test_a_question_never_imports_torch(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from askdocs.embeddings import LocalEmbeddings, resolve_model_path\n"
        "e = LocalEmbeddings(resolve_model_path('all-MiniLM-L6-v2'))\n"
        "assert len(e.embed_query('Who did Rubio accuse?')) == 384\n"
        "assert len(e.embed_documents(['a claim', 'another'])) == 2\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    assert _fresh_python(script).split() == ["False", "False"]


@pytest.mark.slow
def test_ingest_and_an_extractive_answer_never_load_langchain_tracing(tmp_path: Path) -> None:
    # langchain_core's retriever and chat-model classes import langsmith's tracing (about 1 s
    # of a new process's start on 2 cores); only LLM backends and `as_retriever` need them.
    script = (
        "import sys\n"
        "from askdocs.api import Assistant\n"
        f"a = Assistant(index_dir={str(tmp_path / 'index')!r})\n"
        f"a.ingest([{str(REPO / 'tests' / 'data')!r}])\n"
        "assert a.ask('Who won the Northfield chess championship?').short_answer\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('langsmith')}),"
        " 'langchain_core.retrievers' in sys.modules, 'langchain_core.tracers' in sys.modules)\n"
    )
    assert _fresh_python(script).split() == ["[]", "False", "False"]


@pytest.mark.slow
def test_once_torch_holds_the_model_batches_go_through_it_and_questions_stay_in_numpy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A question in numpy takes about half torch's time and keeps the hidden states the
    # answerer continues from, so an ingest in the same process must not move questions over.
    embedder = LocalEmbeddings(resolve_model_path("all-MiniLM-L6-v2"))
    embedder.embed_documents(["x"] * 100)  # a large batch loads torch
    assert embedder._small_batch_encoder() is None and embedder._numpy_encoder() is not None

    def no_torch(text: str) -> None:
        raise AssertionError("a question went through torch")

    monkeypatch.setattr(embedder, "_torch_token_vectors", no_torch)
    embedder.keep_question_layer = 4  # as the answerer's question encoder asks
    question = "What did the council approve?"
    in_numpy = np.asarray(embedder.embed_query(question))
    in_torch = np.asarray(embedder.embed_documents([question])[0])  # a batch: torch
    assert np.abs(in_numpy - in_torch).max() < 1e-5
    assert embedder.question_hidden(question, 4) is not None  # kept for the answerer


@pytest.mark.slow
def test_question_parts_are_the_same_before_and_after_torch_loads() -> None:
    """The focus and context vectors the answer ranker was fitted with (pooled from the
    question's own token vectors) come out the same from numpy and, once an ingest has loaded
    torch in the process, from torch."""
    question = "Who leads Acme Bank, the lender whose shares rose 2.7% on merger talk?"
    parts = [[(0, 19)], [(21, len(question) - 1)], [(0, 3), (21, 31)]]
    embedder = LocalEmbeddings(resolve_model_path("all-MiniLM-L6-v2"))
    whole, pooled = embedder.embed_query_parts(question, parts)
    assert np.abs(whole - np.asarray(embedder.embed_query(question))).max() < 1e-6
    assert pooled.shape == (3, 384) and (pooled @ whole < 0.999).all()  # really the parts
    embedder.embed_documents(["x"] * 100)  # a large batch loads torch
    # A device or layout numpy does not cover still embeds questions in torch: the same parts.
    tokens, offsets = embedder._torch_token_vectors(question)
    whole_torch, pooled_torch = pool_spans(tokens, offsets, parts)
    assert np.abs(whole_torch - whole).max() < 1e-5
    assert np.abs(pooled_torch - pooled).max() < 1e-5
