"""A BERT sentence encoder in plain numpy, for questions.

A question is a dozen word pieces: its forward pass takes a few milliseconds in numpy, while
importing torch and sentence-transformers to run it takes five seconds or more. So `askdocs ask`
and the chat page embed questions with this, and only ingest (thousands of sentences, where
torch's kernels pay off) loads torch. It reads the same local files sentence-transformers does
and computes the same function: BERT, mean of the token vectors, unit length.

Only the plain layout is accepted (BERT with absolute positions and GELU, mean pooling,
normalisation); any other model folder returns None and is run by sentence-transformers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MEAN_POOLING_MODULES = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]


class NumpyBert:
    """Unit-length sentence vectors from a local BERT sentence-transformers folder.

    >>> encoder = NumpyBert.from_folder(resolve_model_path("all-MiniLM-L6-v2"))  # doctest: +SKIP
    >>> encoder.encode(["Who did Rubio accuse?"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(self, weights: dict[str, np.ndarray], config: dict[str, Any], tokenizer: Any):
        self.tokenizer = tokenizer
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.layers = int(config["num_hidden_layers"])
        # Dense weights stored transposed and contiguous: x @ W beats x @ W.T on small inputs.
        self.w = {
            name: np.ascontiguousarray(value.T) if value.ndim == 2 and ".layer." in name else value
            for name, value in weights.items()
        }

    @classmethod
    def from_folder(cls, folder: Path) -> NumpyBert | None:
        """The encoder for this model folder, or None if its layout is not the plain one."""
        try:
            config = json.loads((folder / "config.json").read_text())
            modules = json.loads((folder / "modules.json").read_text())
            pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
            limit = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        except (OSError, ValueError, KeyError):
            return None
        plain = (
            config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and [m.get("type") for m in modules] == MEAN_POOLING_MODULES
            and pooling.get("pooling_mode_mean_tokens")
            and not any(
                pooling.get(mode)
                for mode in (
                    "pooling_mode_cls_token",
                    "pooling_mode_max_tokens",
                    "pooling_mode_mean_sqrt_len_tokens",
                )
            )
            and (folder / "model.safetensors").is_file()
            and (folder / "tokenizer.json").is_file()
        )
        if not plain:
            return None
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        weights = load_file(str(folder / "model.safetensors"))
        weights = {name.removeprefix("bert."): value for name, value in weights.items()}
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(int(limit))
        tokenizer.no_padding()
        return cls(weights, config, tokenizer)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text (float32)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), longest), dtype=np.int64)
        mask = np.zeros((len(encodings), longest), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1.0
        hidden = self._forward(ids, mask)
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        # Padding gets a large negative score so no real token attends to it.
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        width = x.shape[-1] // self.heads
        for n in range(self.layers):
            p = f"encoder.layer.{n}."
            q, k, v = (
                self._dense(x, p + f"attention.self.{name}")
                .reshape(batch, length, self.heads, width)
                .transpose(0, 2, 1, 3)
                for name in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(width)) + blocked
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attention = scores / scores.sum(axis=-1, keepdims=True)
            context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = self._norm(x + self._dense(context, p + "attention.output.dense"),
                           p + "attention.output.LayerNorm")  # fmt: skip
            inner = _gelu(self._dense(x, p + "intermediate.dense"))
            x = self._norm(x + self._dense(inner, p + "output.dense"), p + "output.LayerNorm")
        return x

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        flat = x.reshape(-1, x.shape[-1]) @ self.w[name + ".weight"] + self.w[name + ".bias"]
        return flat.reshape(*x.shape[:-1], -1)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        scaled = (x - mean) / np.sqrt(variance + np.float32(self.eps))
        return scaled * self.w[name + ".weight"] + self.w[name + ".bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU with the exact error function (as BERT's "gelu"), via Abramowitz-Stegun 7.1.26
    (absolute error below 1.5e-7: far under float32 rounding of the activations)."""
    z = np.abs(x) / np.float32(np.sqrt(2.0))
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = np.zeros_like(t)
    for coefficient in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly = (poly + np.float32(coefficient)) * t
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)
