"""An article's text stored once: in its chunks, plus what no chunk covers.

Chroma indexes every document for full-text search (a trigram index about three times the
text) and every metadata string, so each stored copy of the text costs about six times its
size. Articles' records used to hold the whole text beside their chunks, which hold all of it
again (chunks are whole sentences, overlapping or separated by whitespace only): measured at
100k chunks, the second copy was 0.55 GB of the 2.2 GB index. The record now keeps only the
runs of text that no chunk covers (the whitespace between two chunks that do not overlap, any
leading or trailing text) and the text's length, and the text is assembled from its chunks,
character for character, so citation offsets keep pointing at the same characters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

LENGTH_KEY = "text_length"
GAPS_KEY = "text_gaps"
"""Record metadata: the text's length, and the uncovered runs as a JSON list of [start, text]."""


def gaps(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, str]]:
    """The runs of `text` that none of the (start, end) spans covers, in order.

    >>> gaps("ab  cd", [(0, 2), (4, 6)])
    [(2, '  ')]
    """
    runs = []
    covered_to = 0
    for start, end in sorted(spans):
        if start > covered_to:
            runs.append((covered_to, text[covered_to:start]))
        covered_to = max(covered_to, end)
    if covered_to < len(text):
        runs.append((covered_to, text[covered_to:]))
    return runs


def record_fields(text: str, spans: Iterable[tuple[int, int]]) -> dict[str, int | str]:
    """What an article's record stores so that `assemble` can give its text back."""
    return {
        LENGTH_KEY: len(text),
        GAPS_KEY: json.dumps(gaps(text, spans), ensure_ascii=False, separators=(",", ":")),
    }


def stored_in_record(meta: dict) -> bool:
    """Whether a record was written this way (older records hold the whole text)."""
    return LENGTH_KEY in meta and GAPS_KEY in meta


def assemble(meta: dict, pieces: Sequence[tuple[int, str]]) -> str | None:
    """The article's text from its record's fields and its chunks' (start, text); None when
    they do not give it back whole (a chunk missing, pieces that disagree where they overlap,
    or a length that does not match): such an article is not fully indexed.

    >>> assemble({"text_length": 6, "text_gaps": '[[2,"  "]]'}, [(0, "ab"), (4, "cd")])
    'ab  cd'
    """
    length = int(meta[LENGTH_KEY])
    runs = [(int(start), str(run)) for start, run in json.loads(str(meta[GAPS_KEY]))]
    parts: list[str] = []
    covered_to = 0
    for start, piece in sorted([*pieces, *runs], key=lambda p: p[0]):
        end = start + len(piece)
        if start > covered_to:
            return None  # a hole: some chunk is missing
        overlap = piece[: covered_to - start]  # the part already assembled (maybe all)
        if overlap and _tail(parts, covered_to - start)[: len(overlap)] != overlap:
            return None
        if end > covered_to:
            parts.append(piece[covered_to - start :])
            covered_to = end
    return "".join(parts) if covered_to == length else None


def _tail(parts: list[str], size: int) -> str:
    """The last `size` characters of what has been assembled so far."""
    if size <= 0:
        return ""
    collected: list[str] = []
    needed = size
    for part in reversed(parts):
        collected.append(part[-needed:])
        needed -= len(collected[-1])
        if needed <= 0:
            break
    return "".join(reversed(collected))
