"""Files and folders: find the supported files and load each by its type."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from askdocs.loaders.common import LoadedFile, LoadError, decode
from askdocs.loaders.pdf import article_from_pdf
from askdocs.loaders.text import article_from_text, articles_from_json, articles_from_jsonl
from askdocs.loaders.web_page import article_from_html
from askdocs.loaders.word import article_from_docx

TEXT_SUFFIXES = {".txt", ".md", ".html", ".htm", ".json", ".jsonl"}
BINARY_SUFFIXES = {".pdf", ".docx"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | BINARY_SUFFIXES


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (recursively) into the sorted list of supported files."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                if (
                    candidate.is_file()
                    and is_supported(candidate)
                    and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
                ):
                    found[candidate.resolve()] = None
        else:
            found[path.resolve()] = None
    return list(found)


def load_file(path: Path, max_bytes: int) -> LoadedFile:
    """Load one file; never raises for bad content, the reason goes into `error`."""
    result = LoadedFile(source=str(path))
    try:
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise LoadError(
                f"unsupported file type {suffix or '(none)'}; "
                f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
            )
        if not path.is_file():
            raise LoadError("not a file")
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(
                f"file is {size / 1e6:.1f} MB, above the {max_bytes / 1e6:.0f} MB limit "
                "(setting max_file_mb)"
            )
        data = path.read_bytes()
        if not data.strip():
            raise LoadError("empty file")
        result.articles.extend(load_bytes(str(path), path.stem, suffix, data, result.warnings))
        if not result.articles:
            raise LoadError("no article text found")
    except LoadError as exc:
        result.error = str(exc)
        result.articles.clear()
    except OSError as exc:
        result.error = f"cannot read file: {exc.strerror or exc}"
    return result


def load_bytes(source: str, stem: str, suffix: str, data: bytes, warnings: list[str]) -> list:
    """The articles in one file's bytes, by its type (raises LoadError with the reason)."""
    if suffix == ".pdf":
        return [article_from_pdf(source, stem, data)]
    if suffix == ".docx":
        return [article_from_docx(source, stem, data)]
    text = decode(data, warnings, line_by_line=suffix == ".jsonl")
    if not text.strip():
        raise LoadError("empty file")
    if suffix in {".txt", ".md"}:
        return [article_from_text(source, stem, text, markdown=suffix == ".md")]
    if suffix in {".html", ".htm"}:
        return [article_from_html(source, text)]
    if suffix == ".json":
        return articles_from_json(source, text, warnings)
    return articles_from_jsonl(source, text, warnings)


def load_paths(paths: Iterable[str | Path], max_bytes: int = 10_000_000) -> Iterator[LoadedFile]:
    for path in discover(paths):
        yield load_file(path, max_bytes)
