"""Word (.docx) files: paragraphs as lines, via python-docx."""

from __future__ import annotations

import io
import zipfile

from askdocs.loaders.common import LoadError, first_line, make_article
from askdocs.types import Article

# A .docx is a zip; its parts are read whole. A small file that unzips to more than this is
# a zip bomb, not an article (a long report's document.xml is a few MB).
MAX_UNZIPPED_BYTES = 200_000_000


def unzipped_size(data: bytes) -> int:
    """What the zip's members declare they unzip to (refused before anything is unzipped)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(info.file_size for info in archive.infolist())


def article_from_docx(source: str, stem: str, data: bytes) -> Article:
    import docx  # python-docx; lazy: only .docx ingests pay for it

    try:
        size = unzipped_size(data)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise LoadError(f"not a readable Word file ({type(exc).__name__})") from None
    if size > MAX_UNZIPPED_BYTES:
        raise LoadError(f"Word file unzips to {size / 1e6:.0f} MB (a zip bomb?)")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx/lxml raise many kinds on bad files
        raise LoadError(f"not a readable Word file ({type(exc).__name__})") from None
    lines = [" ".join(p.text.split()) for p in document.paragraphs]
    # Tables often carry the facts in reports; one line per row keeps cells together.
    for table in document.tables:
        for row in table.rows:
            cells = [" ".join(c.text.split()) for c in row.cells]
            lines.append(" | ".join(dict.fromkeys(c for c in cells if c)))
    text = "\n".join(line for line in lines if line)
    if not text.strip():
        raise LoadError("Word file has no text")
    properties = document.core_properties
    title = " ".join((properties.title or "").split()) or first_line(text) or stem
    metadata = {"author": properties.author.strip()} if properties.author else {}
    return make_article(source, title, text, {}, metadata=metadata)
