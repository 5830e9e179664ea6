"""Typed objects that flow between the pipeline stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

BELOW_THRESHOLD = "no sentence matches the question well enough"
CANNOT_ANSWER = "I could not find this in the articles."
"""The one refusal sentence, shared by code, prompts and tests."""


@dataclass(frozen=True)
class Article:
    """One article as loaded from disk; `text` is what every offset points into."""

    id: str
    title: str
    text: str
    source: str
    published: date | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A span of an article: `article.text[start:end] == text`."""

    id: str
    article_id: str
    index: int
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its similarity score and its article's display fields."""

    chunk: Chunk
    score: float
    title: str
    source: str
    published: date | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkHit:
    """A chunk a search found: its id and its cosine similarity to the question, with its
    passage and its vector when they were read (each read only when a later step needs it:
    fusion needs neither, and reading the texts of every candidate cost more than the
    nearest-neighbour search itself)."""

    chunk_id: str
    score: float
    passage: Passage | None = None
    vector: Any = None  # np.ndarray | None (numpy stays out of this module's imports)


@dataclass(frozen=True)
class Citation:
    """A verbatim quote from an article: `article.text[start:end] == quote`."""

    key: int
    article_id: str
    title: str
    source: str
    start: int
    end: int
    quote: str
    chunk_id: str
    # The page the quote starts on, for articles loaded from a PDF.
    page: int | None = None

    def where(self) -> str:
        """Where the quote is, for people: source, page when known, and character offsets.

        >>> Citation(1, "a", "T", "report.pdf", 10, 20, "q" * 10, "c", page=3).where()
        'report.pdf, p. 3, characters 10-20'
        """
        page = f", p. {self.page}" if self.page else ""
        return f"{self.source}{page}, characters {self.start}-{self.end}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def short_source(source: str) -> str:
    """A source as a short label: a file's name, a URL without its scheme.

    >>> short_source("/data/news/bridge.txt"), short_source("https://news.example/a/b.html")
    ('bridge.txt', 'news.example/a/b.html')
    >>> short_source("/data/feed.jsonl#3")
    'feed.jsonl#3'
    """
    if source.startswith(("http://", "https://")):
        return source.split("://", 1)[1]
    return source.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer, the citation keys that support it, and whether any does."""

    text: str
    citations: list[int]
    verified: bool


@dataclass(frozen=True)
class Answer:
    """What `Assistant.ask` returns: the answer text, its citations and the passages seen."""

    question: str
    text: str
    abstained: bool
    citations: list[Citation]
    passages: list[Passage]
    standalone_question: str
    settings_hash: str
    claims: list[Claim] = field(default_factory=list)
    backend: str = "extractive"
    note: str = ""
    # Extractive answers: the fitted probability that the best sentence answers the question,
    # compared with the abstention threshold.
    confidence: float | None = None
    abstain_reason: str = ""
    # The asked-for name, number, date or place, cut from the first cited sentence.
    short_answer: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "short_answer": self.short_answer,
            "abstained": self.abstained,
            "backend": self.backend,
            "note": self.note,
            "confidence": self.confidence,
            "abstain_reason": self.abstain_reason,
            "claims": [asdict(c) for c in self.claims],
            "citations": [c.to_json() for c in self.citations],
            "passages": [passage_to_json(p) for p in self.passages],
            "settings_hash": self.settings_hash,
        }


def passage_to_json(passage: Passage) -> dict[str, Any]:
    return {
        "chunk_id": passage.chunk.id,
        "article_id": passage.chunk.article_id,
        "title": passage.title,
        "source": passage.source,
        "published": passage.published.isoformat() if passage.published else None,
        "start": passage.chunk.start,
        "end": passage.chunk.end,
        "score": round(passage.score, 4),
        "text": passage.chunk.text,
    }


FileStatus = Literal["indexed", "updated", "unchanged", "removed", "skipped"]


@dataclass
class FileResult:
    """What ingest did with one file (or one record of a JSON/JSONL file)."""

    path: str
    status: FileStatus
    reason: str = ""
    article_ids: list[str] = field(default_factory=list)
    chunks: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """Summary of one `Assistant.ingest` call; nothing in it is lost if one file fails."""

    files: list[FileResult] = field(default_factory=list)
    # Distinct texts the model ran on (sentences and titles, or whole chunks), each once.
    texts_embedded: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False

    def _count(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def added(self) -> int:
        return self._count("indexed")

    @property
    def updated(self) -> int:
        return self._count("updated")

    @property
    def unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def removed(self) -> int:
        return self._count("removed")

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "skipped"]

    @property
    def warnings(self) -> list[str]:
        return [f"{f.path}: {w}" for f in self.files for w in f.warnings]

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": len(self.failed),
            "texts_embedded": self.texts_embedded,
            "interrupted": self.interrupted,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "files": [asdict(f) for f in self.files],
        }


@dataclass(frozen=True)
class Filters:
    """Restricts retrieval; every given field must match (date bounds are inclusive)."""

    sources: tuple[str, ...] = ()
    articles: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

    def __bool__(self) -> bool:
        return bool(self.sources or self.articles or self.date_from or self.date_to)
