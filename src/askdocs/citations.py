"""Citations that point at exact article text, checked before anyone sees them."""

from __future__ import annotations

from askdocs.types import Article, Citation, Passage


class CitationError(ValueError):
    """A citation whose quote is not the article text at its offsets."""


def make_citation(key: int, passage: Passage, article: Article, start: int, end: int) -> Citation:
    """Cite article.text[start:end], which must lie inside the passage's chunk."""
    chunk = passage.chunk
    if chunk.article_id != article.id:
        raise CitationError(f"passage {chunk.id} is not from article {article.id}")
    if not (chunk.start <= start < end <= chunk.end):
        raise CitationError(
            f"span {start}-{end} lies outside passage {chunk.id} ({chunk.start}-{chunk.end})"
        )
    citation = Citation(
        key=key,
        article_id=article.id,
        title=article.title,
        source=article.source,
        start=start,
        end=end,
        quote=article.text[start:end],
        chunk_id=chunk.id,
    )
    verify_quote(citation, article)
    return citation


def verify_quote(citation: Citation, article: Article) -> None:
    """Raise unless the quote is exactly the article's text at the citation's offsets."""
    if article.text[citation.start : citation.end] != citation.quote or not citation.quote:
        raise CitationError(
            f"citation [{citation.key}] does not match article {article.id} "
            f"at {citation.start}-{citation.end}"
        )


def format_marker(keys: list[int]) -> str:
    return "".join(f"[{k}]" for k in keys)
