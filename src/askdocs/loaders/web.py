"""URLs and RSS/Atom feeds as sources: each page or feed entry becomes a LoadedFile.

What was seen is remembered in a small JSON cache beside the index (HTTP validators per URL,
the articles each URL gave): a re-run asks the server "changed since?" and fetches no entry
whose article is already indexed. The cache only saves requests; losing it costs one full
fetch of each feed, never an article (entries already indexed are recognised by their id).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Container, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from askdocs.loaders.common import (
    LoadedFile,
    LoadError,
    article_id_for,
    decode,
    make_article,
    with_title_line,
)
from askdocs.loaders.fetch import (
    FEED_ONLY_TYPES,
    FEED_TYPES,
    HTML_TYPES,
    PDF_TYPES,
    TEXT_TYPES,
    Fetched,
    Fetcher,
)
from askdocs.loaders.pdf import article_from_pdf
from askdocs.loaders.text import article_from_text
from askdocs.loaders.web_page import article_from_html
from askdocs.types import Article

# A feed with more entries than this is an archive dump; the newest are what a reader follows.
MAX_FEED_ENTRIES = 200
_FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf")


class WebState:
    """HTTP validators and the article ids each fetched URL produced (a cache, see above)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.urls: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.urls = data.get("urls", {}) if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self.urls = {}  # a damaged cache is an empty cache

    def validators(self, url: str, indexed: Container[str]) -> dict[str, str] | None:
        """Ask "changed since?" only when every article the URL gave is still indexed."""
        entry = self.urls.get(url)
        if not entry or not all(a in indexed for a in entry.get("article_ids", [])):
            return None
        return {k: entry[k] for k in ("etag", "last_modified") if entry.get(k)} or None

    def article_ids(self, url: str) -> list[str]:
        return list(self.urls.get(url, {}).get("article_ids", []))

    def remember(
        self, url: str, fetched: Fetched, article_ids: Iterable[str], complete: bool = True
    ) -> None:
        """`complete=False` (an entry failed) keeps no validators: the next run gets the feed
        again and retries just the failed entries (the others are indexed by then)."""
        with self._lock:
            self.urls[url] = {
                "etag": fetched.etag if complete else None,
                "last_modified": fetched.last_modified if complete else None,
                "article_ids": sorted(set(article_ids)),
            }

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"urls": self.urls}, indent=1, sort_keys=True), "utf-8")
        os.replace(tmp, self.path)


@dataclass
class WebSources:
    """Everything `load_urls` needs besides the URLs."""

    fetcher: Fetcher
    state: WebState
    indexed: Container[str]  # article ids already in the index (looked up as needed)
    concurrency: int = 4


def looks_like_feed(fetched: Fetched) -> bool:
    """A feed by its content type, or XML whose root is rss, feed or rdf:RDF."""
    if fetched.content_type in FEED_ONLY_TYPES:
        return True
    head = fetched.body[:2048].lstrip().lower()
    return (fetched.content_type in FEED_TYPES or head.startswith(b"<?xml")) and any(
        marker in head for marker in _FEED_MARKERS
    )


def load_urls(
    urls: Iterable[str], feeds: Iterable[str], sources: WebSources
) -> Iterator[LoadedFile]:
    """Pages, feeds (detected, or forced by being in `feeds`) and their entries."""
    forced = list(dict.fromkeys(feeds))
    pages = [url for url in dict.fromkeys(urls) if url not in forced]  # each URL fetched once
    for url in [*pages, *forced]:
        yield from _load_url(url, url in forced, sources)


def _load_url(url: str, is_feed: bool, sources: WebSources) -> Iterator[LoadedFile]:
    accept = FEED_TYPES if is_feed else (*HTML_TYPES, *FEED_TYPES, *TEXT_TYPES, *PDF_TYPES)
    try:
        fetched = sources.fetcher.get(
            url, accept, validators=sources.state.validators(url, sources.indexed)
        )
    except LoadError as exc:
        yield LoadedFile(source=url, error=str(exc))
        return
    if fetched.not_modified:
        yield LoadedFile(source=url, unchanged=sources.state.article_ids(url))
        return
    if is_feed or looks_like_feed(fetched):
        yield from _feed_entries(url, fetched, sources)
        return
    result = LoadedFile(source=url)
    try:
        result.articles.append(page_article(fetched, result.warnings))
        sources.state.remember(url, fetched, [a.id for a in result.articles])
    except LoadError as exc:
        result.error = str(exc)
    yield result


def page_article(fetched: Fetched, warnings: list[str]) -> Article:
    """The article of a fetched page (HTML, plain text or PDF), identified by its final URL."""
    url = fetched.url
    if fetched.content_type in PDF_TYPES:
        article = article_from_pdf(url, url, fetched.body)
        return replace(article, id=article_id_for(url), metadata={**article.metadata, "url": url})
    text = decode(fetched.body, warnings)
    if not text.strip():
        raise LoadError("empty response")
    if fetched.content_type in TEXT_TYPES:
        article = article_from_text(url, url, text, markdown=False)
        return replace(article, metadata={**article.metadata, "url": url})
    return article_from_html(url, text, url=url)


def _feed_entries(url: str, fetched: Fetched, sources: WebSources) -> Iterator[LoadedFile]:
    import feedparser  # lazy: only feed ingests pay for it

    # Always bytes: given a string that looks like a URL, feedparser would fetch it itself.
    parsed = feedparser.parse(fetched.body)
    entries = list(parsed.entries)[:MAX_FEED_ENTRIES]
    usable = [e for e in entries if e.get("link") or e.get("summary") or e.get("content")]
    if not usable:
        reason = (
            f"malformed feed ({parsed.bozo_exception})" if parsed.bozo else "feed has no entries"
        )
        yield LoadedFile(source=url, error=reason)
        return
    outlet = " ".join(str(parsed.feed.get("title", "")).split())
    entries_by_link: dict[str, Any] = {}
    problems = []
    for number, entry in enumerate(entries, 1):
        link = str(entry.get("link") or "").strip()
        if link:
            entries_by_link.setdefault(link, entry)
        else:
            problems.append(LoadedFile(source=f"{url}#{number}", error="feed entry has no link"))
    yield from problems
    seen = [link for link in entries_by_link if article_id_for(link) in sources.indexed]
    new = [link for link in entries_by_link if link not in seen]
    for link in seen:
        yield LoadedFile(source=link, unchanged=[article_id_for(link)])
    article_ids = [article_id_for(link) for link in seen]

    def load(link: str) -> LoadedFile:
        return _entry_article(link, entries_by_link[link], url, outlet, sources)

    complete = not problems
    with ThreadPoolExecutor(max_workers=max(1, sources.concurrency)) as pool:
        for loaded in pool.map(load, new):
            article_ids += [a.id for a in loaded.articles]
            complete = complete and loaded.error is None
            yield loaded
    sources.state.remember(url, fetched, article_ids, complete)


def _entry_article(
    link: str, entry: Any, feed_url: str, outlet: str, sources: WebSources
) -> LoadedFile:
    """The entry's linked page; when that cannot be had, the feed's own text of the entry."""
    result = LoadedFile(source=link)
    published = _entry_date(entry)
    try:
        fetched = sources.fetcher.get(link, (*HTML_TYPES, *TEXT_TYPES, *PDF_TYPES))
        article = page_article(fetched, result.warnings)
        # One identity for the entry whether or not its link redirected.
        article = replace(article, id=article_id_for(link), source=link)
    except LoadError as exc:
        try:
            article = _article_from_entry(link, entry, outlet)
        except LoadError as fallback:
            result.error = f"{exc}; {fallback}"
            return result
        result.warnings.append(f"page not fetched ({exc}); indexed the feed's text of it")
    metadata = {**article.metadata, "feed": feed_url}
    if outlet and "outlet" not in metadata:
        metadata["outlet"] = outlet
    result.articles.append(
        replace(article, published=article.published or published, metadata=metadata)
    )
    return result


def fragment_text(html: str) -> str:
    """The text of an HTML fragment (a feed entry's content), one line per block.

    >>> fragment_text("<p>Crews voted &amp; will strike.</p><p>Talks failed.</p>")
    'Crews voted & will strike.\\nTalks failed.'
    """
    import lxml.html

    if "<" not in html:
        return html.strip()
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return ""
    for block in root.iter("p", "div", "br", "li", "h1", "h2", "h3", "h4", "blockquote"):
        block.tail = "\n" + (block.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _article_from_entry(link: str, entry: Any, outlet: str) -> Article:
    content = entry.get("content") or []
    html = (content[0].get("value") if content else "") or entry.get("summary") or ""
    text = fragment_text(html)
    if not text:
        raise LoadError("the feed has no text for this entry")
    title = " ".join(str(entry.get("title") or "").split()) or link
    fields = {"author": entry.get("author")} if isinstance(entry.get("author"), str) else {}
    return make_article(
        link, title, with_title_line(title, text), fields, key=link, metadata={"url": link}
    )


def _entry_date(entry: Any) -> date | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    try:
        return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday) if parsed else None
    except (AttributeError, ValueError):
        return None
