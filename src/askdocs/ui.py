"""The Gradio chat page: streamed answers, clickable citations, uploads, filters, settings."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from askdocs.api import Assistant
from askdocs.chunking import sentence_spans
from askdocs.loaders import SUPPORTED_SUFFIXES, is_url
from askdocs.types import Answer, Citation, Filters, IngestReport, short_source

# Article text is data: every character of it is escaped, Markdown punctuation included, so an
# article can neither inject HTML nor turn "[1](http://...)" into a link in the chat.
_ESCAPES = {c: f"&#{ord(c)};" for c in "&<>\"'[]()*_`~#|\\!{}$"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_CONTEXT_CHARS = 400

CSS = """
.askdocs-hidden { display: none !important; }
.askdocs-cite { color: #1d4ed8; cursor: pointer; font-weight: 600; text-decoration: underline; }
.askdocs-passage mark { background: #fde68a; padding: 0 2px; }
.askdocs-passage .askdocs-meta, .askdocs-sources small { color: #555; }
.askdocs-abstained { color: #92400e; }
.askdocs-unverified { color: #6b7280; font-style: italic; }
"""

# Citation markers are plain spans (no script survives Gradio's sanitiser); one listener on the
# page turns a click on any of them into an input event on a hidden textbox.
CLICK_JS = """
() => {
  document.addEventListener('click', (event) => {
    const cite = event.target.closest('.askdocs-cite');
    if (!cite) return;
    event.preventDefault();
    const box = document.querySelector('#askdocs-cite-ref textarea, #askdocs-cite-ref input');
    if (!box) return;
    const ref = [...cite.classList].find((name) => name.startsWith('askdocs-ref-'));
    if (!ref) return;
    box.value = ref.slice('askdocs-ref-'.length) + '@' + Date.now();
    box.dispatchEvent(new Event('input', { bubbles: true }));
  });
}
"""


def escape_text(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text)


def escape_block(text: str) -> str:
    """Escaped text whose line breaks stay visible in an HTML panel."""
    return escape_text(text).replace("\n", "<br>")


def _citation_label(citation: Citation) -> str:
    page = f", p. {citation.page}" if citation.page else ""
    return f"{short_source(citation.source)}{page}"


def cite_marker(turn: int, key: int) -> str:
    # The reference rides in a class name: Gradio's sanitiser keeps classes but drops data-*.
    return f'<span class="askdocs-cite askdocs-ref-{turn}-{key}" role="button">[{key}]</span>'


def render_answer(answer: Answer, turn: int) -> str:
    """The chat message: each quoted sentence followed by its clickable marker."""
    if answer.abstained:
        return f'<span class="askdocs-abstained">{escape_text(answer.text)}</span>'
    parts = []
    for claim in answer.claims:
        markers = "".join(cite_marker(turn, key) for key in claim.citations)
        if claim.verified:
            parts.append(f"{escape_text(claim.text)} {markers}")
        else:
            parts.append(
                f'<span class="askdocs-unverified">{escape_text(claim.text)}</span>'
                ' <small class="askdocs-unverified">(unverified)</small>'
            )
    note = (
        f'<br><small class="askdocs-note">{escape_text(answer.note)}</small>' if answer.note else ""
    )
    short = (
        f'<b class="askdocs-short">{escape_text(answer.short_answer)}</b> — '
        if answer.short_answer
        else ""
    )
    return short + " ".join(parts) + note


def render_sources(answer: Answer, turn: int, show_scores: bool) -> str:
    parts = ['<div class="askdocs-sources">']
    if answer.standalone_question.strip() != answer.question.strip():
        parts.append(
            f'<p class="askdocs-standalone">Searched for: <q>'
            f"{escape_text(answer.standalone_question)}</q></p>"
        )
    if answer.abstained:
        parts.append("<p><b>Related, but not answering:</b></p><ul>")
        for passage in answer.passages[:3]:
            score = f" <small>(score {passage.score:.2f})</small>" if show_scores else ""
            parts.append(
                f"<li><b>{escape_text(passage.title)}</b>{score}<br>"
                f"<small>{escape_text(passage.chunk.text[:240])}…</small></li>"
            )
        parts.append("</ul>")
    else:
        parts.append("<p><b>Sources</b> (click to read the passage)</p><ol>")
        scores = {p.chunk.id: p.score for p in answer.passages}
        for citation in answer.citations:
            score = (
                f" <small>(score {scores.get(citation.chunk_id, 0.0):.2f})</small>"
                if show_scores
                else ""
            )
            parts.append(
                f"<li>{cite_marker(turn, citation.key)} <b>{escape_text(citation.title)}</b>"
                f"{score}<br><small>{escape_text(_citation_label(citation))}</small></li>"
            )
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def render_passage(citation: Citation, article_text: str, meta: dict[str, str]) -> str:
    """The cited sentence highlighted inside whole neighbouring sentences of its article."""
    before = sentence_spans(article_text, max(0, citation.start - _CONTEXT_CHARS), citation.start)
    after = sentence_spans(
        article_text, citation.end, min(len(article_text), citation.end + _CONTEXT_CHARS)
    )
    start = before[1][0] if len(before) > 1 else (before[0][0] if before else citation.start)
    end = after[-2][1] if len(after) > 1 else (after[0][1] if after else citation.end)
    details = " · ".join(escape_text(v) for v in meta.values() if v)
    return (
        '<div class="askdocs-passage">'
        f"<h4>[{citation.key}] {escape_text(citation.title)}</h4>"
        f'<p class="askdocs-meta">{details}</p>'
        f"<p>{escape_block(article_text[start : citation.start])}"
        f"<mark>{escape_text(citation.quote)}</mark>"
        f"{escape_block(article_text[citation.end : end])}</p>"
        "</div>"
    )


def safe_upload_name(name: str) -> str:
    """A file name that cannot climb out of the upload folder or pose as an option."""
    base = Path(name).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = _SAFE_NAME.sub("_", stem).strip("._-")[:80] or "upload"
    return f"{stem}{suffix}"


def parse_day(value: str | None) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"dates are YYYY-MM-DD, got {value!r}") from None


class ChatApp:
    """Holds the shared Assistant; every browser session keeps its own history in gr.State."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.backends = {assistant.settings.llm: assistant}
        if "extractive" not in self.backends:
            # The extractive answerer is always offered; it shares the index and the model.
            self.backends["extractive"] = assistant.variant(llm="extractive")
        self.ingest_lock = threading.Lock()
        self.upload_dir = Path(assistant.settings.index_dir) / "uploads"

    # -------------------------------------------------------------- questions

    def ask(
        self,
        question: str,
        chat: list[dict[str, Any]],
        conversation: list[tuple[str, str]],
        answers: list[Answer],
        k: int,
        sources: list[str],
        date_from: str,
        date_to: str,
        show_scores: bool,
        backend: str | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        import gradio as gr

        question = (question or "").strip()
        if not question:
            raise gr.Error("Type a question first.")
        try:
            filters = Filters(
                sources=tuple(sources or ()),
                date_from=parse_day(date_from),
                date_to=parse_day(date_to),
            )
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        chat = [*chat, {"role": "user", "content": escape_text(question)}]
        chat.append({"role": "assistant", "content": ""})
        yield "", chat, conversation, answers, "", ""
        streamed = ""
        try:
            assistant = self.backends.get(backend or "", self.assistant)
            for piece in assistant.stream(
                question, history=conversation, k=int(k), filters=filters or None
            ):
                if isinstance(piece, str):
                    streamed += piece
                    chat[-1] = {"role": "assistant", "content": escape_text(streamed)}
                    yield "", chat, conversation, answers, "", ""
                else:
                    answer = piece
        except Exception as exc:  # noqa: BLE001 - shown in the chat instead of a stack trace
            chat[-1] = {"role": "assistant", "content": escape_text(f"Error: {exc}")}
            yield "", chat, conversation, answers, "", ""
            return
        turn = len(answers)
        answers = [*answers, answer]
        chat[-1] = {"role": "assistant", "content": render_answer(answer, turn)}
        conversation = [*conversation, ("user", question), ("assistant", answer.text)]
        yield "", chat, conversation, answers, render_sources(answer, turn, show_scores), ""

    def open_citation(self, reference: str, answers: list[Answer]) -> str:
        match = re.match(r"(\d+)-(\d+)", reference or "")
        if not match:
            return ""
        turn, key = int(match[1]), int(match[2])
        if turn >= len(answers):
            return ""
        citation = next((c for c in answers[turn].citations if c.key == key), None)
        if citation is None:
            return ""
        article = self.assistant.store.get_articles([citation.article_id]).get(citation.article_id)
        if article is None:
            return "<p>This article has been removed from the index.</p>"
        meta = {
            "outlet": article.metadata.get("outlet", ""),
            "published": article.published.isoformat() if article.published else "",
            "dateline": article.metadata.get("dateline_date", ""),
            "file": short_source(article.source),
        }
        return render_passage(citation, article.text, meta)

    # ---------------------------------------------------------------- uploads

    def upload(self, files: list[Any] | None, progress: Any = None) -> tuple[str, str, Any]:
        import gradio as gr

        files = files or []
        settings = self.assistant.settings
        if not files:
            return "No files chosen.", self.stats_text(), gr.update()
        if len(files) > settings.ui_max_upload_files:
            limit = settings.ui_max_upload_files
            raise gr.Error(f"{len(files)} files is more than the {limit} allowed at once.")
        rows, accepted = [], []
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        for item in files:
            original = Path(getattr(item, "name", None) or str(item))
            name = safe_upload_name(original.name)
            size_mb = original.stat().st_size / 1e6
            if Path(name).suffix not in SUPPORTED_SUFFIXES:
                rows.append(
                    (name, "skipped", f"unsupported file type {Path(name).suffix or '(none)'}")
                )
            elif size_mb > settings.ui_max_upload_mb:
                rows.append(
                    (
                        name,
                        "skipped",
                        f"{size_mb:.1f} MB is above the {settings.ui_max_upload_mb:g} MB limit",
                    )
                )
            else:
                target = self.upload_dir / name
                shutil.copyfile(original, target)
                accepted.append(target)
        return self._ingest_and_report(accepted, rows, progress, "indexing")

    def add_urls(self, text: str, progress: Any = None) -> tuple[str, str, Any]:
        """Fetch web pages and feeds typed into the page, under the same limits as ingest
        (non-public addresses refused unless `fetch_allow_private`)."""
        import gradio as gr

        urls = list(dict.fromkeys(line.strip() for line in (text or "").splitlines()))
        urls = [u for u in urls if u]
        if not urls:
            return "No URL given.", self.stats_text(), gr.update()
        if len(urls) > self.assistant.settings.ui_max_upload_files:
            limit = self.assistant.settings.ui_max_upload_files
            raise gr.Error(f"{len(urls)} URLs is more than the {limit} allowed at once.")
        rows = [(u, "skipped", "not an http:// or https:// URL") for u in urls if not is_url(u)]
        return self._ingest_and_report([u for u in urls if is_url(u)], rows, progress, "fetching")

    def _ingest_and_report(
        self, sources: list[Any], rows: list[tuple[str, str, str]], progress: Any, desc: str
    ) -> tuple[str, str, Any]:
        """Ingest files or URLs one upload at a time; the table of every source's result."""
        import gradio as gr

        if sources:
            with self.ingest_lock:
                report = self.assistant.ingest(
                    sources,
                    progress=(lambda d, t, _: progress((d, t), desc=desc)) if progress else None,
                )
            rows = rows + _report_rows(report)
        return _rows_table(rows), self.stats_text(), gr.update(choices=self.source_choices())

    def stats_text(self) -> str:
        try:
            counts = self.assistant.store.counts()
        except Exception:  # noqa: BLE001 - an empty or unreachable index is shown, not raised
            return "Index is empty: add articles below."
        return f"**{counts['articles']}** articles · **{counts['chunks']}** passages indexed"

    def source_choices(self) -> list[str]:
        try:
            records = self.assistant.store.indexed_articles().values()
        except Exception:  # noqa: BLE001
            return []
        return sorted({r.outlet for r in records if r.outlet})


def _report_rows(report: IngestReport) -> list[tuple[str, str, str]]:
    return [(short_source(f.path), f.status, f.reason) for f in report.files]


def _rows_table(rows: list[tuple[str, str, str]]) -> str:
    return "| source | result | reason |\n|---|---|---|\n" + "\n".join(
        f"| {escape_text(n)} | {s} | {escape_text(r)} |" for n, s, r in rows
    )


def build_app(assistant: Assistant) -> Any:
    import gradio as gr

    app = ChatApp(assistant)
    with gr.Blocks(title="askdocs", analytics_enabled=False) as demo:
        gr.Markdown("## askdocs — ask your articles; every answer cites its sentences")
        stats = gr.Markdown(app.stats_text, elem_id="askdocs-stats")
        conversation = gr.State([])
        answers = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(elem_id="askdocs-chat", height=520, label="Chat")
                question = gr.Textbox(
                    elem_id="askdocs-question", placeholder="Ask about your articles…",
                    show_label=False, lines=1, max_lines=4,
                )  # fmt: skip
                with gr.Row():
                    send = gr.Button("Ask", variant="primary", elem_id="askdocs-send")
                    clear = gr.Button("New conversation")
            with gr.Column(scale=2):
                sources = gr.HTML(elem_id="askdocs-sources")
                passage = gr.HTML(elem_id="askdocs-passage")
                with gr.Accordion("Add articles", open=False, elem_id="askdocs-upload-box"):
                    upload = gr.File(
                        file_count="multiple", elem_id="askdocs-upload",
                        file_types=sorted(SUPPORTED_SUFFIXES),
                        label="txt, md, html, json, jsonl, pdf, docx",
                    )  # fmt: skip
                    urls = gr.Textbox(
                        label="Web pages or RSS/Atom feeds (one URL a line)",
                        lines=2,
                        elem_id="askdocs-urls",
                    )
                    add_urls = gr.Button("Fetch and index", elem_id="askdocs-add-urls")
                    upload_report = gr.Markdown(elem_id="askdocs-upload-report")
                with gr.Accordion("Filters", open=False):
                    source_filter = gr.Dropdown(
                        choices=app.source_choices(), multiselect=True, label="Only these outlets"
                    )
                    date_from = gr.Textbox(label="Published on or after (YYYY-MM-DD)")
                    date_to = gr.Textbox(label="Published on or before (YYYY-MM-DD)")
                with gr.Accordion("Settings", open=False):
                    k = gr.Slider(1, 20, value=assistant.settings.k, step=1, label="Passages")
                    backend = gr.Dropdown(
                        choices=list(app.backends), value=assistant.settings.llm,
                        label="Answer backend",
                    )  # fmt: skip
                    show_scores = gr.Checkbox(value=False, label="Show scores")
        cite_ref = gr.Textbox(elem_id="askdocs-cite-ref", elem_classes=["askdocs-hidden"])

        ask_inputs = [question, chat, conversation, answers, k, source_filter, date_from, date_to,
                      show_scores, backend]  # fmt: skip
        ask_outputs = [question, chat, conversation, answers, sources, passage]
        question.submit(app.ask, ask_inputs, ask_outputs)
        send.click(app.ask, ask_inputs, ask_outputs)
        clear.click(
            lambda: ([], [], [], "", ""), None, [chat, conversation, answers, sources, passage]
        )
        # .change, not .input: a value set from page script fires only the change event.
        cite_ref.change(app.open_citation, [cite_ref, answers], passage)

        def on_upload(files: list[Any] | None, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            return app.upload(files, progress)

        upload.upload(on_upload, upload, [upload_report, stats, source_filter])

        def on_add_urls(text: str, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            return app.add_urls(text, progress)

        add_urls.click(on_add_urls, urls, [upload_report, stats, source_filter])
    return demo


# What a browser needs to show the login form: static files and the login routes themselves.
_OPEN_WITHOUT_LOGIN = re.compile(
    r"^/(|login/?|logout/?|favicon\.ico|manifest\.json|robots\.txt|theme\.css|"
    r"gradio_api/theme\.css|gradio_api/startup-events|pwa_icon(/.*)?|assets/.*|static/.*|svelte/.*)$"
)


class LoginRequired:
    """ASGI middleware: with a login configured, every other route answers 401 to a request
    without a valid session cookie. Gradio guards its main routes itself but leaves some of
    its API (user, token, runs, cancel, reset, ...) open."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        gradio_app = scope.get("app")
        if (
            scope["type"] in ("http", "websocket")
            and getattr(gradio_app, "auth", None)
            and not _OPEN_WITHOUT_LOGIN.match(scope.get("path", ""))
            and not _logged_in(scope, gradio_app)
        ):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            from starlette.responses import JSONResponse

            await JSONResponse({"detail": "Not authenticated"}, status_code=401)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


def _logged_in(scope: dict[str, Any], gradio_app: Any) -> bool:
    from http.cookies import SimpleCookie

    cookies = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookies.load(value.decode("latin-1"))
    suffix = getattr(gradio_app, "cookie_id", "")
    for name in (f"access-token-{suffix}", f"access-token-unsecure-{suffix}"):
        if name in cookies and cookies[name].value in getattr(gradio_app, "tokens", {}):
            return True
    return False


def launch(
    assistant: Assistant, host: str = "127.0.0.1", port: int = 7860, block: bool = True
) -> Any:
    """Serve the chat page; login is required when ASKDOCS_UI_AUTH=user:password is set.

    Returns the running Blocks (with block=False the caller closes it).
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import gradio as gr

    auth = None
    credentials = os.environ.get("ASKDOCS_UI_AUTH")
    if credentials:
        user, _, password = credentials.partition(":")
        if not user or not password:
            raise ValueError("ASKDOCS_UI_AUTH must look like user:password")
        auth = (user, password)
    from starlette.middleware import Middleware

    demo = build_app(assistant)
    demo.queue(default_concurrency_limit=8)
    # Load the model while the page starts, so the first question does not wait for it.
    threading.Thread(target=assistant.embedder.embed_query, args=("warm-up",), daemon=True).start()
    # System fonts: the default theme would fetch web fonts from the internet.
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        share=False,
        ssr_mode=False,
        prevent_thread_lock=not block,
        max_file_size=f"{assistant.settings.ui_max_upload_mb:g}mb",
        theme=theme,
        css=CSS,
        js=CLICK_JS,
        footer_links=[],  # no links to gradio.app or the API page
        # FastAPI's schema and docs pages would answer without the login.
        app_kwargs={
            "openapi_url": None,
            "docs_url": None,
            "redoc_url": None,
            "middleware": [Middleware(LoginRequired)],
        },
    )
    return demo
