"""The answer-backend factory: the only module that knows concrete chat-model classes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from askdocs.config import Settings

if TYPE_CHECKING:  # LangChain's model classes load its tracing (~1 s); only a backend needs it
    from langchain_core.language_models import BaseChatModel

BACKENDS = "extractive, llamacpp:/path/model.gguf, ollama:MODEL, openai:MODEL"


class LLMError(RuntimeError):
    """The answer backend is unknown, not installed, unreachable or failing."""


def parse_backend(name: str) -> tuple[str, str]:
    """'openai:gpt-4o-mini' -> ('openai', 'gpt-4o-mini'); raises for anything unknown."""
    if name == "extractive":
        return "extractive", ""
    kind, _, target = name.partition(":")
    if kind not in ("llamacpp", "ollama", "openai") or not target:
        raise LLMError(f"unknown answer backend {name!r}; valid: {BACKENDS}")
    return kind, target


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model for settings.llm, or None for the extractive answerer."""
    kind, target = parse_backend(settings.llm)
    if kind == "extractive":
        return None
    if kind == "llamacpp":
        path = Path(target).expanduser()
        if not path.is_file():
            raise LLMError(f"no GGUF model file at {path}")
        _require("llama_cpp", "llamacpp")
        from askdocs.llms.llamacpp import LlamaCppChatModel

        return LlamaCppChatModel(
            model_path=str(path),
            n_ctx=settings.llm_context,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
        )
    if kind == "ollama":
        _require("langchain_ollama", "ollama")
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=target,
            base_url=settings.ollama_url,
            temperature=settings.llm_temperature,
            num_predict=settings.llm_max_tokens,
            client_kwargs={"timeout": settings.llm_timeout},
        )
    _require("langchain_openai", "openai")
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=target,
        base_url=settings.llm_base_url,
        # Local OpenAI-compatible servers accept any key; hosted ones need OPENAI_API_KEY.
        api_key=os.environ.get("OPENAI_API_KEY") or "not-needed",
        timeout=settings.llm_timeout,
        max_retries=settings.llm_retries,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
    )


def _require(module: str, extra: str) -> None:
    try:
        __import__(module)
    except ImportError as exc:
        raise LLMError(
            f'the {extra} backend needs an extra package: pip install "askdocs[{extra}]"'
        ) from exc
