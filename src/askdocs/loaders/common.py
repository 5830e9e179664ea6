"""What every loader shares: the result type, decoding, dates and how an Article is made."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from askdocs.types import Article

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
    """A source that cannot become an article; the message is shown to the user as the reason."""


@dataclass
class LoadedFile:
    """The articles one source (file, page or feed entry) produced, or why it produced none.

    `unchanged` lists articles the source is known not to have changed (an HTTP 304, a feed
    entry seen before): they are reported as unchanged without being loaded again.
    """

    source: str
    articles: list[Article] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def article_id_for(source: str) -> str:
    """Articles are identified by where they come from; their content decides their version."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def decode(data: bytes, warnings: list[str], line_by_line: bool = False) -> str:
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
    if not line_by_line and looks_binary(text[:_SNIFF_BYTES]):
        raise LoadError("binary file (mostly control characters)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def looks_binary(sample: str) -> bool:
    """More than 5% control characters: no text format of ours looks like that.

    >>> looks_binary("plain words\\n"), looks_binary("\\x01\\x02ab")
    (False, True)
    """
    if not sample:
        return False
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    return control / len(sample) > 0.05


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def with_title_line(title: str, text: str) -> str:
    """The article text starting with its title, as plain-text articles do, so the title is
    quotable and every loader's articles look alike to chunking and answering.

    >>> with_title_line("Bridge reopens", "The bridge reopened.")
    'Bridge reopens\\nThe bridge reopened.'
    >>> with_title_line("Bridge reopens", "Bridge reopens\\nThe bridge reopened.")
    'Bridge reopens\\nThe bridge reopened.'
    """
    title = " ".join(title.split())
    if not title or first_line(text) == title:
        return text
    return f"{title}\n{text}"


def make_article(
    source: str,
    title: str,
    text: str,
    fields: dict[str, Any],
    key: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Article:
    """An Article with its date and outlet from `fields`, else from a news dateline."""
    meta: dict[str, str] = {}
    published = parse_date(first_present(fields, DATE_FIELDS))
    dateline = _DATELINE.search(text[:3000])
    if dateline:
        meta["place"] = dateline["place"].strip()
        meta["dateline_date"] = dateline["date"]
        meta["outlet"] = dateline["outlet"].strip()
        if published is None and dateline["year"]:
            published = parse_date(dateline["date"])
    for name in ("url", "source", "author"):
        value = fields.get(name)
        if isinstance(value, str) and value.strip():
            meta["outlet" if name == "source" else name] = value.strip()
    meta.update(metadata or {})
    return Article(
        id=article_id_for(key or source),
        title=" ".join(title.split())[:300],
        text=text,
        source=source,
        published=published,
        metadata=meta,
    )


def first_present(fields: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if fields.get(name) not in (None, ""):
            return fields[name]
    return None


def parse_date(value: Any) -> date | None:
    """ISO dates and times, "March 3, 2005" and "3 March 2005"; anything else is no date.

    >>> parse_date("2024-03-14T08:00:00Z"), parse_date("Mar. 3, 2005"), parse_date("soon")
    (datetime.date(2024, 3, 14), datetime.date(2005, 3, 3), None)
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
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


def reflow(lines: list[str]) -> str:
    """Join the wrapped lines of a laid-out page (PDF) into one line per paragraph.

    Sentences are split per line downstream, so a sentence wrapped over two lines must become
    one line. A line clearly shorter than the page's usual line (a paragraph's last line, a
    heading) or an empty line ends a paragraph; a word hyphenated at a line end is joined back.

    >>> reflow(["Harbour report", "The council said the bridge, closed since", "May, will "
    ...         "reopen on Thursday after its", "repairs.", "", "Engineers re-", "placed cables."])
    'Harbour report\\nThe council said the bridge, closed since May, will reopen on Thursday after its repairs.\\nEngineers replaced cables.'
    """  # noqa: E501
    widths = sorted(len(" ".join(line.split())) for line in lines if line.strip())
    usual = widths[len(widths) * 3 // 4] if widths else 0
    paragraphs: list[str] = []
    current = ""
    for raw in lines:
        line = " ".join(raw.split())
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if not current:
            current = line
        elif current.endswith("-") and line[:1].islower() and current[-2:-1].isalpha():
            current = current[:-1] + line
        else:
            current = f"{current} {line}"
        hyphenated = line.endswith("-") and line[-2:-1].isalpha()
        if len(line) < 0.8 * usual and not hyphenated:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n".join(paragraphs)
