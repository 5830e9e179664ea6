"""The chat page's exposure: with a login set, every route refuses anonymous requests."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from askdocs.api import Assistant
from conftest import free_port
from faults import Recorder

# Exactly what the product leaves open so that a browser can show the login form (the same
# list as askdocs.ui._OPEN_WITHOUT_LOGIN, written out again here: a route added to the
# product's list must be added here too, deliberately). Nothing here reads the index.
LOGIN_PAGE = re.compile(
    r"^/(|login/?|logout/?|favicon\.ico|manifest\.json|robots\.txt|theme\.css|"
    r"gradio_api/theme\.css|gradio_api/startup-events|pwa_icon(/.*)?|assets/.*|static/.*|svelte/.*)$"
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Routes Gradio serves that its route table may not list, and made-up ones: the middleware
# must refuse them too, not leave them to a 404 that might one day become a 200.
EXTRA_PATHS = (
    "/gradio_api/heartbeat/x", "/heartbeat/x", "/monitoring", "/monitoring/x", "/__gradio_x",
    "/login_check", "/gradio_api/queue/data", "/gradio_api/upload", "/gradio_api/file=x",
    "/no-such-route",
)  # fmt: skip


def _routes(routes: list[object], prefix: str = "") -> list[tuple[str, set[str]]]:
    """Every (path, methods) of the app, including routers it includes (Gradio's API)."""
    found = []
    for route in routes:
        if hasattr(route, "original_router"):  # a FastAPI router included with a prefix
            inner = prefix + (getattr(route.include_context, "prefix", "") or "")
            found += _routes(route.original_router.routes, inner)
        else:
            methods = set(getattr(route, "methods", None) or {"GET"})
            found.append((prefix + getattr(route, "path", ""), methods))
    return found


def _status(url: str, method: str) -> int:
    """The status code; a timeout or a dropped connection raises (it is not a refusal)."""
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    request = urllib.request.Request(url, method=method, data=body)
    request.add_header("Content-Type", "application/json")
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_every_route_refuses_anonymous_requests(
    ingested: Assistant, monkeypatch: pytest.MonkeyPatch, record: Recorder
) -> None:
    from askdocs.ui import launch

    monkeypatch.setenv("ASKDOCS_UI_AUTH", "ann:secret")
    port = free_port()
    demo = launch(ingested, port=port, block=False)
    base = f"http://127.0.0.1:{port}"
    open_routes, checked = [], 0
    try:
        paths = [re.sub(r"\{[^}]+\}", "x", path) for path, _ in _routes(demo.app.routes)]
        for path in sorted({p for p in [*paths, *EXTRA_PATHS] if p and not LOGIN_PAGE.match(p)}):
            for method in METHODS:
                checked += 1
                try:
                    code = _status(base + path, method)
                except OSError as exc:  # a timeout is a failure, not a refusal
                    code = f"no answer ({exc})"
                if code != 401:
                    open_routes.append(f"{method} {path} -> {code}")
        assert _status(f"{base}/gradio_api/info", "GET") == 401
        # and the right login opens them
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        form = urllib.parse.urlencode({"username": "ann", "password": "secret"}).encode()
        opener.open(f"{base}/login", data=form, timeout=10)
        assert opener.open(f"{base}/config", timeout=10).status == 200
        assert opener.open(f"{base}/gradio_api/info", timeout=10).status == 200
    finally:
        demo.close()
    record(
        "UI exposure", "anonymous requests to every route with ASKDOCS_UI_AUTH set",
        trials=checked, failures=len(open_routes), detail="; ".join(open_routes),
    )  # fmt: skip
    assert not open_routes
