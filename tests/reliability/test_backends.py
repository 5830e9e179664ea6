"""Failing backends: a Chroma server that goes away and comes back; LLM endpoints that fail."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from askdocs.api import Assistant
from askdocs.index import StoreError
from askdocs.llms import LLMError
from conftest import DATA, FakeEmbeddings, free_port, wait_until_serving
from faults import Recorder


def _start_chroma(path: Path, port: int) -> subprocess.Popen[bytes]:
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "the chroma CLI comes with chromadb"
    process = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_until_serving(f"http://127.0.0.1:{port}/api/v2/heartbeat", process, 60, "chroma")
    return process


def test_chroma_server_goes_away_and_comes_back(tmp_path: Path, record: Recorder) -> None:
    port = free_port()
    server = _start_chroma(tmp_path / "data", port)
    url = f"http://127.0.0.1:{port}"
    outcomes, failures = [], []
    try:
        assistant = Assistant(
            chroma_url=url, index_dir=tmp_path / "local", embedder=FakeEmbeddings(),
            abstain_threshold=0,
        )  # fmt: skip
        assistant.ingest([DATA])
        question = "Who won the Northfield chess championship?"
        before = assistant.ask(question)
        if "Priya Nair" not in before.text:
            failures.append("no right answer before the server stopped")
        server.terminate()
        server.wait(timeout=30)
        started = time.perf_counter()
        try:
            assistant.ask(question)
            failures.append("server down: an answer, no error")
        except StoreError as exc:
            waited = time.perf_counter() - started
            if "not answering" not in str(exc):
                failures.append(f"server down: an unclear error ({exc})")
            outcomes.append(f"server down: StoreError in {waited:.1f} s ({str(exc)[:60]}…)")
        server = _start_chroma(tmp_path / "data", port)
        recovered = assistant.ask(question)
        if recovered.text != before.text or assistant.stats()["articles"] != 6:
            failures.append("server back: another answer or another index")
        else:
            outcomes.append("server back: same answer, same index")
    finally:
        server.terminate()
        server.wait(timeout=30)
    record(
        "failing backends", "Chroma server stopped mid-session, then restarted", trials=2,
        failures=len(failures), detail="; ".join(outcomes + failures),
    )  # fmt: skip
    assert not failures, failures


class _Faulty(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that fails in the way its server's `mode` says."""

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "hang":
            time.sleep(30)
            return
        if mode == "500":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "boom"}}')
            return
        if mode == "half-stream":
            # Chunked, so the client can tell a dropped connection from the end of the reply.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            event = b'data: {"id": "1", "object": "chat.completion.chunk", "created": 0, '
            event += b'"model": "m", "choices": [{"index": 0, "delta": {"content": "The"}}]}\n\n'
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            self.connection.shutdown(2)  # dropped mid-answer: no last chunk, no [DONE]
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write({"malformed": b"{not json", "empty": b"{}"}[mode])
        self.wfile.flush()


def _faulty_server(mode: str) -> tuple[str, Callable[[], None]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Faulty)
    server.mode = mode  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/v1", server.shutdown


LLM_TIMEOUT = 3
TIMEOUT_MARGIN = 1.5
"""A fault must surface within the timeout plus this (connection set-up, the fallback's own
extractive answer); measured at most 0.6 s over on this machine."""


@pytest.mark.parametrize("fallback", [False, True])
def test_llm_endpoint_faults_fail_clearly_within_the_timeout(
    ingested: Assistant, record: Recorder, fallback: bool
) -> None:
    pytest.importorskip("langchain_openai")
    modes = ["refused", "hang", "500", "malformed", "empty", "half-stream"]
    failures, details = [], []
    for mode in modes:
        if mode == "refused":
            base_url, stop = f"http://127.0.0.1:{free_port()}/v1", lambda: None
        else:
            base_url, stop = _faulty_server(mode)
        assistant = ingested.variant(
            llm="openai:test-model", llm_base_url=base_url, llm_timeout=LLM_TIMEOUT, llm_retries=0,
            llm_fallback_extractive=fallback,
        )  # fmt: skip
        started = time.perf_counter()
        try:
            answer = assistant.ask("How much will the new Harbourton bridge cost?")
            ok = (
                fallback
                and answer.backend == "extractive"
                and "answered extractively" in (answer.note)
            )
            outcome = "fell back to extractive" if ok else "no error!"
        except LLMError as exc:
            ok = not fallback and "backend failed" in str(exc)
            outcome = "clear LLMError"
        finally:
            stop()
        seconds = time.perf_counter() - started
        ok = ok and seconds < LLM_TIMEOUT + TIMEOUT_MARGIN
        details.append(f"{mode}: {outcome} in {seconds:.1f} s")
        if not ok:
            failures.append(mode)
    record(
        "failing backends",
        f"LLM endpoint faults ({'with' if fallback else 'without'} extractive fallback)",
        trials=len(modes), failures=len(failures), detail="; ".join(details),
    )  # fmt: skip
    assert not failures, details
