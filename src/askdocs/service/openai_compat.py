"""The OpenAI chat-completions shapes: the cited answer as the assistant message.

Clients that show only text get the citations as a sources block after the answer; clients
that read JSON get them in the extra `citations` field (exact offsets and quotes).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from askdocs.types import Answer

MODEL = "askdocs"
SOURCES_HEADING = "\n\nSources:\n"
"""Starts the sources block; stripped from earlier assistant turns sent back as history."""


def model_ids(backend: str) -> list[str]:
    """`askdocs`, and `askdocs:<backend>` when an LLM backend is configured."""
    return [MODEL] if backend == "extractive" else [MODEL, f"{MODEL}:{backend}"]


def sources_block(answer: Answer) -> str:
    """One line per citation: [n] title (source[, p. N], characters start-end): "quote"."""
    if not answer.citations:
        return ""
    lines = [f'[{c.key}] {c.title} ({c.where()}): "{c.quote}"' for c in answer.citations]
    return SOURCES_HEADING + "\n".join(lines)


def content_of(answer: Answer) -> str:
    """The answer as chat text (it opens with the short answer in bold where there is one)."""
    return answer.text + sources_block(answer)


def history_of(messages: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Earlier user and assistant turns, without the sources blocks this server added."""
    turns = []
    for role, text in messages:
        if role == "assistant":
            text = text.split(SOURCES_HEADING, 1)[0]
        if role in ("user", "assistant") and text.strip():
            turns.append((role, text))
    return turns


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(answer: Answer, model: str, cid: str) -> dict[str, Any]:
    content = content_of(answer)
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        # Words, not model tokens: there is no tokenizer-priced model behind the answer.
        "usage": {
            "prompt_tokens": len(answer.question.split()),
            "completion_tokens": len(content.split()),
            "total_tokens": len(answer.question.split()) + len(content.split()),
        },
        "citations": [c.to_json() for c in answer.citations],
        "askdocs": answer.to_json(),
    }


def chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None, **extra) -> str:
    """One server-sent event of a streamed completion."""
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


DONE = "data: [DONE]\n\n"
