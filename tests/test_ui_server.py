"""The chat page's server guards: login, bind address warning."""

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from askdocs import cli as cli_module
from askdocs.api import Assistant
from conftest import FakeEmbeddings, free_port


def status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_login_form_is_open_and_the_app_is_not(
    ingested: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from askdocs.ui import launch

    monkeypatch.setenv("ASKDOCS_UI_AUTH", "ann:secret")
    port = free_port()
    demo = launch(ingested, port=port, block=False)
    # Every route, with every method, is probed in the fault suite (test_ui_exposure.py).
    try:
        base = f"http://127.0.0.1:{port}"
        assert status(f"{base}/") == 200  # the login form
        assert status(f"{base}/config") == 401
        assert status(f"{base}/gradio_api/info") == 401
    finally:
        demo.close()


def test_malformed_login_setting_is_refused(
    ingested: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from askdocs.ui import launch

    monkeypatch.setenv("ASKDOCS_UI_AUTH", "no-password")
    with pytest.raises(ValueError, match="user:password"):
        launch(ingested, port=free_port(), block=False)


def test_binding_beyond_localhost_without_login_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr("askdocs.api.make_embedder", lambda settings: FakeEmbeddings())
    monkeypatch.setattr("askdocs.ui.launch", lambda assistant, **kw: calls.append(kw))
    monkeypatch.delenv("ASKDOCS_UI_AUTH", raising=False)
    result = CliRunner().invoke(
        cli_module.cli, ["ui", "--host", "0.0.0.0", "--index", str(tmp_path / "i")]
    )
    assert result.exit_code == 0
    assert "without a login" in result.stderr
    assert calls == [{"host": "0.0.0.0", "port": 7860}]
