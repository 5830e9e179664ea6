"""askdocs: answers from your articles, citing the exact passages.

>>> from askdocs import Assistant
>>> answer = Assistant(index_dir="index").ask("Who did Rubio accuse?")  # doctest: +SKIP
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["CANNOT_ANSWER", "Answer", "Assistant", "Citation", "Filters", "IngestReport"]

if TYPE_CHECKING:
    from askdocs.api import Assistant
    from askdocs.types import CANNOT_ANSWER, Answer, Citation, Filters, IngestReport


def __getattr__(name: str) -> Any:
    # Lazy, so `askdocs --help` does not pay for importing LangChain and Chroma.
    if name == "Assistant":
        from askdocs.api import Assistant

        return Assistant
    if name in __all__:
        from askdocs import types

        return getattr(types, name)
    raise AttributeError(f"module 'askdocs' has no attribute {name!r}")
