"""Citations that point at exact article text, checked before anyone sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from askdocs.index.keywords import content_terms
from askdocs.loaders.pdf import page_at
from askdocs.types import Article, Citation, Claim, Passage


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
        page=page_at(article.metadata, start),
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


MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)*")
_NEGATION = re.compile(r"\b(not|no|never|neither|nor|none|without)\b|n't\b", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“]([^\"”]{3,})[\"”]")


def parse_markers(text: str) -> list[int]:
    """Every key cited in text, in order, once: `[1]`, `[1, 2]` and `[1][2]` alike."""
    keys: list[int] = []
    for match in MARKER.finditer(text):
        for key in (int(k) for k in match[1].split(",")):
            if key not in keys:
                keys.append(key)
    return keys


def strip_markers(text: str) -> str:
    return " ".join(MARKER.sub("", text).split())


def answer_sentences(text: str) -> list[str]:
    """Sentences of a generated answer, a marker that trails its sentence staying with it."""
    from askdocs.chunking import sentence_spans

    sentences: list[str] = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        leading = _LEADING_MARKERS.match(piece)
        if sentences and leading:
            sentences[-1] += " " + leading.group().strip()
            piece = piece[leading.end() :].strip()
        if piece and strip_markers(piece).strip(" .,;:"):
            sentences.append(piece)
        elif piece and sentences:
            sentences[-1] += " " + piece
    return sentences


@dataclass(frozen=True)
class Support:
    """Where in a passage a claim is supported, and how strongly."""

    score: float
    start: int
    end: int


class CitationVerifier:
    """Decides whether a passage supports a claim, and which of its sentences does.

    A claim is read together with its question ("Who did Rubio accuse? The Venezuelan
    government."), embedded, and compared with every sentence of the passage. The passage
    supports the claim when a sentence that holds every number, name and quoted phrase of the
    claim, and most of the words it adds to the question, is similar enough to it; that
    sentence is the one cited and highlighted.
    """

    def __init__(
        self, embedder: Any, threshold: float, sentence_vectors: Any | None = None
    ) -> None:
        from askdocs.embeddings import SentenceVectors

        self.embedder = embedder
        self.threshold = threshold
        self.sentence_vectors = sentence_vectors or SentenceVectors(embedder)

    def best_support(
        self, question: str, claim: str, passage: Passage, article: Article
    ) -> Support | None:
        """The passage sentence most similar to the claim that also agrees with it."""
        from askdocs.chunking import sentence_spans

        claim = strip_markers(claim)
        spans = sentence_spans(article.text, passage.chunk.start, passage.chunk.end)
        if not claim or not spans:
            return None
        texts = [article.text[s:e] for s, e in spans]
        query = np.asarray(self.embedder.embed_query(f"{question} {claim}"))
        similarities = self.sentence_vectors(texts) @ query
        for best in np.argsort(-similarities):
            if self.agrees(question, claim, texts[best]):
                return Support(float(similarities[best]), *spans[best])
        return None

    def agrees(self, question: str, claim: str, sentence: str) -> bool:
        """The claim's numbers, names and quoted words all occur in the sentence, and so do at
        least half of the words it adds to its question (so the question alone, which matches
        its own passages, cannot carry an unrelated claim)."""
        claim = strip_markers(claim)
        haystack = sentence.lower().replace(",", "")
        numbers = {n.replace(",", "") for n in _NUMBER.findall(claim)}
        names = {n.lower() for n in _NAME.findall(claim)}
        quoted = {q.lower() for q in _QUOTED.findall(claim)}
        if not all(term in haystack for term in numbers | names | quoted):
            return False
        if _negated(claim) != _negated(sentence):
            return False  # "did not accuse" is not supported by "has accused"
        added = set(content_terms(claim)) - set(content_terms(question))
        present = set(content_terms(sentence))
        return not added or len(added & present) * 2 >= len(added)

    def supports(
        self, question: str, claim: str, passage: Passage, article: Article
    ) -> Support | None:
        support = self.best_support(question, claim, passage, article)
        return support if support is not None and support.score >= self.threshold else None


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def is_refusal(reply: str) -> bool:
    from askdocs.types import CANNOT_ANSWER

    def words(text: str) -> str:
        return " ".join(re.findall(r"[a-z]+", text.lower()))

    return not reply.strip() or words(reply).startswith(words(CANNOT_ANSWER))


def verify_answer(
    reply: str,
    question: str,
    passages: list[Passage],
    articles: dict[str, Article],
    verifier: CitationVerifier,
    strict: bool = False,
) -> tuple[list[Claim], list[Citation]]:
    """Keep only citations whose passage supports their sentence; cite supported uncited ones.

    Returns the claims (sentences with their verified citation keys, renumbered 1..n in order
    of use) and the citations those keys name. A marker naming no shown passage is dropped.
    """
    citations: list[Citation] = []
    keys_by_span: dict[tuple[str, int, int], int] = {}

    def cite(passage: Passage, support: Support) -> int:
        article = articles[passage.chunk.article_id]
        span = (article.id, support.start, support.end)
        if span not in keys_by_span:
            keys_by_span[span] = len(citations) + 1
            citations.append(
                make_citation(keys_by_span[span], passage, article, support.start, support.end)
            )
        return keys_by_span[span]

    claims: list[Claim] = []
    for sentence in answer_sentences(reply):
        text = strip_markers(sentence)
        if not text:
            continue
        shown = [k for k in parse_markers(sentence) if 1 <= k <= len(passages)]
        candidates = shown or range(1, len(passages) + 1)
        supported = []
        for key in candidates:
            passage = passages[key - 1]
            support = verifier.supports(question, text, passage, articles[passage.chunk.article_id])
            if support:
                supported.append((support.score, passage, support))
        if not shown and supported:
            supported = [max(supported, key=lambda s: s[0])]  # an uncited claim gets its best
        keys = list(dict.fromkeys(cite(p, s) for _, p, s in supported))
        claims.append(Claim(text, keys, bool(keys)))
    if strict:
        claims = [c for c in claims if c.verified]
    used = {k for c in claims for k in c.citations}
    return claims, [c for c in citations if c.key in used]


def claims_text(claims: list[Claim]) -> str:
    """The answer as text; a "[2]" inside quoted article text becomes "(2)", so the only
    markers in an answer are its own citations."""
    return " ".join(
        f"{MARKER.sub(lambda m: f'({m[1]})', c.text)} {format_marker(c.citations)}".strip()
        for c in claims
    )
