"""Shared fixtures: a deterministic fake embedder, tiny articles, and a no-network guard."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from askdocs.api import Assistant
from askdocs.embeddings import TokenAwareEmbeddings
from askdocs.index.keywords import content_terms
from faults import Recorder, recorder

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
SHARED = REPO.parent / "shared" / "data"


class FakeEmbeddings(TokenAwareEmbeddings):
    """Bag-of-stemmed-words vectors: texts sharing words are similar; costs microseconds."""

    name = "fake-bow"
    max_tokens = 256
    dims = 512

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def _vector(self, text: str) -> list[float]:
        vector = np.zeros(self.dims)
        for term in content_terms(text):
            vector[int(hashlib.md5(term.encode()).hexdigest(), 16) % self.dims] += 1.0
        norm = np.linalg.norm(vector)
        return (vector / norm if norm else np.full(self.dims, 1 / np.sqrt(self.dims))).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/reliability/ is the fault suite, run by `make reliability`.
    for item in items:
        if "reliability" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Recorder:
    """record(area, case, trials=, failures=, detail=): a row of the fault suite's summary."""
    return recorder(request.node.nodeid)


@pytest.fixture(autouse=True)
def no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that connects anywhere but this machine."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
            "127.0.0.1", "::1", "localhost",
        ):  # fmt: skip
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def fake_embedder() -> FakeEmbeddings:
    return FakeEmbeddings()


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """A private copy of the fixture articles that a test may change."""
    target = tmp_path / "articles"
    shutil.copytree(DATA, target)
    return target


@pytest.fixture
def assistant(tmp_path: Path, fake_embedder: FakeEmbeddings) -> Iterator[Assistant]:
    yield Assistant(index_dir=tmp_path / "index", embedder=fake_embedder, abstain_threshold=0)


@pytest.fixture
def ingested(assistant: Assistant, articles_dir: Path) -> Assistant:
    assistant.ingest([articles_dir])
    return assistant


class RecordingChatModel(BaseChatModel):
    """A fake chat model with queued replies that records every conversation it was sent."""

    replies: list[str]
    received: list[list[BaseMessage]] = Field(default_factory=list)
    fail_with: Exception | None = None

    @property
    def _llm_type(self) -> str:
        return "recording-fake"

    def _reply(self, messages: list[BaseMessage]) -> str:
        self.received.append(messages)
        if self.fail_with is not None:
            raise self.fail_with
        return self.replies.pop(0)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        message = AIMessage(content=self._reply(messages))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        for word in re.findall(r"\S+\s*", self._reply(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))


@pytest.fixture
def chat_model() -> RecordingChatModel:
    return RecordingChatModel(replies=[], received=[])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, seconds: float, what: str) -> None:
    """Poll url until it answers; fail early if the server process died."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.3)


class ApiServer:
    """`askdocs serve`'s app under uvicorn in a thread, on a free port (its keys come from
    the assistant's api_keys setting)."""

    def __init__(self, assistant: Assistant) -> None:
        import uvicorn

        from askdocs.service.app import create_app
        from askdocs.service.auth import parse_keys

        keys = parse_keys(assistant.settings.api_keys.get_secret_value())
        config = uvicorn.Config(
            create_app(assistant, keys), host="127.0.0.1", port=free_port(), log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{config.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real `chroma run` on 127.0.0.1 with its data in tmp_path; yields its URL."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "the chroma CLI comes with chromadb"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(tmp_path / "server-data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(f"{url}/api/v2/heartbeat", process, 60, "chroma server")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
