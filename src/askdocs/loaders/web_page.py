"""Web pages: the story's main text and its metadata, without the page's boilerplate.

trafilatura finds the main text (navigation, cookie banners, "most read" lists, share buttons,
comments and footers are left out) and the title, author, publication date and site name. The
indexed text is trafilatura's text with the title as first line: every citation offset points
into exactly that text.
"""

from __future__ import annotations

from askdocs.loaders.common import LoadError, first_line, make_article, with_title_line
from askdocs.types import Article


def article_from_html(source: str, html: str, url: str | None = None) -> Article:
    """The article of one web page; `url` (a fetched page's) also becomes its identity."""
    import trafilatura  # lazy: lxml and its date parsers cost ~0.3 s to import

    try:
        document = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            # Precision over recall: a boilerplate line in the index gets retrieved and quoted.
            favor_precision=True,
        )
    except (RecursionError, MemoryError):
        raise LoadError("web page is nested too deeply to read") from None
    except Exception as exc:  # noqa: BLE001 - one odd page must not stop an ingest
        raise LoadError(f"could not extract the page's text ({type(exc).__name__})") from None
    text = (document.text or "").strip() if document is not None else ""
    if not text:
        raise LoadError("web page has no article text (only navigation or boilerplate)")
    title = " ".join((document.title or "").split()) or first_line(text)
    metadata: dict[str, str] = {}
    if document.sitename:
        metadata["outlet"] = " ".join(document.sitename.split())
    if document.author:
        metadata["author"] = " ".join(document.author.split())
    if url:
        metadata["url"] = url
    fields = {"published": document.date} if document.date else {}
    return make_article(
        source, title, with_title_line(title, text), fields, key=url, metadata=metadata
    )
