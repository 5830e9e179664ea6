"""Prompt templates are files under prompts/, loaded by name and checked for their variables."""

from __future__ import annotations

import re
import string
from functools import cache
from importlib import resources
from pathlib import Path

# An installed wheel carries the prompts inside the package; a source checkout has them at the
# repository root.
_CHECKOUT_PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


class PromptError(ValueError):
    """A prompt file is missing or lacks variables the code fills in."""


@cache
def load_prompt(name: str, required: frozenset[str] = frozenset()) -> str:
    """The text of prompts/NAME.txt; raises if any `required` {variable} is missing."""
    packaged = resources.files("askdocs") / "prompts" / f"{name}.txt"
    if packaged.is_file():
        text = packaged.read_text(encoding="utf-8")
    elif (_CHECKOUT_PROMPTS / f"{name}.txt").is_file():
        text = (_CHECKOUT_PROMPTS / f"{name}.txt").read_text(encoding="utf-8")
    else:
        raise PromptError(f"prompt {name!r} not found (looked for prompts/{name}.txt)")
    present = {field for _, field, _, _ in string.Formatter().parse(text) if field}
    missing = sorted(required - present)
    if missing:
        raise PromptError(f"prompt {name!r} lacks variable(s): {', '.join(missing)}")
    return text


def render(name: str, **values: str) -> str:
    """Fill a prompt's variables; braces inside the values are left as they are."""
    template = load_prompt(name, frozenset(values))
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], m[0]), template)
