"""The chat page in a real browser: Playwright driving Debian's Chromium against `app.py`.

On a machine without Chromium these tests skip with a message; in CI (CI=true) they must run.
Screenshots land in test-output/browser/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, free_port, wait_until_serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = REPO / "test-output" / "browser"
EXAMPLES = REPO / "examples" / "articles"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: install Debian's chromium")
    pytest.skip("browser tests need Chromium: apt-get install chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    index = tmp_path_factory.mktemp("ui") / "index"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    askdocs = Path(sys.executable).parent / "askdocs"
    subprocess.run([askdocs, "--index", index, "ingest", EXAMPLES], check=True, env=env)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, REPO / "app.py", "--index", index, "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(url, process, 120, "the chat page")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


def ask(page: object, question: str, answers_before: int) -> float:
    """Type a question, wait until its answer is final; returns seconds to the first token."""
    page.fill("#askdocs-question textarea", question)
    started = time.monotonic()
    page.keyboard.press("Enter")
    bot = page.locator("#askdocs-chat .message.bot, #askdocs-chat [data-testid='bot']")
    page.wait_for_function(
        "([n]) => document.querySelectorAll('#askdocs-chat [data-testid=\"bot\"]').length > n"
        " && document.querySelectorAll('#askdocs-chat [data-testid=\"bot\"]')[n].innerText.trim()",
        arg=[answers_before],
        timeout=60_000,
    )
    first_token = time.monotonic() - started
    page.wait_for_function(
        "([n]) => { const m = document.querySelectorAll('#askdocs-chat [data-testid=\"bot\"]')[n];"
        " return m && m.querySelector('.askdocs-cite, .askdocs-abstained'); }",
        arg=[answers_before],
        timeout=60_000,
    )
    assert bot.count() >= answers_before + 1
    return first_token


def _write_timings(timings: dict) -> None:
    """Seconds from Enter to the answer's first words: into test-output/, and with
    ASKDOCS_RECORD_UI=1 into benchmarks/results/ui-timings.json (the README's figures)."""
    text = json.dumps({k: _rounded(v) for k, v in timings.items()}, indent=2) + "\n"
    (SCREENSHOTS / "timings.json").write_text(text)
    if os.environ.get("ASKDOCS_RECORD_UI"):
        (REPO / "benchmarks" / "results" / "ui-timings.json").write_text(text)


def _rounded(value: object) -> object:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return round(value, 2) if isinstance(value, float) else value


def last_bot_text(page: object) -> str:
    return page.locator("#askdocs-chat [data-testid='bot']").last.inner_text()


def test_chat_cite_follow_up_upload_and_abstain(
    app_url: str, browser: object, tmp_path: Path
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    page.goto(app_url)
    page.wait_for_selector("#askdocs-question textarea")

    started = time.monotonic()
    first_token = ask(page, "Who did Rubio accuse?", 0)
    full_answer = time.monotonic() - started
    timings = {"first_question": {"first_words_s": first_token, "full_answer_s": full_answer}}
    answer = last_bot_text(page)
    assert "accused the Venezuelan government" in answer
    page.screenshot(path=SCREENSHOTS / "answer-with-citations.png")

    page.locator("#askdocs-chat .askdocs-cite").first.click()
    page.wait_for_selector("#askdocs-passage mark")
    highlighted = page.inner_text("#askdocs-passage mark").strip()
    article = (EXAMPLES / "rubio-accuses-venezuela.txt").read_text()
    assert highlighted in article and len(highlighted) > 40
    assert highlighted in answer  # the sentence cited as [1] is the one highlighted
    page.screenshot(path=SCREENSHOTS / "opened-citation.png")

    later = [ask(page, "And how many personnel were committed?", 1)]
    assert "Searched for" in page.inner_text("#askdocs-sources")
    assert "Rubio" in page.inner_text("#askdocs-sources")  # the rewritten, standalone question
    assert "7,500 personnel" in last_bot_text(page)

    new_article = tmp_path / "Harbour bridge (draft).txt"
    new_article.write_text(
        "Harbourton approves a footbridge\n"
        "Harbourton council approved a footbridge that will cost £12 million, the mayor said.\n"
    )
    page.locator("#askdocs-upload-box").click()
    page.set_input_files("#askdocs-upload input[type=file]", str(new_article))
    page.wait_for_function(
        "() => document.querySelector('#askdocs-upload-report').innerText.includes('indexed')",
        timeout=60_000,
    )
    assert "Harbour_bridge_draft.txt" in page.inner_text("#askdocs-upload-report")
    assert "2" in page.inner_text("#askdocs-stats")
    later.append(ask(page, "How much will the Harbourton footbridge cost?", 2))
    assert "£12 million" in last_bot_text(page)

    later.append(ask(page, "How do I bake sourdough bread?", 3))
    assert "I could not find this in the articles." in last_bot_text(page)
    timings["later_questions_first_words_s"] = later
    _write_timings(timings)
    assert "Related, but not answering" in page.inner_text("#askdocs-sources")
    page.screenshot(path=SCREENSHOTS / "abstention.png")


def test_two_sessions_keep_their_own_conversations(app_url: str, browser: object) -> None:
    pages = [browser.new_context().new_page() for _ in range(2)]
    for page in pages:
        page.goto(app_url)
        page.wait_for_selector("#askdocs-question textarea")
    questions = ["Who did Rubio accuse?", "How many personnel were committed to the Haiti effort?"]
    for page, question in zip(pages, questions, strict=True):
        page.fill("#askdocs-question textarea", question)
    for page in pages:  # both in flight at once
        page.press("#askdocs-question textarea", "Enter")
    for page in pages:
        page.wait_for_selector("#askdocs-chat .askdocs-cite", timeout=60_000)
    assert "Venezuelan government" in last_bot_text(pages[0])
    assert "7,500" in last_bot_text(pages[1])
    for page in pages:
        assert page.locator("#askdocs-chat [data-testid='user']").count() == 1
