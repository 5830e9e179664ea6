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


def _asked_during_upload(upload, ask, join_seconds: float) -> list[tuple]:
    """50 askers at once while `upload` runs in a thread (started half a second earlier)."""
    uploader = threading.Thread(target=upload)
    uploader.start()
    time.sleep(0.5)  # the upload is being indexed while they ask
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(ask, range(50)))
    uploader.join(timeout=join_seconds)
    return results


def _unlike_alone(results: list[tuple], before: dict, after: dict, who: str) -> list[str]:
    """Askers whose answer is neither the one their question gets alone before the upload nor
    the one it gets after (rows are (seconds, answer, error); question n is QUESTIONS[n % 6])."""
    unlike = []
    for n, (_, answer, error) in enumerate(results):
        question = QUESTIONS[n % len(QUESTIONS)]
        if not error and answer not in (before[question], after[question]):
            unlike.append(f"{who} {n}: unlike the answer {question!r} gets alone")
    return unlike


def _percentiles(rows: list[tuple]) -> tuple[float, float]:
    """p50 and p95 seconds of the rows without an error."""
    latencies = sorted(seconds for seconds, _, error in rows if not error)
    if not latencies:
        return float("nan"), float("nan")
    return statistics.median(latencies), latencies[int(0.95 * (len(latencies) - 1))]


def _key_json(answer: dict) -> tuple[object, ...]:
    return (
        answer["text"],
        tuple((c["article_id"], c["start"], c["end"]) for c in answer["citations"]),
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
    """50 gradio_client sessions ask at once while 40 files are uploaded. Each reply must be
    the reply the same question gets alone, before or after the upload (the index is one or
    the other at any moment: anything else is a mix-up), and every file must be indexed."""
    gradio_client = pytest.importorskip("gradio_client")
    from askdocs.ui import launch

    assistant = Assistant(index_dir=tmp_path / "index")
    assistant.ingest([DATA, REPO / "examples" / "articles"])
    before = assistant.stats()["articles"]
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

    def reply(question: str) -> str:
        client = gradio_client.Client(url, verbose=False)
        outputs = client.predict(
            question, [], 5, [], "", "", False, "extractive", api_name="/ask"
        )  # fmt: skip
        chat = outputs[1]
        return str(chat[-1]["content"]) if chat else ""

    def session(n: int) -> tuple[float, str, str | None]:
        question = QUESTIONS[n % len(QUESTIONS)]
        try:
            started = time.perf_counter()
            text = reply(question)
            return time.perf_counter() - started, text, None
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            return 0.0, "", f"session {n}: {exc!r}"[:200]

    try:
        alone_before = {q: reply(q) for q in QUESTIONS}
        results = _asked_during_upload(upload, session, join_seconds=300)
        alone_after = {q: reply(q) for q in QUESTIONS}
    finally:
        demo.close()
    errors = [error for _, _, error in results if error]
    errors += _unlike_alone(results, alone_before, alone_after, "session")
    p50, p95 = _percentiles(results)
    after = assistant.stats()["articles"]
    record(
        "concurrency", "50 chat sessions on 127.0.0.1 while an upload is indexed", trials=50,
        failures=len(errors) + (after != before + 40),
        detail=f"replies equal to the question asked alone (before or after the upload); "
        f"{after - before} of 40 uploads indexed; p50 {p50:.2f} s, p95 {p95:.2f} s per answer; "
        f"the upload took {upload_result.get('seconds', float('nan')):.1f} s; "
        + "; ".join(errors[:3]),
    )  # fmt: skip
    assert not errors, errors
    assert "report" in upload_result
    assert after == before + 40


@pytest.mark.slow
def test_fifty_api_clients_during_an_upload(tmp_path: Path, record: Recorder) -> None:
    """`askdocs serve` with the real model: 50 clients ask at once while 40 files are
    uploaded and indexed through the API. Every answer must be the one its question gets
    alone, before or after the upload (the index is one or the other at any moment), its
    citations must quote their article exactly, and every uploaded file must be indexed."""
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

        def client(n: int) -> tuple[float, tuple | None, str | None]:
            question = QUESTIONS[n % len(QUESTIONS)]
            try:
                with httpx.Client(base_url=server.url, timeout=300) as http:
                    started = time.perf_counter()
                    response = http.post("/v1/ask", json={"question": question})
                    seconds = time.perf_counter() - started
                    if response.status_code != 200:
                        error = f"client {n}: {response.status_code} {response.text[:80]}"
                        return seconds, None, error
                    answer = response.json()
                    if not answer["abstained"] and not answer["citations"]:
                        return seconds, None, f"client {n}: an answer without citations"
                    for c in answer["citations"]:
                        text = http.get(f"/v1/articles/{c['article_id']}").json()["text"]
                        if text[c["start"] : c["end"]] != c["quote"]:
                            return seconds, None, f"client {n}: citation {c['key']} is not exact"
                    return seconds, _key_json(answer), None
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                return 0.0, None, f"client {n}: {exc!r}"[:200]

        def asked_alone() -> dict[str, tuple]:
            with httpx.Client(base_url=server.url, timeout=300) as http:
                return {
                    q: _key_json(http.post("/v1/ask", json={"question": q}).json())
                    for q in QUESTIONS
                }

        client(0)  # first use loads the question encoder and the keyword index: not timed
        alone_before = asked_alone()
        # The baseline of the same run: 50 clients at once, nothing being indexed.
        with ThreadPoolExecutor(max_workers=50) as pool:
            quiet = list(pool.map(client, range(50)))
        results = _asked_during_upload(upload, client, join_seconds=600)
        after = assistant.stats()["articles"]
        alone_after = asked_alone()

    errors = [error for _, _, error in quiet + results if error]
    for n, (_, key, error) in enumerate(quiet):
        if not error and key != alone_before[QUESTIONS[n % len(QUESTIONS)]]:
            errors.append(f"client {n} (nothing indexed): unlike the answer asked alone")
    errors += _unlike_alone(results, alone_before, alone_after, "client")
    (q50, q95), (p50, p95) = _percentiles(quiet), _percentiles(results)
    record(
        "concurrency", "50 API clients (askdocs serve) while 40 files are uploaded", trials=100,
        failures=len(errors) + (after != before + 40),
        detail=f"answers equal to the question asked alone; {after - before} of 40 uploads "
        f"indexed; p50 {p50:.2f} s, p95 {p95:.2f} s per answer during the upload; "
        f"{q50:.2f} s / {q95:.2f} s with nothing indexed (same run); 40-file upload took "
        f"{upload_result.get('seconds', float('nan')):.1f} s; " + "; ".join(errors[:3]),
    )  # fmt: skip
    assert not errors, errors
    assert upload_result.get("status") == 200
    assert after == before + 40
