"""A GGUF model run in-process by llama-cpp-python, as a LangChain chat model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

_LLAMA_MODELS: dict[tuple[str, int], Any] = {}
_LLAMA_LOCK = threading.Lock()


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
