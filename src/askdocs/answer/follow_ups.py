"""Follow-up questions: a turn that leans on the conversation ("And what about Mexico?") is
made answerable alone from the earlier questions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from askdocs.index.keywords import content_terms

HistoryTurn = tuple[str, str] | Mapping[str, str]

_PRONOUNS = frozenset(
    "it its they them their he she his her him that this those these there".split()
)
_FOLLOW_UP_OPENERS = ("and ", "what about", "how about", "also", "then ", "so ")


def standalone_question(question: str, history: Iterable[HistoryTurn] | None) -> str:
    """Make a follow-up ("And what about Mexico?") answerable alone, using earlier questions."""
    asked = [text for role, text in history_turns(history) if role in ("user", "human")]
    parts = [question]
    while asked and _depends_on_context(parts[0]):
        parts.insert(0, asked.pop())
    return " ".join(p.strip() for p in parts)


def history_turns(history: Iterable[HistoryTurn] | None) -> list[tuple[str, str]]:
    turns = []
    for turn in history or []:
        if isinstance(turn, Mapping):
            turns.append((str(turn.get("role", "")).lower(), str(turn.get("content", ""))))
        else:
            role, text = turn
            turns.append((role.lower(), text))
    return turns


def _depends_on_context(question: str) -> bool:
    lowered = question.lower().strip()
    words = re.findall(r"[a-z']+", lowered)
    return (
        lowered.startswith(_FOLLOW_UP_OPENERS)
        or any(w in _PRONOUNS for w in words)
        or len(content_terms(question)) <= 2
    )
