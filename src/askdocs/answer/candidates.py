"""Candidate sentences: every sentence of the articles retrieval found, not only its passages.

Retrieval finds the story (the right article is in the top three 96% of the time on the dev
sets); the answering sentence is often further down that article than the passages that
matched the question's context clause. Each candidate keeps the chunk that holds it, so a
citation of it points at exact offsets inside a stored chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from askdocs.answer.entities import common_words
from askdocs.chunking import candidate_sentences
from askdocs.types import Article, Chunk, Passage

ChunksOf = Callable[[Sequence[str]], list[Chunk]]
"""Every stored chunk of these articles (the store's `article_chunks`)."""


@dataclass(frozen=True)
class Candidate:
    """One sentence that may answer: article.text[start:end] == text, inside `chunk`."""

    article_id: str
    article_rank: int
    index: int
    start: int
    end: int
    text: str
    chunk: Chunk
    in_passage: bool


@dataclass(frozen=True)
class Retrieved:
    """What retrieval found for one question: its passages, their articles, and a way to read
    every stored chunk of an article (with its sentence vectors ready)."""

    passages: Sequence[Passage]
    articles: Mapping[str, Article]
    chunks_of: ChunksOf


@dataclass(frozen=True)
class CandidatePool:
    """The candidates of one question, their sentence vectors, and what retrieval said."""

    candidates: list[Candidate]
    vectors: np.ndarray
    articles: Mapping[str, Article]
    article_scores: tuple[float, ...]
    # The articles a retrieved passage holds whole (held_whole): snippets, not stories.
    snippets: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.candidates)

    @cached_property
    def common_words(self) -> frozenset[str]:
        """The words the candidates' articles write in lower case (entities.common_words):
        read by the features and again by the short answer, so kept."""
        used = {c.article_id for c in self.candidates}
        return frozenset().union(*(common_words(self.articles[a].text) for a in sorted(used)))


def ranked_articles(
    passages: Sequence[Passage], limit: int, whole: Container[str] = ()
) -> list[tuple[str, float]]:
    """The distinct articles of the passages, best first, with their best passage's score: the
    first `limit`, then any other whose whole text a passage holds (`whole`).

    A snippet (an article of a sentence or two, as RGB's web passages) adds a candidate or
    two where a story adds twenty or more (25 at the least for the three best articles of the
    dev sets' questions), and its whole text was retrieved anyway: left out by the limit, the
    one answering snippet among five was out of reach for 13 of RGB's 50 questions at noise 0.8.

    >>> from askdocs.types import Chunk
    >>> p = lambda a, s: Passage(Chunk(a + "0", a, 0, "", 0, 9), s, "", "")
    >>> ranked_articles([p("a", 0.9), p("b", 0.8), p("a", 0.7), p("c", 0.6)], 1, {"c"})
    [('a', 0.9), ('c', 0.6)]
    """
    best: dict[str, float] = {}
    for passage in passages:
        article_id = passage.chunk.article_id
        best.setdefault(article_id, passage.score)
    ranked = list(best.items())
    return ranked[:limit] + [(a, s) for a, s in ranked[limit:] if a in whole]


def held_whole(passages: Sequence[Passage], articles: Mapping[str, Article]) -> set[str]:
    """The articles one of these passages holds from their first character to their last."""
    return {
        p.chunk.article_id
        for p in passages
        if (article := articles.get(p.chunk.article_id)) is not None
        and p.chunk.start == 0
        and p.chunk.end >= len(article.text.rstrip())
    }


def gather(
    retrieved: Retrieved,
    embed: Callable[[list[str]], np.ndarray],
    max_articles: int,
    skip: Iterable[str] = (),
) -> CandidatePool:
    """Every sentence of the top `max_articles` articles, each with the chunk that holds it.

    `skip` holds texts already said in the conversation: a follow-up wants something new.
    """
    passages, articles, chunks_of = retrieved.passages, retrieved.articles, retrieved.chunks_of
    whole = held_whole(passages, articles)
    top = [(a, s) for a, s in ranked_articles(passages, max_articles, whole) if a in articles]
    if not top:
        return CandidatePool([], np.zeros((0, 0), dtype=np.float32), articles, ())
    stored = {c.id: c for c in chunks_of([a for a, _ in top])}
    by_article: dict[str, list[Chunk]] = {}
    for chunk in [*stored.values(), *(p.chunk for p in passages)]:
        by_article.setdefault(chunk.article_id, [])
        if all(c.id != chunk.id for c in by_article[chunk.article_id]):
            by_article[chunk.article_id].append(chunk)
    retrieved = [p.chunk for p in passages]
    said = list(skip)
    candidates = []
    for rank, (article_id, _) in enumerate(top):
        article = articles[article_id]
        chunks = sorted(by_article.get(article_id, []), key=lambda c: (c.start, c.end))
        for index, (start, end) in enumerate(candidate_sentences(article.text)):
            chunk = next((c for c in chunks if c.start <= start and end <= c.end), None)
            if chunk is None:
                continue  # text no stored chunk holds (e.g. a heading): it cannot be cited
            text = article.text[start:end]
            if any(text in s for s in said):
                continue
            inside = any(
                c.article_id == article_id and c.start <= start and end <= c.end for c in retrieved
            )
            candidates.append(Candidate(article_id, rank, index, start, end, text, chunk, inside))
    vectors = embed([c.text for c in candidates]) if candidates else np.zeros((0, 0))
    return CandidatePool(
        candidates,
        np.asarray(vectors, dtype=np.float32),
        articles,
        tuple(s for _, s in top),
        frozenset(whole),
    )
