"""Sentence-aware chunks that fit the embedder, each keeping its offsets into the article."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from askdocs.types import Article, Chunk

TokenCounter = Callable[[Sequence[str]], list[int]]

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "gen", "gov", "sen", "rep", "col", "lt",
    "capt", "sgt", "rev", "inc", "ltd", "co", "corp", "vs", "etc", "eg", "ie", "no", "nos",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "us", "uk", "un", "eu", "mt", "ft", "approx", "est", "dept", "univ", "fig", "vol", "op",
}  # fmt: skip
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_STARTS_SENTENCE = re.compile(r"\s+[\"'“‘(\[]?[A-Z0-9£$€]")
_WORD = re.compile(r"\S+")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split text[start:end] into trimmed sentence spans; a line break always ends a sentence."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    line_start = start
    while line_start < end:
        newline = text.find("\n", line_start, end)
        line_end = end if newline == -1 else newline
        spans.extend(_split_line(text, line_start, line_end))
        line_start = line_end + 1
    return spans


# Used with match(text, pos), which anchors at pos: no "^".
_LEADING_BULLET = re.compile(r"[-*•·–—]\s+")


def candidate_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """The sentences of text[start:end] an answer may quote: trimmed, list bullets left out.

    Ingest embeds exactly these, and the answerer scores exactly these, so their vectors can be
    computed once when the article is indexed.

    >>> text = "- First point here." + chr(10) + "Second one."
    >>> [text[a:b] for a, b in candidate_sentences(text)]
    ['First point here.', 'Second one.']
    """
    spans = []
    for a, b in sentence_spans(text, start, end):
        bullet = _LEADING_BULLET.match(text, a, b)
        a = bullet.end() if bullet else a
        if a < b and re.search(r"\w", text[a:b]):
            spans.append((a, b))
    return spans


def _split_line(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    sentence_start = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if not _STARTS_SENTENCE.match(text, match.end(), end) or _is_abbreviation(text, match):
            continue
        spans.append((sentence_start, match.end()))
        sentence_start = match.end()
    spans.append((sentence_start, end))
    return [trimmed for span in spans if (trimmed := _trim(text, *span))]


def _is_abbreviation(text: str, match: re.Match[str]) -> bool:
    if not match.group().startswith("."):
        return False
    word_start = match.start()
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start : match.start()].lstrip("\"'“‘(").replace(".", "").lower()
    is_initial = len(word) == 1 and word.isalpha()
    return word in _ABBREVIATIONS or is_initial


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


@dataclass(frozen=True)
class Chunker:
    """Packs whole sentences into chunks of at most `max_tokens` word pieces.

    >>> chunker = Chunker(lambda texts: [len(t.split()) for t in texts], max_tokens=50)
    >>> [c.text for c in chunker.split(article)]  # doctest: +SKIP
    """

    count_tokens: TokenCounter
    max_tokens: int = 160
    overlap_tokens: int = 40

    def split(self, article: Article) -> list[Chunk]:
        spans = self._fitting_spans(article.text, sentence_spans(article.text))
        lengths = self.count_tokens([article.text[s:e] for s, e in spans])
        groups: list[list[int]] = []
        current: list[int] = []
        current_tokens = 0
        for i, length in enumerate(lengths):
            if current and current_tokens + length > self.max_tokens:
                groups.append(current)
                current, current_tokens = self._overlap(current, lengths, length)
            current.append(i)
            current_tokens += length
        if current:
            groups.append(current)
        chunks = []
        for index, group in enumerate(groups):
            start, end = spans[group[0]][0], spans[group[-1]][1]
            text = article.text[start:end]
            chunks.append(
                Chunk(
                    id=chunk_id(article.id, index, text),
                    article_id=article.id,
                    index=index,
                    text=text,
                    start=start,
                    end=end,
                )
            )
        return chunks

    def _overlap(
        self, previous: list[int], lengths: list[int], incoming: int
    ) -> tuple[list[int], int]:
        """Carry the last whole sentences of the previous chunk, within the overlap budget."""
        carried: list[int] = []
        tokens = 0
        for i in reversed(previous):
            if tokens + lengths[i] > self.overlap_tokens or (
                tokens + lengths[i] + incoming > self.max_tokens
            ):
                break
            carried.insert(0, i)
            tokens += lengths[i]
        return carried, tokens

    def _fitting_spans(self, text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Cut sentences longer than a chunk at word boundaries so nothing is truncated later."""
        lengths = self.count_tokens([text[s:e] for s, e in spans])
        fitting: list[tuple[int, int]] = []
        for (start, end), length in zip(spans, lengths, strict=True):
            if length <= self.max_tokens:
                fitting.append((start, end))
                continue
            words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
            word_tokens = self.count_tokens([text[s:e] for s, e in words])
            piece_start, piece_tokens = words[0][0], 0
            previous_end = words[0][0]
            for (w_start, w_end), tokens in zip(words, word_tokens, strict=True):
                if piece_tokens and piece_tokens + tokens > self.max_tokens:
                    fitting.append((piece_start, previous_end))
                    piece_start, piece_tokens = w_start, 0
                # A single "word" longer than a chunk (a URL, a base64 blob) is cut by characters.
                while tokens > self.max_tokens:
                    cut = w_start + max(1, (w_end - w_start) * self.max_tokens // tokens // 2)
                    fitting.append((w_start, cut))
                    w_start = piece_start = cut
                    tokens = self.count_tokens([text[w_start:w_end]])[0]
                piece_tokens += tokens
                previous_end = w_end
            fitting.append((piece_start, previous_end))
        return fitting


def chunk_id(article_id: str, index: int, text: str) -> str:
    """Derived from content, so re-indexing the same article yields the same ids."""
    digest = hashlib.sha256(f"{article_id}\x00{index}\x00{text}".encode()).hexdigest()[:16]
    return f"{article_id}-{index:04d}-{digest}"
