"""The answer-backend factory: the only module that knows concrete chat-model classes."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from askdocs.config import Settings

BACKENDS = "extractive, llamacpp:/path/model.gguf, ollama:MODEL, openai:MODEL"

_LLAMA_MODELS: dict[tuple[str, int], Any] = {}
_LLAMA_LOCK = threading.Lock()


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


class LlamaCppChatModel(BaseChatModel):
    """A GGUF model run in-process by llama-cpp-python, loaded once per process.

    >>> model = LlamaCppChatModel(model_path="SmolLM2-135M-Instruct.Q4_1.gguf")  # doctest: +SKIP
    >>> model.invoke("Say hi").content  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    n_ctx: int = 4096
    max_tokens: int = 256
    temperature: float = 0.0
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    def _llama(self) -> Any:
        key = (self.model_path, self.n_ctx)
        with _LLAMA_LOCK:
            if key not in _LLAMA_MODELS:
                from llama_cpp import Llama

                _LLAMA_MODELS[key] = Llama(
                    model_path=self.model_path, n_ctx=self.n_ctx, verbose=False, seed=0
                )
            return _LLAMA_MODELS[key]

    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        roles = {"human": "user", "ai": "assistant", "system": "system"}
        return {
            "messages": [
                {"role": roles.get(m.type, "user"), "content": str(m.content)} for m in messages
            ],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop": stop or None,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # One llama.cpp context is not safe to share between threads.
        with self._lock:
            reply = self._llama().create_chat_completion(**self._request(messages, stop))
        text = reply["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            for part in self._llama().create_chat_completion(
                **self._request(messages, stop), stream=True
            ):
                token = part["choices"][0].get("delta", {}).get("content") or ""
                if token:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
                    if run_manager:
                        run_manager.on_llm_new_token(token, chunk=chunk)
                    yield chunk
