"""Concurrent use: one Assistant shared by threads, and 50 chat sessions during an upload."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from askdocs.api import Assistant
from conftest import DATA, REPO, free_port
from faults import Recorder, synthetic_corpus

QUESTIONS = [
    "Who won the Northfield regional chess championship?",
    "How much will the new Harbourton bridge cost?",
    "Who did Rubio accuse?",
    "What did Union leaders call off?",
    "How much of the archive was saved?",
    "Who led the opponents of the bridge?",
]


def _key(answer: object) -> tuple[object, ...]:
    return (
        answer.text,  # type: ignore[attr-defined]
        tuple((c.article_id, c.start, c.end) for c in answer.citations),  # type: ignore[attr-defined]
    )


def test_threads_sharing_one_assistant_answer_as_sequential_use(
    ingested: Assistant, record: Recorder
) -> None:
    ingested.ingest([REPO / "examples" / "articles"])
    sequential = {q: _key(ingested.ask(q)) for q in QUESTIONS}
    asked = QUESTIONS * 20
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(ingested.ask, asked))
    different = [q for q, a in zip(asked, answers, strict=True) if _key(a) != sequential[q]]
    record(
        "concurrency", "16 threads sharing one Assistant vs sequential answers",
        trials=len(asked), failures=len(different), detail="identical text and citations",
    )  # fmt: skip
    assert not different


@pytest.mark.slow
def test_fifty_chat_sessions_during_an_upload(tmp_path: Path, record: Recorder) -> None:
    gradio_client = pytest.importorskip("gradio_client")
    from askdocs.ui import launch

    assistant = Assistant(index_dir=tmp_path / "index")
    assistant.ingest([DATA, REPO / "examples" / "articles"])
    port = free_port()
    demo = launch(assistant, port=port, block=False)
    url = f"http://127.0.0.1:{port}/"
    uploads = synthetic_corpus(tmp_path / "uploads", articles=40, seed=5)
    upload_result: dict[str, object] = {}

    def upload() -> None:
        client = gradio_client.Client(url, verbose=False)
        files = [gradio_client.handle_file(str(p)) for p in sorted(uploads.iterdir())]
        started = time.perf_counter()
        upload_result["report"] = client.predict(files, api_name="/on_upload")
        upload_result["seconds"] = time.perf_counter() - started

    def session(n: int) -> tuple[float, str | None]:
        try:
            client = gradio_client.Client(url, verbose=False)
            started = time.perf_counter()
            outputs = client.predict(
                QUESTIONS[n % len(QUESTIONS)], [], 5, [], "", "", False, "extractive",
                api_name="/ask",
            )  # fmt: skip
            seconds = time.perf_counter() - started
            chat = outputs[1]
            reply = str(chat[-1]["content"]) if chat else ""
            if "askdocs-cite" not in reply and "could not find" not in reply:
                return seconds, f"session {n}: no answer in {reply[:80]!r}"
            return seconds, None
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            return 0.0, f"session {n}: {exc!r}"[:200]

    try:
        uploader = threading.Thread(target=upload)
        uploader.start()
        time.sleep(0.5)  # the upload is being indexed while the sessions ask
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(session, range(50)))
        uploader.join(timeout=300)
    finally:
        demo.close()
    errors = [error for _, error in results if error]
    latencies = sorted(seconds for seconds, error in results if not error)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    record(
        "concurrency", "50 chat sessions on 127.0.0.1 while an upload is indexed", trials=50,
        failures=len(errors),
        detail=f"p50 {p50:.2f} s, p95 {p95:.2f} s per answer; 40-file upload took "
        f"{upload_result.get('seconds', float('nan')):.1f} s; " + "; ".join(errors[:3]),
    )  # fmt: skip
    assert not errors, errors
    assert "report" in upload_result
    assert assistant.stats()["articles"] >= 40


@pytest.mark.slow
def test_fifty_api_clients_during_an_upload(tmp_path: Path, record: Recorder) -> None:
    """`askdocs serve` with the real model: 50 clients ask at once while 40 files are
    uploaded and indexed through the API. Every answer must be a well-formed Answer whose
    citations quote their article exactly, and every uploaded file must end up indexed."""
    import httpx

    from conftest import ApiServer

    # One anonymous caller (loopback, no keys) makes all the requests: no rate limit here.
    assistant = Assistant(
        index_dir=tmp_path / "index", llm="extractive", serve_rate_per_minute=1_000_000
    )
    assistant.ingest([DATA, REPO / "examples" / "articles"])
    before = assistant.stats()["articles"]
    uploads = synthetic_corpus(tmp_path / "uploads", articles=40, seed=7)
    upload_result: dict[str, object] = {}

    with ApiServer(assistant) as server:

        def upload() -> None:
            files = [("files", (p.name, p.read_bytes(), "text/plain")) for p in uploads.iterdir()]
            started = time.perf_counter()
            with httpx.Client(base_url=server.url, timeout=600) as http:
                response = http.post("/v1/articles", files=files)
            upload_result["status"] = response.status_code
            upload_result["report"] = response.json()
            upload_result["seconds"] = time.perf_counter() - started

        def client(n: int) -> tuple[float, str | None]:
            question = QUESTIONS[n % len(QUESTIONS)]
            try:
                with httpx.Client(base_url=server.url, timeout=300) as http:
                    started = time.perf_counter()
                    response = http.post("/v1/ask", json={"question": question})
                    seconds = time.perf_counter() - started
                    if response.status_code != 200:
                        return seconds, f"client {n}: {response.status_code} {response.text[:80]}"
                    answer = response.json()
                    if not answer["abstained"] and not answer["citations"]:
                        return seconds, f"client {n}: an answer without citations"
                    for c in answer["citations"]:
                        text = http.get(f"/v1/articles/{c['article_id']}").json()["text"]
                        if text[c["start"] : c["end"]] != c["quote"]:
                            return seconds, f"client {n}: citation {c['key']} is not exact"
                    return seconds, None
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                return 0.0, f"client {n}: {exc!r}"[:200]

        client(0)  # first use loads the question encoder and the keyword index: not timed
        # The baseline of the same run: 50 clients at once, nothing being indexed.
        with ThreadPoolExecutor(max_workers=50) as pool:
            quiet = list(pool.map(client, range(50)))
        uploader = threading.Thread(target=upload)
        uploader.start()
        time.sleep(0.5)  # the upload is being indexed while the clients ask
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(client, range(50)))
        uploader.join(timeout=600)
        after = assistant.stats()["articles"]

    errors = [error for _, error in quiet + results if error]

    def percentiles(rows: list[tuple[float, str | None]]) -> tuple[float, float]:
        latencies = sorted(seconds for seconds, error in rows if not error)
        if not latencies:
            return float("nan"), float("nan")
        return statistics.median(latencies), latencies[int(0.95 * (len(latencies) - 1))]

    (q50, q95), (p50, p95) = percentiles(quiet), percentiles(results)
    record(
        "concurrency", "50 API clients (askdocs serve) while 40 files are uploaded", trials=100,
        failures=len(errors),
        detail=f"p50 {p50:.2f} s, p95 {p95:.2f} s per answer during the upload; "
        f"{q50:.2f} s / {q95:.2f} s with nothing indexed (same run); 40-file upload took "
        f"{upload_result.get('seconds', float('nan')):.1f} s; " + "; ".join(errors[:3]),
    )  # fmt: skip
    assert not errors, errors
    assert upload_result.get("status") == 200
    assert after == before + 40
