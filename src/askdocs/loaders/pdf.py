"""PDF files: the text layer page by page (pypdf); citations can then name the page."""

from __future__ import annotations

import io
import logging

from askdocs.loaders.common import LoadError, first_line, make_article, parse_date, reflow
from askdocs.types import Article

# A news article is a few pages; past this a PDF is a book or a scan dump, not an article,
# and reading it would hold the ingest (pypdf reads a page in ~5-50 ms).
MAX_PDF_PAGES = 500
# Pages whose text layer holds fewer characters than this count as scanned (no OCR here).
_MIN_PAGE_CHARS = 20


def page_starts_metadata(starts: list[int]) -> str:
    """Where each page begins in the article text, kept in the article's metadata.

    >>> page_starts_metadata([0, 1840, 3900])
    '0,1840,3900'
    """
    return ",".join(str(s) for s in starts)


def page_at(metadata: dict[str, str], offset: int) -> int | None:
    """The 1-based page that holds `offset`, for articles loaded from a PDF.

    >>> page_at({"page_starts": "0,100,250"}, 120), page_at({}, 5)
    (2, None)
    """
    raw = metadata.get("page_starts")
    if not raw:
        return None
    page = 0
    for number, start in enumerate(raw.split(","), 1):
        if int(start) <= offset:
            page = number
    return page or None


def article_from_pdf(source: str, stem: str, data: bytes) -> Article:
    from pypdf import PdfReader  # lazy: only PDF ingests pay for it
    from pypdf.errors import PdfReadError

    # pypdf logs every repaired defect of a damaged file; the user gets one reason instead.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opens_without_password(reader):
            raise LoadError("encrypted PDF (needs a password)")
        pages = reader.pages
        if len(pages) > MAX_PDF_PAGES:
            raise LoadError(f"PDF has {len(pages)} pages, more than {MAX_PDF_PAGES}")
        texts = [reflow((page.extract_text() or "").splitlines()) for page in pages]
        info = reader.metadata
    except LoadError:
        raise
    except PdfReadError as exc:
        raise LoadError(f"corrupt PDF ({str(exc)[:120]})") from None
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on damaged files
        raise LoadError(f"corrupt PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not any(len(t.strip()) >= _MIN_PAGE_CHARS for t in texts):
        raise LoadError("PDF has no text layer (scanned pages?); text recognition is not done")
    starts, parts, offset = [], [], 0
    for page_text in texts:
        starts.append(offset)
        parts.append(page_text)
        offset += len(page_text) + 2
    text = "\n\n".join(parts)
    title = _info(info, "title") or first_line(text) or stem
    metadata = {"page_starts": page_starts_metadata(starts), "pages": str(len(texts))}
    author = _info(info, "author")
    if author:
        metadata["author"] = author
    # The file's creation date is when the PDF was made, often not when the story was
    # published: kept for people, not used as the date that filters and "when" answers use.
    created = parse_date(_attribute(info, "creation_date"))
    if created:
        metadata["pdf_created"] = created.isoformat()
    return make_article(source, title, text, {}, metadata=metadata)


def _attribute(info: object, name: str) -> object:
    """A field of the PDF's info dictionary; a damaged one is just no metadata."""
    try:
        return getattr(info, name, None) if info is not None else None
    except Exception:  # noqa: BLE001 - pypdf raises many kinds on malformed fields
        return None


def _opens_without_password(reader: object) -> bool:
    """Many PDFs are encrypted with an empty user password only to restrict printing."""
    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - any failure means it needs a password
        return False


def _info(info: object, name: str) -> str:
    value = _attribute(info, name)
    return " ".join(str(value).split()) if value else ""
