"""The Ollama backend against a stub of Ollama's /api/chat on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from askdocs.api import Assistant
from askdocs.llms import LLMError
from conftest import FakeEmbeddings, free_port

pytest.importorskip("langchain_ollama")

REPLY = "The bridge will cost £12 million [1]."


class StubOllama(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubOllama.requests.append({"path": self.path, **body})
        lines = [
            {"model": body["model"], "created_at": "2026-01-01T00:00:00Z",
             "message": {"role": "assistant", "content": word + " "}, "done": False}
            for word in REPLY.split(" ")
        ]  # fmt: skip
        lines.append({"model": body["model"], "created_at": "2026-01-01T00:00:00Z",
                      "message": {"role": "assistant", "content": ""}, "done": True,
                      "done_reason": "stop"})  # fmt: skip
        payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def ollama_url() -> Iterator[str]:
    StubOllama.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StubOllama)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_ollama_answers_are_streamed_and_verified(
    ollama_url: str, tmp_path: Path, articles_dir: Path
) -> None:
    assistant = Assistant(
        index_dir=tmp_path / "index", embedder=FakeEmbeddings(), llm="ollama:stub-model",
        ollama_url=ollama_url, verify_threshold=0.3, k=1,
    )  # fmt: skip
    assistant.ingest([articles_dir])
    pieces = list(assistant.stream("How much will the new Harbourton bridge cost?"))
    assert "".join(pieces[:-1]).strip() == REPLY
    assert pieces[-1].claims[0].verified
    assert StubOllama.requests[-1]["path"] == "/api/chat"
    assert StubOllama.requests[-1]["model"] == "stub-model"


def test_unreachable_ollama_is_a_clear_error(tmp_path: Path, articles_dir: Path) -> None:
    assistant = Assistant(
        index_dir=tmp_path / "index", embedder=FakeEmbeddings(), llm="ollama:stub",
        ollama_url=f"http://127.0.0.1:{free_port()}", llm_timeout=2,
    )  # fmt: skip
    assistant.ingest([articles_dir])
    with pytest.raises(LLMError, match="the answer backend failed"):
        assistant.ask("How much will the new Harbourton bridge cost?")
