"""Fine-tune the top layers of the bundled MiniLM as the answer ranker's question encoder.

Used by fit_answerer.py. Only the question side is trained: each question's candidate
sentences keep their stored vectors, and a listwise softmax loss over cos(question, sentence)
/ TEMPERATURE moves the question towards its answering sentences. Deterministic for a seed on
the CPU (torch's default kernels, two threads).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np

TEMPERATURE = 0.05
"""Softmax temperature over cosines: the bi-encoder's own training scale."""
BATCH = 8
TUNED_LAYERS = (4, 5)
"""Only the top two of the six layers change: enough to move questions (cross-validated in
the session note), and the file that ships is 7 MB instead of the whole model's 90."""


def base_model():
    import torch
    from sentence_transformers import SentenceTransformer

    from askdocs.embeddings import resolve_model_path

    torch.set_num_threads(2)
    return SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu")


def _embed(model, texts: list[str]):
    return model(model.tokenize(texts))["sentence_embedding"]


SOUP_SEED_STEP = 7919
"""Seed offset between the copies of a soup: far above the seeds fit_answerer's fold fits use
(its --seed plus less than ten times the number of folds), so no copy repeats another fit's seed."""


def tune(base, rows: list[dict], seed: int, epochs: int, lr: float, soup: int = 1):
    """A copy of `base` whose TUNED_LAYERS are trained on these rows' questions; with `soup` >
    1, that many copies tuned with other seeds (dropout and batch order), their weights
    averaged (a "model soup", Wortsman et al. 2022), which costs nothing at question time.
    Measured on eight fold splits with --soup 3 it gains nothing (README), so one fit ships."""
    if soup > 1:
        return averaged(
            [tune(base, rows, seed + SOUP_SEED_STEP * k, epochs, lr) for k in range(soup)]
        )
    import torch

    torch.manual_seed(seed)
    model = copy.deepcopy(base)
    prefixes = tuple(f"encoder.layer.{i}." for i in TUNED_LAYERS)
    trained = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad = any(p in name for p in prefixes)
        if parameter.requires_grad:
            trained.append(parameter)
    optimiser = torch.optim.AdamW(trained, lr=lr)
    usable = [r for r in rows if r["answerable"] and r["labels"].any()]
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        model.train()
        order = rng.permutation(len(usable))
        for start in range(0, len(usable), BATCH):
            batch = [usable[i] for i in order[start : start + BATCH]]
            questions = _embed(model, [r["question"] for r in batch])
            loss = 0.0
            for row, q in zip(batch, questions, strict=True):
                scores = torch.from_numpy(row["vectors"].astype(np.float32)) @ q / TEMPERATURE
                gold = torch.from_numpy(row["labels"].astype(np.float32))
                loss = loss - torch.logsumexp(scores + torch.log(gold + 1e-12), 0)
                loss = loss + torch.logsumexp(scores, 0)
            (loss / len(batch)).backward()
            optimiser.step()
            optimiser.zero_grad()
    model.eval()
    return model


def averaged(models: list):
    """The first model with every weight replaced by the mean of the models' weights."""
    states = [m.state_dict() for m in models]
    out = models[0]
    out.load_state_dict(
        {
            name: (sum(s[name].float() for s in states) / len(states)).to(value.dtype)
            if value.is_floating_point()
            else value
            for name, value in states[0].items()
        }
    )
    out.eval()
    return out


def question_vectors(model, rows: list[dict]) -> list[np.ndarray]:
    """Each row's question as the tuned encoder embeds it (unit length)."""
    import torch

    with torch.no_grad():
        return [_embed(model, [row["question"]])[0].numpy() for row in rows]


def cosines(row: dict, question: np.ndarray) -> np.ndarray:
    """cos(question vector, each stored candidate vector of the row).

    >>> row = {"vectors": np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float16)}
    >>> [round(float(c), 2) for c in cosines(row, np.array([0.6, 0.8], dtype=np.float32))]
    [0.6, 0.8]
    """
    vectors = row["vectors"]
    return vectors.astype(np.float32) @ question if len(vectors) else np.zeros(0)


def save_layers(model, path: Path) -> str:
    """Write the tuned layers (float16, the base model's weight names); return the sha256."""
    from safetensors.numpy import save_file

    prefixes = tuple(f"encoder.layer.{i}." for i in TUNED_LAYERS)
    state = model[0].auto_model.state_dict()
    tensors = {
        name: value.detach().numpy().astype(np.float16)
        for name, value in sorted(state.items())
        if name.startswith(prefixes)
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()
