"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 speaking the protocol."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from askdocs.api import Assistant
from askdocs.llms import LLMError
from conftest import FakeEmbeddings

pytest.importorskip("langchain_openai")

QUESTION = "How much will the new Harbourton bridge cost?"


class StubOpenAI(BaseHTTPRequestHandler):
    """/v1/chat/completions, streamed or not, with a failure mode chosen by the test."""

    protocol_version = "HTTP/1.1"  # chunked streaming, so a dropped connection is detectable
    mode = "ok"
    reply = "The bridge will cost £12 million [1]."
    requests: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubOpenAI.requests.append(body)
        if self.mode == "500":
            self._send(500, b'{"error": {"message": "model crashed"}}')
        elif self.mode == "malformed":
            self._send(200, b"this is not json")
        elif self.mode == "hang":
            time.sleep(5)
        elif body.get("stream"):
            self._stream(body)
        else:
            self._send(200, json.dumps(self._completion(self.reply)).encode())

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, body: dict) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        words = self.reply.split(" ")
        for i, word in enumerate(words):
            if self.mode == "drop" and i == 2:
                self.wfile.flush()
                self.connection.shutdown(2)  # half a reply, then the connection is gone
                return
            delta = {"content": word + (" " if i < len(words) - 1 else "")}
            self._event({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _event(self, payload: dict) -> None:
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "stub",
                 **payload}  # fmt: skip
        self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    @staticmethod
    def _completion(text: str) -> dict:
        return {
            "id": "c1", "object": "chat.completion", "created": 0, "model": "stub",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }  # fmt: skip


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the "drop" mode breaks its own connections on purpose


@pytest.fixture
def server() -> Iterator[str]:
    StubOpenAI.mode, StubOpenAI.requests = "ok", []
    httpd = QuietServer(("127.0.0.1", 0), StubOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


@pytest.fixture
def assistant(server: str, tmp_path: Path, articles_dir: Path) -> Assistant:
    assistant = Assistant(
        index_dir=tmp_path / "index", embedder=FakeEmbeddings(), llm="openai:stub-model",
        llm_base_url=server, llm_timeout=1.5, llm_retries=0, verify_threshold=0.3, k=1,
    )  # fmt: skip
    assistant.ingest([articles_dir])
    return assistant


def test_streams_and_verifies_an_answer(assistant: Assistant) -> None:
    pieces = list(assistant.stream(QUESTION))
    answer = pieces[-1]
    assert "".join(pieces[:-1]) == StubOpenAI.reply
    assert len(pieces) > 3  # it really streamed, word by word
    assert answer.claims[0].verified and "£12 million" in answer.citations[0].quote
    request = StubOpenAI.requests[-1]
    assert request["model"] == "stub-model" and request["stream"] is True
    assert '<passage n="1"' in request["messages"][1]["content"]


@pytest.mark.parametrize(
    ("mode", "message"),
    [("500", "model crashed"), ("malformed", "failed"), ("hang", "timed out"), ("drop", "failed")],
)
def test_failures_are_clear_errors_within_the_timeout(
    assistant: Assistant, mode: str, message: str
) -> None:
    StubOpenAI.mode = mode
    started = time.monotonic()
    with pytest.raises(LLMError, match=message):
        assistant.ask(QUESTION)
    assert time.monotonic() - started < 5


def test_unreachable_server_is_a_clear_error(tmp_path: Path, articles_dir: Path) -> None:
    assistant = Assistant(
        index_dir=tmp_path / "index", embedder=FakeEmbeddings(), llm="openai:stub",
        llm_base_url="http://127.0.0.1:9/v1", llm_timeout=1, llm_retries=0,
    )  # fmt: skip
    assistant.ingest([articles_dir])
    with pytest.raises(LLMError, match="the answer backend failed: Connection error"):
        assistant.ask(QUESTION)


def test_cli_streams_from_the_server(server: str, tmp_path: Path, articles_dir: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from click.testing import CliRunner

    from askdocs import cli as cli_module

    monkeypatch.setattr("askdocs.api.make_embedder", lambda settings: FakeEmbeddings())
    monkeypatch.setenv("ASKDOCS_LLM_BASE_URL", server)
    monkeypatch.setenv("ASKDOCS_VERIFY_THRESHOLD", "0.3")
    index = str(tmp_path / "index")
    CliRunner().invoke(cli_module.cli, ["--index", index, "ingest", str(articles_dir)])
    result = CliRunner().invoke(
        cli_module.cli, ["--index", index, "ask", QUESTION, "--llm", "openai:stub", "-k", "1"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(StubOpenAI.reply)
    assert "Verified answer:\nThe bridge will cost £12 million . [1]" in result.stdout
    failing = CliRunner().invoke(
        cli_module.cli,
        ["--index", index, "ask", QUESTION, "--llm", "openai:stub"],
        env={
            "ASKDOCS_LLM_BASE_URL": "http://127.0.0.1:9/v1",
            "ASKDOCS_LLM_TIMEOUT": "1",
            "ASKDOCS_LLM_RETRIES": "0",
        },
    )
    assert failing.exit_code == 2 and "error: the answer backend failed" in failing.stderr
