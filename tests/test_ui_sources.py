"""The chat page's "Add articles" box: PDF and Word uploads, and web pages and feeds by URL,
with the same limits (and address refusal) as `askdocs ingest`."""

from __future__ import annotations

from pathlib import Path

import pytest

from askdocs.api import Assistant
from askdocs.ui import ChatApp, escape_text
from news_site import NewsSite
from test_web_sources import REPORT_PAGES, _pdf


@pytest.fixture
def app(assistant: Assistant) -> ChatApp:
    return ChatApp(assistant)


def test_pdf_and_docx_uploads_are_indexed(app: ChatApp, tmp_path: Path) -> None:
    import docx

    pdf = tmp_path / "harbour report.pdf"
    pdf.write_bytes(_pdf(REPORT_PAGES, title="Harbour report"))
    document = docx.Document()
    document.add_paragraph("Council budget briefing")
    document.add_paragraph("The council will spend 3.2 million pounds on road repairs.")
    word = tmp_path / "budget.docx"
    document.save(word)
    table, stats, _ = app.upload([str(pdf), str(word)])
    assert f"| {escape_text('harbour_report.pdf')} | indexed |" in table
    assert "| budget.docx | indexed |" in table
    assert stats.startswith("**2** articles")


def test_urls_are_fetched_and_private_addresses_refused(app: ChatApp, assistant: Assistant) -> None:
    with NewsSite() as site:
        table, _, _ = app.add_urls(f"{site.url('/news/bridge.html')}\nnot a url\n")
        assert "| not a url | skipped | not an http:// or https:// URL |" in table
        assert escape_text("non-public address (127.0.0.1)") in table and not site.hits

        app.assistant = assistant.variant(fetch_allow_private=True)
        table, stats, _ = app.add_urls(site.url("/feeds/atom.xml"))
        host = site.base.split("://", 1)[1]
        assert f"| {host}/news/orchard.html | indexed |" in table
        assert stats.startswith("**1** articles")
    assert app.add_urls("  \n")[0] == "No URL given."
