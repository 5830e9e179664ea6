"""askdocs as a service: a REST API with an OpenAI-compatible chat endpoint (`askdocs serve`)
and an MCP server (`askdocs mcp`). FastAPI, uvicorn and the mcp SDK are imported only here."""
