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

# What a browser needs to show the login form; nothing here reads the index or runs a model.
LOGIN_PAGE = re.compile(
    r"^/(|login/?|logout|login_check|favicon\.ico|manifest\.json|robots\.txt|theme\.css|"
    r"assets/.*|static/.*|svelte/.*|gradio_api/theme\.css|gradio_api/startup-events|"
    r"gradio_api/heartbeat/.*|heartbeat/.*|monitoring.*|pwa_icon.*|__gradio_.*)$"
)


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
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    request.add_header("Content-Type", "application/json")
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, TimeoutError):
        return 0


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
        for path, methods in _routes(demo.app.routes):
            if not path or LOGIN_PAGE.match(path):
                continue
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            for method in sorted(methods & {"GET", "POST"}):
                checked += 1
                code = _status(base + concrete, method)
                if code not in (401, 403, 404, 405, 302, 307, 0):
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
