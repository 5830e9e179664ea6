"""Turn files and folders into Articles, with a clear reason for every file that is skipped."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

from askdocs.types import Article

SUPPORTED_SUFFIXES = {".txt", ".md", ".html", ".htm", ".json", ".jsonl"}
TEXT_FIELDS = ("text", "body", "content")
DATE_FIELDS = ("published", "date")

_SNIFF_BYTES = 8192
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
# "Washington, Dec 20 (NationPress)" or "LONDON, March 3, 2005 (Reuters) -"
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Za-z .'\-]{1,40}?),\s+"
    r"(?P<date>(?P<month>[A-Z][a-z]{2,8})\.?\s+(?P<day>\d{1,2})(?:,?\s+(?P<year>\d{4}))?)\s*"
    r"\((?P<outlet>[^)\n]{2,40})\)",
    re.MULTILINE,
)


class LoadError(Exception):
    """A file that cannot become an article; the message is shown to the user as the reason."""


@dataclass
class LoadedFile:
    """The articles one file produced, or why it produced none."""

    path: Path
    articles: list[Article] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (recursively) into the sorted list of supported files."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                if (
                    candidate.is_file()
                    and candidate.suffix.lower() in SUPPORTED_SUFFIXES
                    and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
                ):
                    found[candidate.resolve()] = None
        else:
            found[path.resolve()] = None
    return list(found)


def load_file(path: Path, max_bytes: int) -> LoadedFile:
    """Load one file; never raises for bad content, the reason goes into `error`."""
    result = LoadedFile(path=path)
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
        text = _decode(path.read_bytes(), result.warnings, line_by_line=suffix == ".jsonl")
        if not text.strip():
            raise LoadError("empty file")
        if suffix in {".txt", ".md"}:
            result.articles.append(_article_from_text(path, text, markdown=suffix == ".md"))
        elif suffix in {".html", ".htm"}:
            result.articles.append(_article_from_html(path, text))
        elif suffix == ".json":
            result.articles.extend(_articles_from_json(path, text, result.warnings))
        else:
            result.articles.extend(_articles_from_jsonl(path, text, result.warnings))
        if not result.articles:
            raise LoadError("no article text found")
    except LoadError as exc:
        result.error = str(exc)
        result.articles.clear()
    except OSError as exc:
        result.error = f"cannot read file: {exc.strerror or exc}"
    return result


def load_paths(paths: Iterable[str | Path], max_bytes: int = 10_000_000) -> Iterator[LoadedFile]:
    for path in discover(paths):
        yield load_file(path, max_bytes)


def article_id_for(source: str) -> str:
    """Articles are identified by where they come from; their content decides their version."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _decode(data: bytes, warnings: list[str], line_by_line: bool = False) -> str:
    """Text of a file; `line_by_line` (JSONL) leaves binary junk to be judged line by line."""
    head = data[:_SNIFF_BYTES]
    utf16 = head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff")
    if b"\x00" in head and not utf16 and not line_by_line:
        raise LoadError("binary file (contains NUL bytes)")
    for bom, codec in ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("cp1252")
            codec = "cp1252"
        except UnicodeDecodeError:
            text = data.decode("latin-1")
            codec = "latin-1"
        warnings.append(f"not valid UTF-8 (byte {exc.start}); decoded as {codec}")
    if not line_by_line and _looks_binary(text[:_SNIFF_BYTES]):
        raise LoadError("binary file (mostly control characters)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _looks_binary(sample: str) -> bool:
    if not sample:
        return False
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    return control / len(sample) > 0.05


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _article_from_text(path: Path, text: str, markdown: bool) -> Article:
    title = _first_line(text)
    if markdown:
        title = title.lstrip("#").strip()
    return _make_article(str(path), title or path.stem, text, {})


def _make_article(
    source: str, title: str, text: str, fields: dict[str, Any], key: str | None = None
) -> Article:
    metadata: dict[str, str] = {}
    published = _parse_date(_first_present(fields, DATE_FIELDS))
    dateline = _DATELINE.search(text[:3000])
    if dateline:
        metadata["place"] = dateline["place"].strip()
        metadata["dateline_date"] = dateline["date"]
        metadata["outlet"] = dateline["outlet"].strip()
        if published is None and dateline["year"]:
            published = _parse_date(dateline["date"])
    for name in ("url", "source", "author"):
        value = fields.get(name)
        if isinstance(value, str) and value.strip():
            metadata["outlet" if name == "source" else name] = value.strip()
    return Article(
        id=article_id_for(key or source),
        title=" ".join(title.split())[:300],
        text=text,
        source=source,
        published=published,
        metadata=metadata,
    )


def _first_present(fields: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if fields.get(name) not in (None, ""):
            return fields[name]
    return None


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    match = re.match(r"([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})$", value) or re.match(
        r"(\d{1,2})\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})$", value
    )
    if not match:
        return None
    first, second, year = match.groups()
    month_name, day = (first, second) if first[0].isalpha() else (second, first)
    month = _MONTHS.get(month_name.lower())
    try:
        return date(int(year), month, int(day)) if month else None
    except ValueError:
        return None


class _VisibleText(HTMLParser):
    """Collects the text a browser would show, one line per block element."""

    _HIDDEN: ClassVar[set[str]] = {
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "svg",
        "iframe",
    }
    _BLOCKS: ClassVar[set[str]] = {
        "p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section",
        "article", "header", "footer", "blockquote", "pre", "title", "ul", "ol", "table",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0
        self.title = ""
        self.h1 = ""
        self._capture: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN and tag != "head":
            self.hidden_depth += 1
        if tag in ("title", "h1"):
            self._capture = tag
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and tag != "head" and self.hidden_depth:
            self.hidden_depth -= 1
        if tag == self._capture:
            self._capture = None
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._capture == "title":
            self.title += data
            return
        if self.hidden_depth:
            return
        if self._capture == "h1":
            self.h1 += data
        self.parts.append(data)


def _article_from_html(path: Path, html: str) -> Article:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    text = "\n".join(line for line in lines if line)
    if not text.strip():
        raise LoadError("HTML has no visible text")
    title = " ".join((parser.h1 or parser.title).split()) or _first_line(text)
    return _make_article(str(path), title, text, {})


def _record_text(record: Any, where: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(record, dict):
        raise LoadError(f"{where}: expected a JSON object, got {type(record).__name__}")
    text = _first_present(record, TEXT_FIELDS)
    if not isinstance(text, str) or not text.strip():
        raise LoadError(f"{where}: no non-empty text field ({'/'.join(TEXT_FIELDS)})")
    return text.replace("\r\n", "\n"), record


def _article_from_record(path: Path, record: Any, number: int | None, where: str) -> Article:
    text, fields = _record_text(record, where)
    source = str(path) if number is None else f"{path}#{number}"
    title = fields.get("title") if isinstance(fields.get("title"), str) else None
    url = fields.get("url") if isinstance(fields.get("url"), str) else None
    return _make_article(source, title or _first_line(text), text, fields, key=url or source)


def _articles_from_json(path: Path, text: str, warnings: list[str]) -> list[Article]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise LoadError("JSON nested too deeply") from None
    if isinstance(data, dict):
        return [_article_from_record(path, data, None, "JSON object")]
    if isinstance(data, list):
        # Like JSONL lines: a bad item is skipped with a warning, the good ones are indexed.
        articles, problems = [], []
        for number, item in enumerate(data, 1):
            try:
                articles.append(_article_from_record(path, item, number, f"item {number}"))
            except LoadError as exc:
                problems.append(str(exc))
        if problems and not articles:
            raise LoadError(f"no item has article text ({problems[0]})")
        warnings.extend(f"{problem} (skipped)" for problem in problems)
        return articles
    raise LoadError("JSON must be an object or a list of objects")


def _articles_from_jsonl(path: Path, text: str, warnings: list[str]) -> list[Article]:
    articles = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if "\x00" in line or _looks_binary(line):
            warnings.append(f"line {number} skipped: binary content")
            continue
        try:
            articles.append(_article_from_record(path, json.loads(line), number, f"line {number}"))
        except json.JSONDecodeError as exc:
            warnings.append(f"line {number} skipped: malformed JSON ({exc.msg})")
        except RecursionError:
            warnings.append(f"line {number} skipped: JSON nested too deeply")
        except LoadError as exc:
            warnings.append(f"{exc} (skipped)")
    return articles
