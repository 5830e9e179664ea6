"""Web pages, feeds, PDFs and Word files as sources (issue #16), against a real HTTP server on
127.0.0.1 (tests/news_site.py) and, for address checks, httpx's mock transport."""

from __future__ import annotations

import gzip
import io
from datetime import date
from pathlib import Path

import httpx
import pytest

from askdocs.api import Assistant
from askdocs.index.store import chunk_texts
from askdocs.loaders import Fetcher, FetchError, FetchLimits, load_file
from askdocs.loaders.common import LoadError
from askdocs.loaders.pdf import article_from_pdf
from news_site import BOILERPLATE, GONE_ENTRY_TEXT, STORIES, NewsSite

LIMIT = 10_000_000


@pytest.fixture
def site() -> NewsSite:
    with NewsSite(slow_seconds=3.0) as running:
        yield running


@pytest.fixture
def web_assistant(tmp_path: Path, fake_embedder) -> Assistant:
    # The tests' own server is on 127.0.0.1, which the product refuses unless told otherwise.
    return Assistant(
        index_dir=tmp_path / "index",
        embedder=fake_embedder,
        abstain_threshold=0,
        fetch_allow_private=True,
        fetch_timeout=1.0,
    )


def _articles(assistant: Assistant) -> dict[str, object]:
    store = assistant.store
    ids = list(store.indexed_articles())
    return {a.source: a for a in store.get_articles(ids).values()} if ids else {}


def _all_chunk_text(assistant: Assistant) -> str:
    return "\n".join(chunk_texts(assistant.store.chunks.get(include=["documents", "metadatas"])))


# ------------------------------------------------------------------ pages and feeds


def test_feeds_index_each_story_without_the_page_boilerplate(
    web_assistant: Assistant, site: NewsSite
) -> None:
    report = web_assistant.ingest([site.url("/feeds/rss.xml")], feeds=[site.url("/feeds/atom.xml")])
    assert report.added == 4 and not report.failed, report.to_json()
    articles = _articles(web_assistant)
    for slug, story in STORIES.items():
        article = articles[site.url(f"/news/{slug}.html")]
        assert article.title == story["title"]
        assert article.published == date.fromisoformat(story["date"])
        assert article.metadata["outlet"] == "The Coastal Courier"
        assert article.metadata["author"] == story["author"]
        for paragraph in story["paragraphs"]:
            assert paragraph in article.text
    indexed_text = "\n".join(a.text for a in articles.values()) + _all_chunk_text(web_assistant)
    leaked = [line for line in BOILERPLATE if line in indexed_text]
    assert not leaked, f"boilerplate indexed: {leaked}"
    # The entry whose page is gone is indexed from the feed's own text, with a warning.
    gone = articles[site.url("/news/gone.html")]
    assert GONE_ENTRY_TEXT in gone.text and gone.title == "Ferry crews vote to strike"
    assert gone.published == date(2024, 3, 11)
    [result] = [f for f in report.files if f.path == site.url("/news/gone.html")]
    assert "HTTP 404" in result.warnings[0]


def test_a_second_run_fetches_nothing_new(web_assistant: Assistant, site: NewsSite) -> None:
    sources = [site.url("/feeds/rss.xml"), site.url("/news/orchard.html")]
    first = web_assistant.ingest(sources, feeds=[site.url("/feeds/atom.xml")])
    assert first.added == 4
    site.hits.clear()
    second = web_assistant.ingest(sources, feeds=[site.url("/feeds/atom.xml")])
    assert second.added == second.updated == 0 and not second.failed
    assert second.unchanged >= 4
    # Only the feeds and the page were asked "changed since?"; no entry page was fetched.
    assert {path for path in site.hits if path.startswith("/news/")} == {"/news/orchard.html"}
    assert site.hits["/feeds/rss.xml"] == site.hits["/feeds/atom.xml"] == 1


def test_lost_fetch_cache_costs_requests_not_articles(
    web_assistant: Assistant, site: NewsSite
) -> None:
    web_assistant.ingest([site.url("/feeds/rss.xml")])
    (web_assistant.settings.index_dir / "web-sources.json").unlink()
    site.hits.clear()
    again = web_assistant.ingest([site.url("/feeds/rss.xml")])
    assert again.added == 0 and again.unchanged == 3
    assert not [p for p in site.hits if p.startswith("/news/")]


def test_each_failing_url_gets_its_reason_and_the_run_goes_on(
    web_assistant: Assistant, site: NewsSite
) -> None:
    failing = {
        "/missing": "HTTP 404",
        "/slow": "timed out after 1 s",
        "/huge": "larger than 10 MB",
        "/image.png": "content type image/png",
        "/loop-a": "redirect loop",
        "/feeds/broken.xml": "malformed feed",
    }
    good = site.url("/news/bridge.html")
    report = web_assistant.ingest([*map(site.url, failing), good])
    reasons = {f.path: f.reason for f in report.failed}
    for path, reason in failing.items():
        assert reason in reasons[site.url(path)], reasons
    assert [f.path for f in report.files if f.status == "indexed"] == [good]


def test_redirects_are_followed_and_the_final_url_is_the_source(
    web_assistant: Assistant, site: NewsSite
) -> None:
    report = web_assistant.ingest([site.url("/moved")])
    assert [f.path for f in report.files] == [site.url("/news/school.html")]


def test_private_addresses_are_refused_before_any_request(
    tmp_path: Path, fake_embedder, site: NewsSite
) -> None:
    guarded = Assistant(index_dir=tmp_path / "index", embedder=fake_embedder)
    report = guarded.ingest([site.url("/news/bridge.html")], feeds=[site.url("/feeds/rss.xml")])
    assert [f.status for f in report.files] == ["skipped", "skipped"]
    assert all("non-public address (127.0.0.1)" in f.reason for f in report.files)
    assert not site.hits  # refused before connecting, not after


# ------------------------------------------------------------- the fetcher itself


def _fetcher(handler, resolve, **limits) -> Fetcher:
    return Fetcher(FetchLimits(**limits), transport=httpx.MockTransport(handler), resolve=resolve)


def test_fetch_connects_to_the_checked_address_with_the_original_host() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, html="<p>ok</p>")

    fetcher = _fetcher(handler, lambda host, port: ["93.184.216.34"])
    fetcher.get("https://news.example/story", ["text/html"])
    [request] = seen
    assert request.url.host == "93.184.216.34"
    assert request.headers["host"] == "news.example"
    assert request.extensions["sni_hostname"] == "news.example"


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.7"], ["169.254.169.254"], ["93.184.216.34", "192.168.1.1"], ["::ffff:127.0.0.1"]],
)
def test_names_resolving_to_non_public_addresses_are_refused(addresses: list[str]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    fetcher = _fetcher(handler, lambda host, port: addresses)
    with pytest.raises(FetchError, match="non-public address"):
        fetcher.get("http://intranet.example/", ["text/html"])


def test_a_redirect_to_a_private_address_is_refused() -> None:
    addresses = {"news.example": ["93.184.216.34"], "metadata.internal": ["169.254.169.254"]}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["host"] == "news.example", "the private hop must not be sent"
        return httpx.Response(302, headers={"Location": "http://metadata.internal/latest"})

    fetcher = _fetcher(handler, lambda host, port: addresses[host])
    with pytest.raises(FetchError, match=r"metadata.internal resolves to a non-public"):
        fetcher.get("http://news.example/", ["text/html"])


def test_too_many_redirects_and_bad_schemes_are_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.path.strip("/") or 0)
        return httpx.Response(302, headers={"Location": f"/{n + 1}"})

    fetcher = _fetcher(handler, lambda host, port: ["93.184.216.34"], max_redirects=3)
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetcher.get("http://news.example/", ["text/html"])
    with pytest.raises(FetchError, match="only http"):
        fetcher.get("file:///etc/passwd", ["text/html"])


def test_a_small_gzip_bomb_stays_small() -> None:
    bomb = gzip.compress(b"<p>" + b"a" * 3_000_000 + b"</p>")

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/html"}
        return httpx.Response(200, content=bomb, headers=headers)

    fetcher = _fetcher(handler, lambda host, port: ["93.184.216.34"], max_bytes=1_000_000)
    assert len(bomb) < 1_000_000
    with pytest.raises(FetchError, match="once decompressed"):
        fetcher.get("http://news.example/", ["text/html"])


def test_not_modified_comes_back_without_a_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["if-none-match"] == '"v1"'
        return httpx.Response(304, headers={"ETag": '"v1"'})

    fetcher = _fetcher(handler, lambda host, port: ["93.184.216.34"])
    fetched = fetcher.get("http://news.example/feed", ["application/rss+xml"], {"etag": '"v1"'})
    assert fetched.not_modified and fetched.body == b""


# ----------------------------------------------------------------- PDF and Word


def _pdf(pages: list[list[str]], **meta: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for key, value in meta.items():
        getattr(pdf, f"set_{key}")(value)
    for paragraphs in pages:
        pdf.add_page()
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(4)
    return bytes(pdf.output())


REPORT_PAGES = [
    [
        "Harbour authority annual report",
        "The harbour handled 2.4 million tonnes of cargo last year, up from 2.1 million tonnes "
        "the year before, as the new container berth opened in the spring.",
    ],
    [
        "The board appointed Ingrid Solberg as harbour master from January, replacing Owen "
        "Pryce, who retires after twenty-two years in the post.",
    ],
]


def test_pdf_text_is_loaded_by_page_with_wrapped_lines_joined(tmp_path: Path) -> None:
    path = tmp_path / "harbour-report.pdf"
    path.write_bytes(_pdf(REPORT_PAGES, title="Harbour report 2024", author="Harbour Board"))
    [article] = load_file(path, LIMIT).articles
    assert article.title == "Harbour report 2024"
    assert article.metadata["author"] == "Harbour Board"
    assert article.metadata["pages"] == "2"
    # The long sentences were wrapped over several lines on the page; each is one line again.
    for paragraph in (*REPORT_PAGES[0][1:], *REPORT_PAGES[1]):
        assert paragraph in article.text.splitlines()
    second_page = int(article.metadata["page_starts"].split(",")[1])
    assert article.text.index("Ingrid Solberg") > second_page > article.text.index("2.4 million")


def test_pdf_answers_cite_the_page(web_assistant: Assistant, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "harbour-report.pdf").write_bytes(_pdf(REPORT_PAGES, title="Harbour report"))
    web_assistant.ingest([folder])
    answer = web_assistant.ask("Who did the board appoint as harbour master?")
    cited = [c for c in answer.citations if "Ingrid Solberg" in c.quote]
    assert cited, answer.to_json()
    assert cited[0].page == 2 and ", p. 2, characters" in cited[0].where()


def test_bad_pdfs_get_reasons(tmp_path: Path) -> None:
    from fpdf import FPDF

    scanned = FPDF()
    scanned.add_page()
    scanned.rect(20, 20, 100, 60, style="F")  # a page with a picture and no text layer
    encrypted = FPDF()
    encrypted.set_encryption(owner_password="owner-secret", user_password="reader-secret")
    encrypted.add_page()
    encrypted.set_font("helvetica", size=11)
    encrypted.cell(0, 10, "Secret minutes of the harbour board.")
    good = _pdf(REPORT_PAGES)
    cases = {
        "scanned.pdf": (bytes(scanned.output()), "no text layer"),
        "encrypted.pdf": (bytes(encrypted.output()), "encrypted PDF"),
        "truncated.pdf": (good[: len(good) // 3], "corrupt PDF"),
        "not-a.pdf": (b"%PDF-1.7\n this is not really a PDF at all\n", "corrupt PDF"),
    }
    for name, (data, reason) in cases.items():
        (tmp_path / name).write_bytes(data)
        result = load_file(tmp_path / name, LIMIT)
        assert result.error and reason in result.error, (name, result.error)


def test_pdf_with_too_many_pages_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("askdocs.loaders.pdf.MAX_PDF_PAGES", 1)
    with pytest.raises(LoadError, match="2 pages, more than 1"):
        article_from_pdf("x.pdf", "x", _pdf(REPORT_PAGES))


def test_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Council budget briefing"
    document.core_properties.author = "Finance desk"
    document.add_heading("Council budget briefing", level=1)
    document.add_paragraph("The council will spend 3.2 million pounds on road repairs in 2025.")
    document.add_paragraph("Councillor Amir Haddad said potholes were residents' top complaint.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Roads", "3.2m"
    table.cell(1, 0).text, table.cell(1, 1).text = "Libraries", "0.4m"
    buffer = io.BytesIO()
    document.save(buffer)
    (tmp_path / "budget.docx").write_bytes(buffer.getvalue())
    [article] = load_file(tmp_path / "budget.docx", LIMIT).articles
    assert article.title == "Council budget briefing"
    assert article.metadata["author"] == "Finance desk"
    assert "Councillor Amir Haddad said potholes were residents' top complaint." in article.text
    assert "Libraries | 0.4m" in article.text.splitlines()


def test_bad_docx_gets_a_reason(tmp_path: Path) -> None:
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    result = load_file(tmp_path / "broken.docx", LIMIT)
    assert result.error and "not a readable Word file" in result.error


def test_a_failed_entry_is_retried_on_the_next_run(
    web_assistant: Assistant, site: NewsSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The school page is down and the feed's text of it is missing too: that entry fails.
    real_handle = site.handle
    down = [True]

    def handle(handler, path: str) -> None:
        if path == "/news/school.html" and down[0]:
            down[0] = False  # back up for the next run
            NewsSite._send(handler, 503, b"busy", "text/html")
        else:
            real_handle(handler, path)

    from askdocs.loaders import web

    real_entry = web._article_from_entry

    def feed_text(link: str, *args: object) -> object:
        if link.endswith("/school.html"):
            raise LoadError("the feed has no text for this entry")
        return real_entry(link, *args)

    monkeypatch.setattr(site, "handle", handle)
    monkeypatch.setattr(web, "_article_from_entry", feed_text)
    first = web_assistant.ingest([site.url("/feeds/rss.xml")])
    assert [f.reason for f in first.failed] == ["HTTP 503; the feed has no text for this entry"]
    site.hits.clear()
    second = web_assistant.ingest([site.url("/feeds/rss.xml")])
    assert [f.path for f in second.files if f.status == "indexed"] == [
        site.url("/news/school.html")
    ]
    # Only the failed entry was fetched again (the gone page's entry was indexed from the feed).
    assert {p for p in site.hits if p.startswith("/news/")} == {"/news/school.html"}


def test_an_extractor_crash_is_a_reason_not_a_failed_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trafilatura

    def crash(*args: object, **kwargs: object) -> None:
        raise ValueError("unexpected markup")

    monkeypatch.setattr(trafilatura, "bare_extraction", crash)
    (tmp_path / "odd.html").write_text("<html><body><p>Some story text here.</p></body></html>")
    result = load_file(tmp_path / "odd.html", LIMIT)
    assert result.error == "could not extract the page's text (ValueError)"
