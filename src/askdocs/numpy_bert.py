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
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_WEIGHTS_LOCK = threading.Lock()
_FOLDER_WEIGHTS: dict[str, dict[str, np.ndarray]] = {}


def prepared(weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Weights as the forward pass reads them: dense layers transposed and contiguous (x @ W
    beats x @ W.T on small inputs)."""
    return {
        name: np.ascontiguousarray(value.T) if value.ndim == 2 and ".layer." in name else value
        for name, value in weights.items()
    }


def _folder_weights(folder: Path) -> dict[str, np.ndarray]:
    """A model folder's prepared weights, read once per process: the question embedder and
    the tuned question encoder (which swaps in its top layers) share them (0.2 s and 90 MB
    each otherwise)."""
    from safetensors.numpy import load_file

    key = str(folder.resolve())
    with _WEIGHTS_LOCK:
        if key not in _FOLDER_WEIGHTS:
            weights = load_file(str(folder / "model.safetensors"))
            _FOLDER_WEIGHTS[key] = prepared(
                {name.removeprefix("bert."): value for name, value in weights.items()}
            )
        return _FOLDER_WEIGHTS[key]


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
        self.w = weights  # as `prepared` returns them

    @classmethod
    def from_folder(
        cls, folder: Path, replace: Mapping[str, np.ndarray] | None = None
    ) -> NumpyBert | None:
        """The encoder for this model folder, or None if its layout is not the plain one;
        `replace` swaps in some weights by name (fine-tuned layers over the folder's)."""
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
        from tokenizers import Tokenizer

        base = _folder_weights(folder)
        weights = dict(base)  # the base arrays are shared between encoders, never written to
        for name, value in (replace or {}).items():
            swapped = prepared({name: value})[name]
            if name not in base or base[name].shape != swapped.shape:
                raise ValueError(f"{folder}: no weight {name} of shape {value.shape} to replace")
            weights[name] = swapped.astype(base[name].dtype)
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

    def token_vectors(
        self, text: str, keep_layer: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The final token vectors of one text, each token's character offsets, and (with
        `keep_layer`) the hidden states that enter that layer, for `encode_from`."""
        encoding = self.tokenizer.encode(text)
        ids = np.asarray([encoding.ids], dtype=np.int64)
        kept: list[np.ndarray] = []
        tokens = self._forward(ids, np.ones(ids.shape, dtype=np.float32), keep_layer, kept)[0]
        return tokens, np.asarray(encoding.offsets).reshape(-1, 2), kept[0] if kept else None

    def encode_from(self, hidden: np.ndarray, first_layer: int) -> np.ndarray:
        """The unit vector of one text whose hidden states entering `first_layer` are given
        (computed by a model whose layers below it are this one's)."""
        mask = np.ones(hidden.shape[:2], dtype=np.float32)
        tokens = self._layers(hidden, mask, first_layer)[0]
        pooled = tokens.mean(axis=0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    def _forward(
        self,
        ids: np.ndarray,
        mask: np.ndarray,
        keep_layer: int | None = None,
        kept: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        w = self.w
        length = ids.shape[1]
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        return self._layers(x, mask, 0, keep_layer, kept)

    def _layers(
        self,
        x: np.ndarray,
        mask: np.ndarray,
        first: int,
        keep_layer: int | None = None,
        kept: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        batch, length = x.shape[:2]
        # Padding gets a large negative score so no real token attends to it.
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        width = x.shape[-1] // self.heads
        for n in range(first, self.layers):
            if n == keep_layer and kept is not None:
                kept.append(x)
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


_ERF_P = np.float32(0.3275911)
_ERF_COEFFICIENTS = tuple(
    np.float32(c) for c in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)
_INVERSE_SQRT2 = np.float32(1.0 / np.sqrt(2.0))


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU with the exact error function (as BERT's "gelu"), via Abramowitz-Stegun 7.1.26
    (absolute error below 1.5e-7: far under float32 rounding of the activations). Computed in
    place in two float32 buffers: a question's 30 x 1536 activations went through a dozen
    temporaries before (0.30 against 0.23 ms a call, eight calls a question)."""
    z = np.abs(x)
    z *= _INVERSE_SQRT2
    t = z * _ERF_P
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * _ERF_COEFFICIENTS[0]
    for coefficient in _ERF_COEFFICIENTS[1:]:
        poly += coefficient
        poly *= t
    z *= z
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z
    np.subtract(1.0, poly, out=poly)  # erf(|x| / sqrt 2)
    poly *= np.sign(x)
    poly += 1.0
    poly *= x
    poly *= 0.5
    return poly.astype(np.float32, copy=False)


def pool_spans(
    tokens: np.ndarray, offsets: np.ndarray, parts: Sequence[Sequence[tuple[int, int]]]
) -> tuple[np.ndarray, np.ndarray]:
    """The text's unit vector (mean of all its tokens, as `encode`) and one per part, a part
    being some character spans of the text: the mean of the token vectors inside them, read in
    the context of the whole text. A part holding no token gets the whole text's vector."""
    whole = tokens.mean(axis=0)
    real = offsets[:, 1] > offsets[:, 0]  # special tokens have empty offsets
    rows = []
    for spans in parts:
        inside = np.zeros(len(tokens), dtype=bool)
        for start, end in spans:
            inside |= real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
        rows.append(tokens[inside].mean(axis=0) if inside.any() else whole)
    unit = [v / max(float(np.linalg.norm(v)), 1e-12) for v in (whole, *rows)]
    return unit[0].astype(np.float32), np.asarray(unit[1:], dtype=np.float32).reshape(
        len(rows), tokens.shape[1]
    )
