"""The answer ranker's question encoder: the bundled MiniLM with its top layers fine-tuned so
that a question lands near the sentence that answers it, not the one that restates it.

Only the question side is tuned: sentences keep the vectors stored at ingest (the retrieval
encoder's), so nothing is re-embedded and one extra question embedding (a few milliseconds in
numpy) is all it costs. The tuned layers ship as a small safetensors file beside the combiner
weights, made by scripts/fit_answerer.py; the rest of the model comes from the bundled one.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from askdocs.numpy_bert import NumpyBert

_LOCK = threading.Lock()
_ENCODERS: dict[tuple[str, str], NumpyBert] = {}


class EncoderError(ValueError):
    """A tuned-layers file that is missing, altered, or does not fit the base model."""


def load_encoder(layers: Path, sha256: str, model_folder: Path, first_layer: int = 0) -> NumpyBert:
    """The model of `model_folder` with the tuned layers of `layers` swapped in (loaded once
    per process); the file must be the one the answer weights were fitted with, and tune
    nothing below `first_layer` (so the base model's states entering it can be shared)."""
    from safetensors.numpy import load_file

    key = (str(layers), str(model_folder))
    with _LOCK:
        if key not in _ENCODERS:
            if not layers.is_file():
                raise EncoderError(f"question encoder layers not found: {layers}")
            if hashlib.sha256(layers.read_bytes()).hexdigest() != sha256:
                raise EncoderError(f"{layers} is not the file its answer weights were fitted with")
            tuned = load_file(str(layers))
            below = [n for n in tuned if not _layer_at_least(n, first_layer)]
            if below:
                raise EncoderError(f"{layers} tunes {below[0]}, below layer {first_layer}")
            try:
                encoder = NumpyBert.from_folder(model_folder, replace=tuned)
            except ValueError as exc:
                raise EncoderError(str(exc)) from exc
            if encoder is None:
                raise EncoderError(f"{model_folder} is not a plain BERT sentence model")
            _ENCODERS[key] = encoder
        return _ENCODERS[key]


def _layer_at_least(name: str, first: int) -> bool:
    parts = name.split(".")
    return "layer" in parts and int(parts[parts.index("layer") + 1]) >= first
