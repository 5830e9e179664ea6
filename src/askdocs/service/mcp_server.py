"""askdocs as an MCP server (the official `mcp` SDK): tools `ask` and `search_articles`, and
each article's text as the resource article://{article_id}.

`askdocs mcp` serves it over stdio; `askdocs serve` also mounts it at /mcp (streamable HTTP,
behind the same API keys).
"""

from __future__ import annotations

from typing import Any

from askdocs.api import Assistant
from askdocs.types import passage_to_json

INSTRUCTIONS = (
    "Answers questions from the user's indexed news articles. Every answer quotes the exact "
    "sentences it rests on, with their article and character offsets; when the articles do "
    "not hold the answer it says so (abstained: true). Use search_articles to see passages."
)


def build_server(assistant: Assistant, max_question_chars: int) -> Any:
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("askdocs", instructions=INSTRUCTIONS)

    def checked(text: str) -> str:
        if not text.strip():
            raise ValueError("the question is empty")
        if len(text) > max_question_chars:
            raise ValueError(f"longer than the {max_question_chars} characters allowed")
        return text

    @server.tool()
    def ask(question: str, k: int | None = None) -> dict[str, Any]:
        """Answer a question from the indexed articles, citing the exact sentences used
        (article id, character offsets, quote), or abstain with the reason."""
        return assistant.ask(checked(question), k=k).to_json()

    @server.tool()
    def search_articles(query: str, k: int | None = None) -> dict[str, Any]:
        """The passages of the indexed articles that best match a query, with offsets."""
        retrieved = assistant.pipeline.retrieve(checked(query), k)
        return {"query": query, "passages": [passage_to_json(p) for p in retrieved.passages]}

    @server.resource("article://{article_id}", mime_type="text/plain")
    def article(article_id: str) -> str:
        """An indexed article's text: what citation offsets point into."""
        found = assistant.store.get_articles([article_id]).get(article_id)
        if found is None:
            raise ValueError(f"no article {article_id!r}")
        return found.text

    return server
