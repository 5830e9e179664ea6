"""Request bodies of the REST API (responses are the product's own `to_json` shapes)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from askdocs.types import Filters

MAX_K = 50
"""Most passages a request may ask for: each one is read and scored."""
MAX_TURNS = 50
"""Most earlier turns a request may send; only the last few shape a follow-up anyway."""


class FilterBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(default_factory=list, max_length=100)
    articles: list[str] = Field(default_factory=list, max_length=1000)
    date_from: date | None = None
    date_to: date | None = None

    def to_filters(self) -> Filters | None:
        filters = Filters(tuple(self.sources), tuple(self.articles), self.date_from, self.date_to)
        return filters or None


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1)  # its upper bound is a setting: checked in the route
    history: list[Turn] = Field(default_factory=list, max_length=MAX_TURNS)
    k: int | None = Field(None, ge=1, le=MAX_K)
    filters: FilterBody | None = None
    stream: bool = False


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    k: int | None = Field(None, ge=1, le=MAX_K)
    filters: FilterBody | None = None


class FetchBody(BaseModel):
    """Web pages and feeds to fetch and index (`POST /v1/articles/fetch`)."""

    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(default_factory=list, max_length=100)
    feeds: list[str] = Field(default_factory=list, max_length=100)


class ChatMessage(BaseModel):
    """An OpenAI chat message; content may be a string or a list of text parts."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(
                str(part.get("text", "")) for part in self.content if part.get("type") == "text"
            )
        return self.content or ""


class ChatCompletionBody(BaseModel):
    """What the OpenAI API accepts; sampling options are allowed and ignored (the answer is
    extractive or comes from the configured backend's own settings)."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=2 * MAX_TURNS)
    stream: bool = False
