"""`askdocs serve`: a running server driven by real clients (the official openai package,
httpx, the mcp SDK's client), and every refusal with its documented status and JSON error."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from askdocs.api import Assistant
from askdocs.cli import cli
from askdocs.service import openai_compat as oa
from askdocs.service.auth import (
    ApiKeyError,
    RateLimiter,
    bearer_token,
    find_key,
    is_loopback,
    parse_keys,
)
from askdocs.service.mcp_server import build_server
from conftest import REPO, ApiServer

READER = "reader-secret-0123456789"
WRITER = "writer-secret-0123456789"
KEYS = f"bot:{READER}, admin:{WRITER}:write"
QUESTION = "How much will the new Harbourton bridge cost?"
BRIDGE_QUOTE = "The bridge will cost £12 million and is due to open in 2026, the council said."


# ------------------------------------------------------------------ keys and limits (pure)


def test_keys_parse_with_scopes_and_bad_ones_are_refused() -> None:
    keys = parse_keys(KEYS)
    assert [(k.id, k.scope) for k in keys] == [("bot", "read"), ("admin", "write")]
    assert find_key(keys, READER).id == "bot" and find_key(keys, "reader-secret") is None
    assert keys[1].allows("write") and keys[0].allows("read") and not keys[0].allows("write")
    for bad in ("bot", "bot:", ":x" * 9, "a:short", f"a:{READER}:admin", f"a:{READER},a:{WRITER}"):
        with pytest.raises(ApiKeyError):
            parse_keys(bad)
    assert parse_keys("") == []


def test_bearer_token_and_loopback() -> None:
    assert bearer_token("Bearer abc") == "abc" and bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None and bearer_token(None) is None
    assert bearer_token("Bearer ") is None
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=2, clock=lambda: now[0])
    assert limiter.take("a") == 0 and limiter.take("a") == 0
    assert limiter.take("a") == pytest.approx(30.0)  # one token every 30 s
    assert limiter.take("b") == 0  # each caller has its own bucket
    now[0] = 30.0
    assert limiter.take("a") == 0


def test_sources_block_is_stripped_from_history_sent_back() -> None:
    turns = [
        ("user", "q1"),
        ("assistant", "A [1]." + oa.SOURCES_HEADING + "[1] x"),
        ("system", "s"),
    ]
    assert oa.history_of(turns) == [("user", "q1"), ("assistant", "A [1].")]
    assert oa.model_ids("extractive") == ["askdocs"]
    assert oa.model_ids("ollama:llama3") == ["askdocs", "askdocs:ollama:llama3"]


# ---------------------------------------------------------------------- a running server


def _assistant(ingested: Assistant, **overrides: object) -> Assistant:
    return Assistant(settings=ingested.settings.updated(**overrides), embedder=ingested.embedder)


@pytest.fixture
def server(ingested: Assistant) -> Iterator[ApiServer]:
    with ApiServer(_assistant(ingested, api_keys=KEYS, serve_max_request_mb=0.01)) as running:
        yield running


def _client(url: str, secret: str | None = READER) -> httpx.Client:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


def _error(response: httpx.Response, status: int, kind: str) -> str:
    """The response is the documented JSON error of this status and type; its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "type", "message"}
    assert body["error"]["status"] == status and body["error"]["type"] == kind
    assert "Traceback" not in response.text
    return body["error"]["message"]


def test_openai_client_gets_the_cited_answer(server: ApiServer) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key=READER, max_retries=0)
    assert [m.id for m in client.models.list()] == ["askdocs"]
    reply = client.chat.completions.create(
        model="askdocs", messages=[{"role": "user", "content": QUESTION}]
    )
    content = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop" and "£12 million" in content
    assert "[1]" in content and oa.SOURCES_HEADING in content and BRIDGE_QUOTE in content
    citation = reply.model_extra["citations"][0]
    article = _client(server.url).get(f"/v1/articles/{citation['article_id']}").json()
    assert article["text"][citation["start"] : citation["end"]] == citation["quote"]

    streamed = client.chat.completions.create(
        model="askdocs", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(streamed)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"] == reply.model_extra["citations"]

    # A follow-up: the earlier turns (sources block and all) say who "she" is.
    first = (
        client.chat.completions.create(
            model="askdocs",
            messages=[
                {"role": "user", "content": "Who won the Northfield regional chess championship?"}
            ],
        )
        .choices[0]
        .message.content
    )
    follow = client.chat.completions.create(
        model="askdocs",
        messages=[
            {"role": "user", "content": "Who won the Northfield regional chess championship?"},
            {"role": "assistant", "content": first},
            {"role": "user", "content": "Where will she play in the national finals?"},
        ],
    )
    assert oa.SOURCES_HEADING in first and "Leeds" in follow.choices[0].message.content
    assert (
        follow.model_extra["askdocs"]["standalone_question"]
        != "Where will she play in the national finals?"
    )


def test_openai_client_errors(server: ApiServer) -> None:
    import openai

    wrong = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x" * 20, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=READER, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "q"}])


def test_rest_ask_search_and_stream(server: ApiServer, ingested: Assistant) -> None:
    with _client(server.url) as http:
        answer = http.post("/v1/ask", json={"question": QUESTION}).json()
        # The same Answer the Python API gives, field for field (the hash included).
        assert answer == ingested.ask(QUESTION).to_json()
        assert answer["citations"][0]["quote"] == BRIDGE_QUOTE and not answer["abstained"]
        filtered = http.post(
            "/v1/ask", json={"question": QUESTION, "filters": {"sources": ["No Such Outlet"]}}
        ).json()
        assert filtered["abstained"] and filtered["passages"] == []

        with http.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = [e for e in r.read().decode().split("\n\n") if e]
        kinds = [e.split("\n", 1)[0] for e in events]
        assert set(kinds[:-1]) == {"event: delta"} and kinds[-1] == "event: answer"
        final = json.loads(events[-1].split("data: ", 1)[1])
        assert final["text"] == answer["text"]

        found = http.post("/v1/search", json={"query": "harbour bridge cost", "k": 2}).json()
        assert 0 < len(found["passages"]) <= 2
        top = found["passages"][0]
        text = http.get(f"/v1/articles/{top['article_id']}").json()["text"]
        assert text[top["start"] : top["end"]] == top["text"]


def test_articles_list_upload_delete_with_scopes(server: ApiServer, tmp_path: Path) -> None:
    reader, writer = _client(server.url), _client(server.url, WRITER)
    listed = reader.get("/v1/articles", params={"limit": 2}).json()
    total = listed["total"]
    assert total >= 4 and len(listed["items"]) == 2
    second = reader.get("/v1/articles", params={"offset": 2, "limit": 2}).json()["items"]
    assert {i["id"] for i in second}.isdisjoint(i["id"] for i in listed["items"])
    assert reader.get("/v1/articles", params={"q": "harbour"}).json()["total"] == 1

    story = (
        "Quillby wins regatta\nQuillby, May 2, 2024 (Tide News) The Quillby crew won the regatta."
    )
    files = [
        ("files", ("quillby.txt", story.encode(), "text/plain")),
        ("files", ("tool.exe", b"MZ", "application/octet-stream")),
    ]
    _error(reader.post("/v1/articles", files=files), 403, "forbidden")
    report = writer.post("/v1/articles", files=files).json()
    statuses = {Path(f["path"]).name: f["status"] for f in report["files"]}
    assert statuses == {"tool.exe": "skipped", "quillby.txt": "indexed"}
    assert reader.get("/v1/articles").json()["total"] == total + 1
    answer = reader.post("/v1/ask", json={"question": "Who won the regatta?"}).json()
    assert "Quillby crew" in answer["text"]

    new_id = report["files"][1]["article_ids"][0]
    _error(reader.delete(f"/v1/articles/{new_id}"), 403, "forbidden")
    assert writer.delete(f"/v1/articles/{new_id}").json() == {"removed": [new_id]}
    _error(writer.delete(f"/v1/articles/{new_id}"), 404, "not_found")
    _error(reader.get(f"/v1/articles/{new_id}"), 404, "not_found")
    assert reader.get("/v1/articles").json()["total"] == total


def test_fetch_urls_and_feeds_through_the_api(server: ApiServer, ingested: Assistant) -> None:
    from news_site import NewsSite

    reader, writer = _client(server.url), _client(server.url, WRITER)
    with NewsSite() as site:
        body = {"urls": [site.url("/news/bridge.html")], "feeds": [site.url("/feeds/atom.xml")]}
        _error(reader.post("/v1/articles/fetch", json=body), 403, "forbidden")
        # The server runs with the default settings: its own machine's addresses are refused,
        # so the API cannot be used to read internal services.
        refused = writer.post("/v1/articles/fetch", json=body).json()
        assert [f["status"] for f in refused["files"]] == ["skipped", "skipped"]
        assert all("non-public address" in f["reason"] for f in refused["files"])
        assert not site.hits
        _error(writer.post("/v1/articles/fetch", json={"urls": ["file:///etc/passwd"]}), 422,
               "invalid_request")  # fmt: skip
        _error(writer.post("/v1/articles/fetch", json={}), 422, "invalid_request")

        opened = _assistant(ingested, api_keys=KEYS, fetch_allow_private=True)
        with ApiServer(opened) as trusting:
            report = _client(trusting.url, WRITER).post("/v1/articles/fetch", json=body).json()
            assert [(f["path"], f["status"]) for f in report["files"]] == [
                (site.url("/news/bridge.html"), "indexed"),
                (site.url("/news/orchard.html"), "indexed"),
            ]
            answer = (
                _client(trusting.url)
                .post("/v1/ask", json={"question": "How many steel cables did engineers replace?"})
                .json()
            )
            assert "312 steel cables" in answer["text"]
            assert answer["citations"][0]["source"] == site.url("/news/bridge.html")


def test_refusals_have_their_status_and_json_shape(server: ApiServer) -> None:
    anonymous, wrong = _client(server.url, None), _client(server.url, "y" * 24)
    for client in (anonymous, wrong):
        response = client.post("/v1/ask", json={"question": QUESTION})
        _error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    # Health needs no key (a load balancer probes it); everything else does.
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz").json()
    assert ready["status"] == "ready" and ready["articles"] >= 4
    _error(anonymous.get("/v1/articles"), 401, "unauthorized")

    http = _client(server.url)
    long_question = "why " * 600  # 2,400 characters: more than serve_max_question_chars
    assert "2400 characters" in _error(
        http.post("/v1/ask", json={"question": long_question}), 413, "too_large"
    )
    _error(http.post("/v1/ask", json={"question": "q", "pad": "x" * 20_000}), 413, "too_large")
    bad_json = http.post(
        "/v1/ask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert _error(bad_json, 422, "invalid_request") == "the body is not valid JSON"
    assert "k" in _error(
        http.post("/v1/ask", json={"question": "q", "k": 0}), 422, "invalid_request"
    )
    _error(http.post("/v1/ask", json={"question": ""}), 422, "invalid_request")
    _error(http.post("/v1/ask", json={"question": "q", "extra": 1}), 422, "invalid_request")
    _error(http.get("/v1/no-such-route"), 404, "not_found")
    _error(http.put("/v1/ask", json={}), 405, "method_not_allowed")
    chat = {"model": "askdocs", "messages": [{"role": "assistant", "content": "hi"}]}
    _error(http.post("/v1/chat/completions", json=chat), 422, "invalid_request")


def test_rate_limit_per_key(ingested: Assistant) -> None:
    settings = {"api_keys": KEYS, "serve_rate_per_minute": 3}
    with ApiServer(_assistant(ingested, **settings)) as running:
        http, other = _client(running.url), _client(running.url, WRITER)
        assert [http.get("/v1/models").status_code for _ in range(3)] == [200] * 3
        limited = http.get("/v1/models")
        _error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert other.get("/v1/models").status_code == 200  # another key, another bucket


def test_a_crash_is_a_json_500_without_details(
    server: ApiServer, ingested: Assistant, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail /srv/index")

    monkeypatch.setattr(Assistant, "stream", broken)
    with caplog.at_level(logging.INFO, logger="askdocs.service"):
        response = _client(server.url).post("/v1/ask", json={"question": QUESTION})
    message = _error(response, 500, "internal_error")
    assert "secret internal detail" not in response.text and "logged as" in message
    # One line per request: method, route, status, latency, key id; never the key itself.
    lines = [r.getMessage() for r in caplog.records if r.name == "askdocs.service"]
    assert any(line.startswith("POST /v1/ask 500 ") and "key=bot" in line for line in lines)
    assert not any(READER in line for line in lines)


def test_serve_refuses_to_listen_beyond_loopback_without_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASKDOCS_API_KEYS", raising=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["--index", str(tmp_path), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "without API keys" in result.output
    monkeypatch.setenv("ASKDOCS_API_KEYS", "bot:short")
    result = runner.invoke(cli, ["--index", str(tmp_path), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "fewer than 16" in result.output


# ----------------------------------------------------------------------------------- MCP


def test_mcp_tools_in_process(ingested: Assistant) -> None:
    from mcp import Client

    async def session() -> tuple:
        async with Client(build_server(ingested, 2000)) as client:
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            asked = await client.call_tool("ask", {"question": QUESTION})
            found = await client.call_tool("search_articles", {"query": "harbour bridge", "k": 1})
            too_long = await client.call_tool("ask", {"question": "x" * 2001})
            article_id = asked.structured_content["citations"][0]["article_id"]
            text = await client.read_resource(f"article://{article_id}")
            return tools, asked, found, too_long, text

    tools, asked, found, too_long, text = asyncio.run(session())
    assert tools == ["ask", "search_articles"]
    citation = asked.structured_content["citations"][0]
    assert citation["quote"] == BRIDGE_QUOTE
    assert text.contents[0].text[citation["start"] : citation["end"]] == BRIDGE_QUOTE
    assert len(found.structured_content["passages"]) == 1
    assert too_long.is_error


@pytest.mark.slow
def test_mcp_over_stdio_with_the_real_model(tmp_path: Path) -> None:
    from mcp import Client, StdioServerParameters

    index = tmp_path / "index"
    askdocs = str(Path(sys.executable).with_name("askdocs"))
    ingest = CliRunner().invoke(cli, ["--index", str(index), "ingest", str(REPO / "examples")])
    assert ingest.exit_code == 0, ingest.output
    params = StdioServerParameters(command=askdocs, args=["--index", str(index), "mcp"])

    async def session() -> dict:
        async with Client(params, read_timeout_seconds=120) as client:
            result = await client.call_tool("ask", {"question": "Who did Rubio accuse?"})
            return result.structured_content

    answer = asyncio.run(session())
    assert not answer["abstained"] and "Venezuela" in answer["text"]
    assert answer["citations"] and answer["citations"][0]["quote"] in answer["text"]


def test_mcp_over_http_on_the_server_behind_the_keys(server: ApiServer) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def ask(secret: str) -> dict:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        transport = streamable_http_client(f"{server.url}/mcp", http_client=http)
        async with http, Client(transport) as client:
            result = await client.call_tool("ask", {"question": QUESTION})
            return result.structured_content

    answer = asyncio.run(ask(READER))
    assert answer["citations"][0]["quote"] == BRIDGE_QUOTE
    # Without a key the MCP endpoint refuses like every other route.
    _error(_client(server.url, None).post("/mcp", json={}), 401, "unauthorized")


def test_cors_is_off_unless_origins_are_configured(ingested: Assistant) -> None:
    preflight = {
        "Origin": "http://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    with ApiServer(_assistant(ingested)) as running:
        refused = httpx.options(f"{running.url}/v1/ask", headers=preflight)
        asked = _client(running.url, None).post(
            "/v1/ask", json={"question": QUESTION}, headers={"Origin": "http://app.example"}
        )
        assert "access-control-allow-origin" not in refused.headers
        assert "access-control-allow-origin" not in asked.headers
    allowed = {"serve_cors_origins": ["http://app.example"]}
    with ApiServer(_assistant(ingested, **allowed)) as running:
        ok = httpx.options(f"{running.url}/v1/ask", headers=preflight)
        other = httpx.options(
            f"{running.url}/v1/ask", headers={**preflight, "Origin": "http://evil.example"}
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "http://app.example"
        assert other.headers.get("access-control-allow-origin") != "http://evil.example"


def test_a_client_leaving_mid_stream_stops_its_answer(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped = threading.Event()
    produced: list[int] = []

    def slow_stream(self: Assistant, question: str, **kwargs: object):
        try:
            for n in range(200):  # 20 s of text if nobody stops it
                produced.append(n)
                yield f"word{n} "
                time.sleep(0.1)
        finally:
            stopped.set()

    monkeypatch.setattr(Assistant, "stream", slow_stream)
    with (
        _client(server.url) as http,
        http.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as response,
    ):
        first = next(response.iter_lines())
        assert first == "event: delta"
    # The connection is closed: the server must stop producing within a few pieces.
    assert stopped.wait(5), "the answer went on after the client left"
    assert len(produced) < 60
