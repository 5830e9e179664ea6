"""The CLI through its real entry point (click's runner in-process, and one real subprocess)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from askdocs import cli as cli_module
from conftest import FakeEmbeddings


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("askdocs.api.make_embedder", lambda settings: FakeEmbeddings())
    # The fitted refusal rules are calibrated on the real model's similarities, not the fake's.
    monkeypatch.setenv("ASKDOCS_ABSTAIN_THRESHOLD", "0")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_module.cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_ingest_ask_stats_remove(tmp_path: Path, articles_dir: Path) -> None:
    index = str(tmp_path / "index")
    code, out, err = run("--index", index, "ingest", str(articles_dir))
    assert code == 0, err
    assert "indexed" in err and "line 2 skipped: malformed JSON" in err

    code, out, _ = run("--index", index, "ask", "How much will the new Harbourton bridge cost?")
    assert code == 0
    assert "£12 million" in out
    assert "Sources:\n[1] Harbourton council approves new harbour bridge" in out

    code, out, _ = run("--index", index, "check")
    assert code == 0 and out.startswith("index OK: 6 articles")

    code, out, _ = run("--index", index, "stats", "--json")
    assert json.loads(out)["articles"] == 6

    code, out, _ = run("--index", index, "remove", str(articles_dir / "chess-title.md"))
    assert code == 0 and "removed 1 article" in out
    code, _, err = run("--index", index, "remove", "nothing-like-this")
    assert code == 2 and "no indexed article matches" in err


def test_ask_json_has_the_documented_fields(tmp_path: Path, articles_dir: Path) -> None:
    index = str(tmp_path / "index")
    run("--index", index, "ingest", str(articles_dir))
    code, out, _ = run(
        "--index", index, "ask", "Who chairs the apple cooperative?", "--json", "-k", "3"
    )
    assert code == 0
    answer = json.loads(out)
    assert {"text", "abstained", "citations", "passages"} <= answer.keys()
    assert len(answer["passages"]) == 3
    citation = answer["citations"][0]
    assert {"key", "article_id", "title", "source", "start", "end", "quote"} <= citation.keys()
    assert "Mara Quist" in citation["quote"]


def test_ingest_json_report(tmp_path: Path, articles_dir: Path) -> None:
    code, out, _ = run("--index", str(tmp_path / "i"), "ingest", "--json", str(articles_dir))
    report = json.loads(out)
    assert code == 0 and report["added"] == 6 and report["skipped"] == 0


def test_user_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    code, _, err = run("--index", str(tmp_path / "none"), "ask", "Anything?")
    assert code == 2 and "no index at" in err and "askdocs ingest" in err
    code, _, err = run("--index", str(tmp_path / "i"), "ingest", str(tmp_path / "missing"))
    assert code == 2 and "no such file or folder" in err
    code, _, err = run("--index", str(tmp_path / "i"), "ingest", str(tmp_path))
    code, _, err = run("--index", str(tmp_path / "i"), "ask", "  ")
    assert code == 2 and "question is empty" in err


def test_invalid_setting_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASKDOCS_K", "zero")
    code, _, err = run("--index", str(tmp_path / "i"), "stats")
    assert code == 2 and "invalid settings: k:" in err


def test_chat_answers_follow_ups(tmp_path: Path, articles_dir: Path) -> None:
    index = str(tmp_path / "index")
    run("--index", index, "ingest", str(articles_dir))
    result = CliRunner().invoke(
        cli_module.cli,
        ["--index", index, "chat"],
        input="Who won the Northfield regional chess championship?\n"
        "Where will she play in the national finals?\n",
    )
    assert result.exit_code == 0
    assert "Priya Nair" in result.stdout and "Leeds" in result.stdout
    assert "(searched for: Who won the Northfield" in result.stdout


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from askdocs.cli import main; sys.argv=['askdocs','--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('chromadb', 'langchain_core', 'torch', 'sentence_transformers') "
        "if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage: askdocs" in out.stdout
    assert "HEAVY []" in out.stdout


def test_retrieval_mode_is_a_flag(tmp_path: Path, articles_dir: Path) -> None:
    index = str(tmp_path / "index")
    assert run("--index", index, "ingest", str(articles_dir))[0] == 0
    for mode in ("hybrid", "dense", "keyword"):
        code, out, _ = run(
            "--index", index, "ask", "Who won the chess championship?", "--retrieval", mode,
            "--json",
        )  # fmt: skip
        assert code == 0 and "Priya Nair" in json.loads(out)["text"], mode
    code, _, err = run("--index", index, "ask", "Who?", "--retrieval", "psychic")
    assert code == 2 and "psychic" in err


def test_ingest_urls_feeds_and_url_lists_report_per_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from news_site import NewsSite

    index = str(tmp_path / "index")
    with NewsSite() as site:
        # Loopback is refused by default: the refusal is the report, not a crash.
        code, out, _ = run("--index", index, "ingest", site.url("/news/bridge.html"), "--json")
        assert code == 0
        [refused] = json.loads(out)["files"]
        assert refused["status"] == "skipped" and "non-public address" in refused["reason"]
        assert not site.hits

        monkeypatch.setenv("ASKDOCS_FETCH_ALLOW_PRIVATE", "true")
        url_list = tmp_path / "urls.txt"
        url_list.write_text(f"# morning reading\n{site.url('/news/bridge.html')}\n\n")
        code, out, _ = run(
            "--index", index, "ingest", "--urls", str(url_list),
            "--feed", site.url("/feeds/atom.xml"), site.url("/missing"), "--json",
        )  # fmt: skip
        assert code == 0
        rows = {f["path"]: (f["status"], f["reason"]) for f in json.loads(out)["files"]}
        assert rows == {
            site.url("/news/bridge.html"): ("indexed", ""),
            site.url("/news/orchard.html"): ("indexed", ""),
            site.url("/missing"): ("skipped", "HTTP 404"),
        }
        code, out, _ = run("--index", index, "ask", "How many steel cables did engineers replace?")
        assert code == 0 and "312 steel cables" in out
        assert f"{site.url('/news/bridge.html')}, characters" in out

    bad_list = tmp_path / "bad.txt"
    bad_list.write_text("ftp://example.org/x\n")
    code, _, err = run("--index", index, "ingest", "--urls", str(bad_list))
    assert code == 2 and "not an http(s) URL: ftp://example.org/x" in err
    code, _, err = run("--index", index, "ingest", "--feed", "feeds.xml")
    assert code == 2 and "--feed needs an http:// or https:// URL" in err
    code, _, err = run("--index", index, "ingest")
    assert code == 2 and "give files, folders or URLs" in err
