"""Plain text, Markdown, JSON and JSONL files."""

from __future__ import annotations

import json
from typing import Any

from askdocs.loaders.common import (
    LoadError,
    first_line,
    first_present,
    looks_binary,
    make_article,
)
from askdocs.types import Article

TEXT_FIELDS = ("text", "body", "content")


def article_from_text(source: str, stem: str, text: str, markdown: bool) -> Article:
    title = first_line(text)
    if markdown:
        title = title.lstrip("#").strip()
    return make_article(source, title or stem, text, {})


def _record_text(record: Any, where: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(record, dict):
        raise LoadError(f"{where}: expected a JSON object, got {type(record).__name__}")
    text = first_present(record, TEXT_FIELDS)
    if not isinstance(text, str) or not text.strip():
        raise LoadError(f"{where}: no non-empty text field ({'/'.join(TEXT_FIELDS)})")
    return text.replace("\r\n", "\n"), record


def _article_from_record(source: str, record: Any, number: int | None, where: str) -> Article:
    text, fields = _record_text(record, where)
    record_source = source if number is None else f"{source}#{number}"
    title = fields.get("title") if isinstance(fields.get("title"), str) else None
    url = fields.get("url") if isinstance(fields.get("url"), str) else None
    return make_article(
        record_source, title or first_line(text), text, fields, key=url or record_source
    )


def articles_from_json(source: str, text: str, warnings: list[str]) -> list[Article]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise LoadError("JSON nested too deeply") from None
    if isinstance(data, dict):
        return [_article_from_record(source, data, None, "JSON object")]
    if isinstance(data, list):
        # Like JSONL lines: a bad item is skipped with a warning, the good ones are indexed.
        articles, problems = [], []
        for number, item in enumerate(data, 1):
            try:
                articles.append(_article_from_record(source, item, number, f"item {number}"))
            except LoadError as exc:
                problems.append(str(exc))
        if problems and not articles:
            raise LoadError(f"no item has article text ({problems[0]})")
        warnings.extend(f"{problem} (skipped)" for problem in problems)
        return articles
    raise LoadError("JSON must be an object or a list of objects")


def articles_from_jsonl(source: str, text: str, warnings: list[str]) -> list[Article]:
    articles = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if "\x00" in line or looks_binary(line):
            warnings.append(f"line {number} skipped: binary content")
            continue
        try:
            articles.append(
                _article_from_record(source, json.loads(line), number, f"line {number}")
            )
        except json.JSONDecodeError as exc:
            warnings.append(f"line {number} skipped: malformed JSON ({exc.msg})")
        except RecursionError:
            warnings.append(f"line {number} skipped: JSON nested too deeply")
        except LoadError as exc:
            warnings.append(f"{exc} (skipped)")
    return articles
