"""One place that turns `Filters` into each search side's terms: a Chroma `where` for the
dense side and an SQL clause for the keyword side, so both sides always filter alike."""

from __future__ import annotations

from datetime import date
from typing import Any

from askdocs.types import Filters


def day_number(day: date) -> int:
    """A date as a sortable integer (20251220), the form filters compare."""
    return day.year * 10000 + day.month * 100 + day.day


def sql_filters(filters: Filters) -> tuple[str, list[object]]:
    """An SQL WHERE clause over (source, outlet, article_id, published_day) and its parameters."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.sources:
        marks = ",".join("?" * len(filters.sources))
        clauses.append(f"(source IN ({marks}) OR outlet IN ({marks}))")
        params += [*filters.sources, *filters.sources]
    if filters.articles:
        clauses.append(f"article_id IN ({','.join('?' * len(filters.articles))})")
        params += list(filters.articles)
    if filters.date_from:
        clauses.append("published_day >= ?")
        params.append(day_number(filters.date_from))
    if filters.date_to:
        clauses.append("published_day <= ?")
        params.append(day_number(filters.date_to))
    return " AND ".join(clauses) or "1", params


def chroma_where(filters: Filters | None) -> dict[str, Any] | None:
    """The Chroma `where` over chunk metadata (None: no filter)."""
    if not filters:
        return None
    clauses: list[dict[str, Any]] = []
    if filters.sources:
        sources = list(filters.sources)
        clauses.append({"$or": [{"source": {"$in": sources}}, {"outlet": {"$in": sources}}]})
    if filters.articles:
        clauses.append({"article_id": {"$in": list(filters.articles)}})
    if filters.date_from:
        clauses.append({"published_day": {"$gte": day_number(filters.date_from)}})
    if filters.date_to:
        clauses.append({"published_day": {"$lte": day_number(filters.date_to)}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
