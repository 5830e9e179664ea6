"""The generative answerer: an LLM writes the answer from fenced, numbered passages; every
citation in it is then checked against its passage."""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Mapping, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda

from askdocs.answer.follow_ups import HistoryTurn, history_turns
from askdocs.citations import MARKER, CitationVerifier, is_refusal, verify_answer
from askdocs.llms import LLMError
from askdocs.prompts import render
from askdocs.types import CANNOT_ANSWER, Article, Citation, Claim, Passage

_FENCE = re.compile(r"</?\s*passage", re.IGNORECASE)


def format_passages(passages: Sequence[Passage]) -> str:
    """Numbered passages, fenced so their text reads as data and cannot close its fence."""
    blocks = []
    for number, passage in enumerate(passages, 1):
        about = [passage.title.replace('"', "'")]
        if passage.published:
            about.append(passage.published.isoformat())
        if passage.metadata.get("outlet"):
            about.append(passage.metadata["outlet"])
        # Markers inside article text ("[1]") must not pass for citations of another passage.
        text = MARKER.sub(lambda m: f"({m[1]})", _FENCE.sub("‹passage", passage.chunk.text))
        blocks.append(f'<passage n="{number}" about="{"; ".join(about)}">\n{text}\n</passage>')
    return "\n\n".join(blocks)


def grounded_messages(question: str, passages: Sequence[Passage]) -> list[BaseMessage]:
    return [
        SystemMessage(content=render("grounded_qa_system", refusal=CANNOT_ANSWER)),
        HumanMessage(
            content=render(
                "grounded_qa_user", passages=format_passages(passages), question=question
            )
        ),
    ]


class GenerativeAnswerer:
    """An LLM writes the answer; every citation in it is then checked against its passage.

    >>> answerer = GenerativeAnswerer(chat_model, verifier)  # doctest: +SKIP
    >>> for piece in answerer.stream(question, passages, articles): ...  # doctest: +SKIP
    """

    def __init__(
        self, chat_model: BaseChatModel, verifier: CitationVerifier, strict: bool = False
    ) -> None:
        self.chat_model = chat_model
        self.verifier = verifier
        self.strict = strict
        # question + passages -> fenced prompt -> model: one LCEL runnable, streamed below.
        self.chain = (
            RunnableLambda(lambda x: grounded_messages(x["question"], x["passages"])) | chat_model
        )

    def stream(
        self, question: str, passages: Sequence[Passage], articles: Mapping[str, Article]
    ) -> Generator[str, None, tuple[list[Claim], list[Citation]]]:
        """Yield the model's text as it comes; return the verified (claims, citations)."""
        if not passages:
            return [], []
        reply = ""
        try:
            for chunk in self.chain.stream({"question": question, "passages": passages}):
                token = chunk.content if isinstance(chunk.content, str) else ""
                if token:
                    reply += token
                    yield token
        except Exception as exc:
            raise LLMError(f"the answer backend failed: {_describe(exc)}") from exc
        if is_refusal(reply):
            return [], []
        return verify_answer(
            reply, question, list(passages), dict(articles), self.verifier, self.strict
        )

    def rewrite_follow_up(self, question: str, history: Iterable[HistoryTurn] | None) -> str:
        turns = history_turns(history)
        if not turns:
            return question
        transcript = "\n".join(f"{role}: {text}" for role, text in turns[-6:])
        prompt = render("condense_question", history=transcript, question=question)
        try:
            reply = self.chat_model.invoke([HumanMessage(content=prompt)])
        except Exception as exc:  # every backend failure means the same to users
            raise LLMError(f"the answer backend failed: {_describe(exc)}") from exc
        rewritten = str(reply.content).strip().splitlines()[0].strip() if reply.content else ""
        return rewritten or question


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause).strip() and str(cause) not in text:
        text += f" ({str(cause).strip()})"
    return text
