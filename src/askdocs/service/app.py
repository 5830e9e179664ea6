"""The REST API of `askdocs serve` (FastAPI): ask, search, OpenAI-compatible chat, articles.

Every error is JSON of one shape, {"error": {"status", "type", "message"}}, never a traceback.
Questions run concurrently in the thread pool (the model is shared and read-only); uploads are
indexed one at a time, in the pool too, so they never hold up a question.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.routing import Route

from askdocs.api import Assistant
from askdocs.index import IndexBusyError
from askdocs.loaders import SUPPORTED_SUFFIXES, is_url
from askdocs.service import openai_compat as oa
from askdocs.service.auth import READ, WRITE, ApiKey, RateLimiter, bearer_token, find_key
from askdocs.service.schemas import AskBody, ChatCompletionBody, FetchBody, SearchBody
from askdocs.types import Answer, passage_to_json

log = logging.getLogger("askdocs.service")

ANONYMOUS = ApiKey("local", "", WRITE)
"""Who calls a server without keys: allowed only on loopback (see cli.serve)."""
UPLOAD_CHUNK = 1 << 20
MAX_PAGE = 500
"""Most articles one page of GET /v1/articles lists."""


class ApiError(HTTPException):
    """An error with a stable type name, sent as {"error": {...}}."""

    def __init__(self, status: int, kind: str, message: str, headers: dict | None = None):
        super().__init__(status, message, headers)
        self.kind = kind


def error_body(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "type": kind, "message": message}}


_KINDS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid_request",
    429: "rate_limited", 500: "internal_error", 503: "unavailable",
}  # fmt: skip


class BodyLimit:
    """ASGI middleware: a request body larger than its limit is refused with 413 before the
    route reads it (Content-Length is checked first; a chunked body is counted as it comes)."""

    def __init__(self, app: Any, limit_of) -> None:
        self.app = app
        self.limit_of = limit_of

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope["path"], scope["method"])
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_large = JSONResponse(
            error_body(413, "too_large", f"the request body is larger than {limit} bytes"), 413
        )
        if length is not None and length.isdigit() and int(length) > limit:
            await too_large(scope, receive, send)
            return
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise ApiError(413, "too_large", f"the request body is larger than {limit} bytes")
            return message

        await self.app(scope, counted, send)


class RequestLog:
    """ASGI middleware: one log line per request (method, route, status, latency, key id).

    Pure ASGI rather than FastAPI's http middleware, which buffers streamed responses and
    would hide a client leaving mid-stream from the route.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})["key_id"] = "-"
        status = 500

        async def sent(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path", scope["path"])
            log.info(
                "%s %s %d %.1fms key=%s",
                scope["method"],
                route,
                status,
                (time.perf_counter() - started) * 1000,
                scope["state"].get("key_id", "-"),
            )


async def pull(pieces: Iterator[Any], request: Request) -> AsyncIterator[Any]:
    """A blocking iterator's items, each made in a worker thread, for a streamed response.

    When the client has left (uvicorn drops what is sent to a closed connection without an
    error, so the response would never learn it), the piece being made is finished (a thread
    cannot be interrupted) and the iterator is closed: an LLM stream stops there.
    """
    try:
        while not await request.is_disconnected():
            with anyio.CancelScope(shield=True):
                piece = await anyio.to_thread.run_sync(next, pieces, _END)
            if piece is _END:
                return
            yield piece
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(pieces.close)


_END = object()


def create_app(assistant: Assistant, keys: list[ApiKey], host: str = "127.0.0.1") -> FastAPI:
    """The service over one Assistant. With no keys every caller is ANONYMOUS. `host` is the
    address served on: on loopback the MCP endpoint also refuses other Host headers (DNS
    rebinding protection of the mcp SDK)."""
    from askdocs.service.mcp_server import build_server

    settings = assistant.settings
    mcp_server = build_server(assistant, settings.serve_max_question_chars)
    mcp_http = mcp_server.streamable_http_app(streamable_http_path="/mcp", host=host)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        async with mcp_server.session_manager.run():
            yield

    app = FastAPI(
        title="askdocs",
        version="1",
        description="Questions over your news articles, answered with exact, cited sentences.",
        lifespan=lifespan,
    )
    limiter = RateLimiter(settings.serve_rate_per_minute)
    ingest_lock = threading.Lock()
    upload_dir = Path(settings.index_dir) / "uploads"
    # The extractive answerer is always offered; a variant (its own store and answerer) only
    # when the configured backend is an LLM.
    backends = {"askdocs": assistant}
    if settings.llm != "extractive":
        backends = {
            "askdocs": assistant.variant(llm="extractive"),
            f"askdocs:{settings.llm}": assistant,
        }
    request_limit = int(settings.serve_max_request_mb * 1e6)
    upload_limit = int(settings.ui_max_upload_mb * 1e6) * settings.ui_max_upload_files + (1 << 16)

    def limit_of(path: str, method: str) -> int:
        return upload_limit if method == "POST" and path == "/v1/articles" else request_limit

    app.add_middleware(BodyLimit, limit_of=limit_of)
    if settings.serve_cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.serve_cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )

    app.add_middleware(RequestLog)

    # ------------------------------------------------------------------ errors

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = getattr(exc, "kind", None) or _KINDS.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and not isinstance(exc, ApiError):
            message = f"no route {request.method} {request.url.path}"
        return JSONResponse(
            error_body(exc.status_code, kind, message), exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            "the body is not valid JSON"
            if e["type"] == "json_invalid"
            else f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in exc.errors()
        )
        return JSONResponse(error_body(422, "invalid_request", problems), 422)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        log.exception("error %s on %s %s", error_id, request.method, request.url.path)
        return JSONResponse(
            error_body(500, "internal_error", f"internal error (logged as {error_id})"), 500
        )

    # -------------------------------------------------------------------- auth

    def caller(scope: str):
        def check(request: Request) -> ApiKey:
            if keys:
                token = bearer_token(request.headers.get("authorization"))
                key = find_key(keys, token) if token else None
                if key is None:
                    raise ApiError(
                        401,
                        "unauthorized",
                        "a valid API key is required: Authorization: Bearer <key>",
                        {"WWW-Authenticate": "Bearer"},
                    )
            else:
                key = ANONYMOUS
            request.state.key_id = key.id
            if not key.allows(scope):
                raise ApiError(403, "forbidden", f"key {key.id!r} may not {scope} articles")
            who = key.id if keys else f"ip:{request.client.host if request.client else '-'}"
            wait = limiter.take(who)
            if wait:
                raise ApiError(
                    429,
                    "rate_limited",
                    f"more than {settings.serve_rate_per_minute} requests a minute; "
                    f"retry in {wait:.1f} s",
                    {"Retry-After": str(max(1, round(wait)))},
                )
            return key

        return check

    reader, writer = Depends(caller(READ)), Depends(caller(WRITE))

    class KeyGuard:
        """The MCP endpoint behind the same keys, scopes and rate limits (read scope)."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
            request = Request(scope)
            try:
                caller(READ)(request)
            except ApiError as exc:
                body = error_body(exc.status_code, exc.kind, exc.detail)
                await JSONResponse(body, exc.status_code, headers=exc.headers)(scope, receive, send)
                return
            await self.inner(scope, receive, send)

    mcp_route = next(r for r in mcp_http.routes if getattr(r, "path", None) == "/mcp")
    app.router.routes.append(Route("/mcp", endpoint=KeyGuard(mcp_route.endpoint)))

    def check_question(question: str) -> str:
        if len(question) > settings.serve_max_question_chars:
            raise ApiError(
                413,
                "too_large",
                f"the question has {len(question)} characters, more than the "
                f"{settings.serve_max_question_chars} allowed",
            )
        return question

    # ------------------------------------------------------------------ health

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """The index answers and the embedding model is loaded."""
        try:
            counts = assistant.store.counts()
            assistant.embedder  # noqa: B018 - loads the model once; a failure is "not ready"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready, with its reason
            return JSONResponse(error_body(503, "unavailable", f"not ready: {exc}"), 503)
        return JSONResponse({"status": "ready", **counts})

    # --------------------------------------------------------------- questions

    @app.post("/v1/ask", tags=["questions"])
    async def ask(body: AskBody, request: Request, _: ApiKey = reader) -> Any:
        """The cited answer; `stream: true` sends server-sent events: `delta` events with
        text as it is produced, then one `answer` event with the final, verified answer."""
        question = check_question(body.question)
        history = [(t.role, t.content) for t in body.history]
        filters = body.filters.to_filters() if body.filters else None
        if not body.stream:
            answer = await anyio.to_thread.run_sync(
                lambda: assistant.ask(question, history=history, k=body.k, filters=filters)
            )
            return answer.to_json()
        pieces = assistant.stream(question, history=history, k=body.k, filters=filters)

        async def events() -> AsyncIterator[str]:
            async for piece in pull(pieces, request):
                if isinstance(piece, Answer):
                    data = json.dumps(piece.to_json(), ensure_ascii=False)
                    yield f"event: answer\ndata: {data}\n\n"
                else:
                    data = json.dumps({"text": piece}, ensure_ascii=False)
                    yield f"event: delta\ndata: {data}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/search", tags=["questions"])
    def search(body: SearchBody, _: ApiKey = reader) -> dict[str, Any]:
        """The passages retrieval finds for a query, with exact offsets (no answer)."""
        query = check_question(body.query)
        filters = body.filters.to_filters() if body.filters else None
        retrieved = assistant.pipeline.retrieve(query, body.k, filters)
        return {"query": query, "passages": [passage_to_json(p) for p in retrieved.passages]}

    @app.get("/v1/models", tags=["openai"])
    def models(_: ApiKey = reader) -> dict[str, Any]:
        """OpenAI-compatible model list."""
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "askdocs"} for m in backends
            ],
        }

    @app.post("/v1/chat/completions", tags=["openai"])
    def chat(body: ChatCompletionBody, _: ApiKey = reader) -> Any:
        """OpenAI-compatible: the last user message is the question, earlier turns make
        follow-ups work; the answer cites [n] and lists its sources."""
        backend = backends.get(body.model)
        if backend is None:
            raise ApiError(
                404, "model_not_found", f"no model {body.model!r}; models: {', '.join(backends)}"
            )
        turns = [(m.role, m.text()) for m in body.messages]
        if turns[-1][0] != "user" or not turns[-1][1].strip():
            raise ApiError(422, "invalid_request", "the last message must be the user's question")
        question = check_question(turns[-1][1])
        answer = backend.ask(question, history=oa.history_of(turns[:-1]))
        cid = oa.completion_id()
        if not body.stream:
            return oa.completion(answer, body.model, cid)

        def events() -> Iterator[str]:
            # The deltas carry the verified answer: a generative backend's raw words may lose
            # an unsupported citation on verification, and a stream cannot take words back.
            yield oa.chunk(cid, body.model, {"role": "assistant", "content": ""})
            words = oa.content_of(answer).split(" ")
            for n in range(0, len(words), 8):
                text = " ".join(words[n : n + 8]) + (" " if n + 8 < len(words) else "")
                yield oa.chunk(cid, body.model, {"content": text})
            citations = [c.to_json() for c in answer.citations]
            yield oa.chunk(cid, body.model, {}, "stop", citations=citations)
            yield oa.DONE

        return StreamingResponse(events(), media_type="text/event-stream")

    # ---------------------------------------------------------------- articles

    @contextmanager
    def busy_index() -> Iterator[None]:
        """Another process (a CLI ingest) holding the index's ingest lock is a 409."""
        try:
            yield
        except IndexBusyError as exc:
            raise ApiError(409, "conflict", str(exc)) from None

    @app.get("/v1/articles", tags=["articles"])
    def list_articles(
        offset: int = Query(0, ge=0),
        limit: int = Query(50, ge=1, le=MAX_PAGE),
        outlet: str | None = Query(None, description="only articles of this outlet"),
        q: str | None = Query(None, description="only titles or sources holding this text"),
        _: ApiKey = reader,
    ) -> dict[str, Any]:
        """Indexed articles, sorted by source, a page at a time."""
        records = sorted(assistant.store.indexed_articles().values(), key=lambda r: r.source)
        if outlet:
            records = [r for r in records if r.outlet == outlet]
        if q:
            needle = q.lower()
            records = [r for r in records if needle in r.title.lower() or needle in r.source]
        page = records[offset : offset + limit]
        return {
            "total": len(records),
            "offset": offset,
            "items": [
                {
                    "id": r.id,
                    "title": r.title,
                    "source": r.source,
                    "outlet": r.outlet,
                    "chunks": r.chunks,
                }
                for r in page
            ],
        }

    @app.get("/v1/articles/{article_id}", tags=["articles"])
    def get_article(article_id: str, _: ApiKey = reader) -> dict[str, Any]:
        """The article's text (what citation offsets point into) and metadata."""
        article = assistant.store.get_articles([article_id]).get(article_id)
        if article is None:
            raise ApiError(404, "not_found", f"no article {article_id!r}")
        return {
            "id": article.id,
            "title": article.title,
            "source": article.source,
            "published": article.published.isoformat() if article.published else None,
            "metadata": article.metadata,
            "text": article.text,
        }

    @app.delete("/v1/articles/{article_id}", tags=["articles"])
    def delete_article(article_id: str, _: ApiKey = writer) -> dict[str, Any]:
        """Remove one article by id."""
        if not assistant.store.article_records([article_id]):
            raise ApiError(404, "not_found", f"no article {article_id!r}")
        with ingest_lock, busy_index():
            removed = assistant.remove(article_id)
        return {"removed": removed}

    @app.post("/v1/articles", tags=["articles"])
    def upload(files: Annotated[list[UploadFile], File()], _: ApiKey = writer) -> dict[str, Any]:
        """Index uploaded files (same types and limits as the chat page); one report each."""
        from askdocs.ui import safe_upload_name

        if len(files) > settings.ui_max_upload_files:
            raise ApiError(
                413,
                "too_large",
                f"{len(files)} files is more than the {settings.ui_max_upload_files} allowed",
            )
        skipped, accepted = [], []
        upload_dir.mkdir(parents=True, exist_ok=True)
        limit = int(settings.ui_max_upload_mb * 1e6)
        for item in files:
            name = safe_upload_name(item.filename or "upload")
            if Path(name).suffix not in SUPPORTED_SUFFIXES:
                reason = f"unsupported file type {Path(name).suffix or '(none)'}"
                skipped.append({"path": name, "status": "skipped", "reason": reason})
                continue
            data = item.file.read(limit + 1)
            if len(data) > limit:
                reason = f"larger than the {settings.ui_max_upload_mb:g} MB limit"
                skipped.append({"path": name, "status": "skipped", "reason": reason})
                continue
            target = upload_dir / name
            target.write_bytes(data)
            accepted.append(target)
        report: dict[str, Any] = {"files": []}
        if accepted:
            with ingest_lock, busy_index():
                report = assistant.ingest(accepted).to_json()
        report["files"] = [*skipped, *report["files"]]
        return report

    @app.post("/v1/articles/fetch", tags=["articles"])
    def fetch(body: FetchBody, _: ApiKey = writer) -> dict[str, Any]:
        """Fetch and index web pages and RSS/Atom feeds (a URL serving a feed is followed
        too). Loopback, private and link-local addresses are refused unless the server's
        `fetch_allow_private` setting allows them; each URL gets its own report row."""
        urls = list(dict.fromkeys(body.urls))
        wrong = [u for u in [*urls, *body.feeds] if not is_url(u)]
        if wrong:
            raise ApiError(422, "invalid_request", f"not an http(s) URL: {wrong[0][:200]}")
        if not (urls or body.feeds):
            raise ApiError(422, "invalid_request", "give urls or feeds")
        with ingest_lock, busy_index():
            return assistant.ingest(urls, feeds=body.feeds).to_json()

    return app
