"""The `askdocs` command; heavy libraries are imported inside commands so `--help` is instant."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from askdocs.api import Assistant
    from askdocs.types import Answer, IngestReport

EXIT_USER_ERROR = 2
RETRIEVAL_OPTION = click.option(
    "--retrieval", type=click.Choice(["hybrid", "dense", "keyword"]),
    help="hybrid (default: dense + BM25), dense or keyword only.",
)  # fmt: skip
LLM_HELP = (
    "Answer backend: extractive, llamacpp:/path/model.gguf, ollama:MODEL or openai:MODEL "
    "(default: settings)."
)
EXIT_INTERRUPTED = 130


def _fail(message: str, code: int = EXIT_USER_ERROR) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _assistant(ctx: click.Context, **overrides: Any) -> Assistant:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from pydantic import ValidationError

    from askdocs.api import Assistant

    options = {**ctx.obj, **{k: v for k, v in overrides.items() if v is not None}}
    config_file = options.pop("config_file", None)
    try:
        return Assistant(config_file=config_file, **options)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        _fail(f"invalid settings: {problems}")
    except FileNotFoundError as exc:
        _fail(str(exc))


def _user_errors() -> tuple[type[Exception], ...]:
    from askdocs.citations import CitationError
    from askdocs.embeddings import EmbedderError
    from askdocs.index import StoreError
    from askdocs.llms import LLMError
    from askdocs.prompts import PromptError

    return (StoreError, EmbedderError, CitationError, LLMError, PromptError, FileNotFoundError,
            ValueError)  # fmt: skip


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Index folder (default ./index, or ASKDOCS_INDEX).",
)
@click.option("--chroma-url", help="Use a Chroma server instead of a local index folder.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file (default ./askdocs.toml if present).",
)
@click.version_option(package_name="askdocs")
@click.pass_context
def cli(
    ctx: click.Context, index_dir: Path | None, chroma_url: str | None, config_file: Path | None
) -> None:
    """Ask questions about a folder of articles; answers cite the exact passages."""
    ctx.obj = {"index_dir": index_dir, "chroma_url": chroma_url, "config_file": config_file}


@cli.command()
@click.argument("sources", nargs=-1)
@click.option(
    "--feed", "feeds", multiple=True, metavar="URL", help="An RSS/Atom feed (repeatable)."
)
@click.option(
    "--urls",
    "urls_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file of URLs, one a line (# starts a comment).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the ingest report as JSON.")
@click.pass_context
def ingest(
    ctx: click.Context,
    sources: tuple[str, ...],
    feeds: tuple[str, ...],
    urls_file: Path | None,
    as_json: bool,
) -> None:
    """Index files and folders (.txt .md .html .json .jsonl .pdf .docx), web pages and feeds.

    A SOURCE is a file, a folder or an http(s) URL; a URL that serves an RSS/Atom feed
    indexes each entry's article. Re-runs fetch only what is new.
    """
    from askdocs.loaders import is_url

    listed = _read_url_list(urls_file) if urls_file else []
    items = [*sources, *listed]
    if not items and not feeds:
        _fail("give files, folders or URLs to ingest (or --feed URL, --urls FILE)")
    missing = [s for s in items if not is_url(s) and not Path(s).expanduser().exists()]
    if missing:
        _fail(f"no such file or folder: {', '.join(missing)}")
    bad_feeds = [f for f in feeds if not is_url(f)]
    if bad_feeds:
        _fail(f"--feed needs an http:// or https:// URL: {', '.join(bad_feeds)}")
    report = _run_ingest(ctx, items, feeds, as_json)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    if report.interrupted:
        _fail(
            "interrupted; everything reported above is indexed, rerun to finish", EXIT_INTERRUPTED
        )


@cli.command()
@click.argument(
    "folders",
    nargs=-1,
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per batch of changes.")
@click.pass_context
def watch(ctx: click.Context, folders: tuple[Path, ...], as_json: bool) -> None:
    """Keep the index in step with FOLDERS: added, changed and deleted files.

    Syncs the folders first, then each batch of changes as it happens. Ctrl-C (or SIGTERM)
    stops it; an ingest cut short keeps what it wrote, and the next start catches up.
    """
    import signal
    import threading

    from askdocs.sync import SyncBatch
    from askdocs.sync import watch as watch_folders

    assistant = _assistant(ctx)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(batch: SyncBatch) -> None:
        summary = batch.report.to_json() if batch.report else None
        if as_json:
            line = {"paths": batch.paths, "removed": batch.removed, "busy": batch.busy}
            click.echo(json.dumps({**line, "ingest": summary}), nl=True)
            return
        stamp = time.strftime("%H:%M:%S")
        if batch.busy:
            click.echo(f"{stamp} waiting: {batch.busy}")
            return
        counts = (
            f"{summary['added']} indexed, {summary['updated']} updated, "
            f"{summary['unchanged']} unchanged, {summary['skipped']} skipped"
            if summary
            else "nothing to index"
        )
        click.echo(f"{stamp} {counts}, {len(batch.removed)} removed")
        for skipped in batch.report.failed if batch.report else []:
            click.echo(f"  skipped {skipped.path}: {skipped.reason}")

    if not as_json:
        click.echo(f"watching {', '.join(map(str, folders))} (Ctrl-C stops)")
    try:
        watch_folders(assistant, list(folders), report, stop_event=stop)
    except KeyboardInterrupt:
        pass
    except _user_errors() as exc:
        _fail(str(exc))
    if not as_json:
        click.echo("stopped")


def _read_url_list(path: Path) -> list[str]:
    from askdocs.loaders import is_url

    text = path.read_text(encoding="utf-8", errors="replace")
    urls = [line.strip() for line in text.splitlines()]
    urls = [u for u in urls if u and not u.startswith("#")]
    bad = [u for u in urls if not is_url(u)]
    if bad:
        _fail(f"{path}: not an http(s) URL: {bad[0]}")
    return urls


def _run_ingest(
    ctx: click.Context, items: list[str], feeds: tuple[str, ...] | list[str], as_json: bool
) -> IngestReport:
    """Ingest with a progress bar on stderr, and the report table unless JSON is wanted."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    assistant = _assistant(ctx)
    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("indexing", total=None)

        def progress(done: int, total: int, _: object) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = assistant.ingest(items, progress=progress, feeds=feeds)
        except _user_errors() as exc:
            _fail(str(exc))
    if not as_json:
        _print_report(console, report)
    return report


def _print_report(console: Any, report: IngestReport) -> None:
    from rich.table import Table

    table = Table(title="ingest", show_edge=False)
    for column in ("indexed", "updated", "unchanged", "removed", "skipped", "texts embedded",
                   "seconds"):  # fmt: skip
        table.add_column(column, justify="right")
    table.add_row(
        *(
            str(n)
            for n in (
                report.added,
                report.updated,
                report.unchanged,
                report.removed,
                len(report.failed),
                report.texts_embedded,
            )
        ),
        f"{report.seconds.get('total', 0.0):.1f}",
    )
    console.print(table)
    for skipped in report.failed:
        console.print(f"[yellow]skipped[/] {skipped.path}: {skipped.reason}")
    for warning in report.warnings:
        console.print(f"[yellow]warning[/] {warning}")


@cli.command()
@click.argument("question")
@click.option("-k", type=click.IntRange(min=1), help="Passages to retrieve.")
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON.")
@click.option("--source", "sources", multiple=True, help="Only this outlet or file (repeatable).")
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), help="Only articles published on/after."
)
@click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), help="Only articles published on/before."
)
@RETRIEVAL_OPTION
@click.option("--llm", help=LLM_HELP)
@click.option("--strict", is_flag=True, default=None, help="Drop sentences no passage supports.")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    k: int | None,
    as_json: bool,
    sources: tuple[str, ...],
    since: Any,
    until: Any,
    retrieval: str | None,
    llm: str | None,
    strict: bool | None,
) -> None:
    """Answer QUESTION from the indexed articles, with numbered sources."""
    from askdocs.types import Filters

    filters = Filters(
        sources=sources,
        date_from=since.date() if since else None,
        date_to=until.date() if until else None,
    )
    if not question.strip():
        _fail("the question is empty")
    assistant = _assistant(ctx, llm=llm, strict=strict, retrieval=retrieval)
    answer = _answer(assistant, question, [], k, filters or None, stream=not as_json)
    if as_json:
        click.echo(json.dumps(answer.to_json(), indent=2, ensure_ascii=False))
    else:
        _print_answer(answer)


def _answer(
    assistant: Assistant,
    question: str,
    history: list[tuple[str, str]],
    k: int | None,
    filters: Any,
    stream: bool,
) -> Answer:
    """Ask; with a generative backend, show the model's words as they arrive."""
    from askdocs.types import Answer

    live = stream and assistant.settings.llm != "extractive"
    try:
        for piece in assistant.stream(question, history=history, k=k, filters=filters):
            if isinstance(piece, Answer):
                if live:
                    click.echo("\n")
                return piece
            if live:
                click.echo(piece, nl=False)
    except _user_errors() as exc:
        _fail(str(exc))
    raise AssertionError("stream ended without an Answer")


def _print_answer(answer: Answer) -> None:
    if answer.note:
        click.echo(f"note: {answer.note}", err=True)
    if answer.backend != "extractive":
        click.echo("Verified answer:")
    if answer.abstained or not answer.claims:
        click.echo(answer.text)
    if answer.short_answer:
        click.secho(answer.short_answer, bold=True)
    for claim in answer.claims:
        markers = "".join(f"[{k}]" for k in claim.citations)
        click.echo(f"{claim.text} {markers}".strip() + ("" if claim.verified else " (unverified)"))
    if answer.citations:
        click.echo("\nSources:")
    for citation in answer.citations:
        click.echo(f"[{citation.key}] {citation.title} — {citation.where()}")
        click.echo(f'    "{citation.quote}"')
    if answer.abstained and answer.passages:
        click.echo("\nClosest passages (related, but not answering):")
        for passage in answer.passages[:3]:
            click.echo(f"- {passage.title} — {passage.source} (score {passage.score:.2f})")


@cli.command()
@click.option("-k", type=click.IntRange(min=1), help="Passages to retrieve.")
@RETRIEVAL_OPTION
@click.option("--llm", help=LLM_HELP)
@click.option("--strict", is_flag=True, default=None, help="Drop sentences no passage supports.")
@click.pass_context
def chat(
    ctx: click.Context, k: int | None, retrieval: str | None, llm: str | None, strict: bool | None
) -> None:
    """Chat in the terminal; follow-up questions use the conversation. Ctrl-D to quit."""
    assistant = _assistant(ctx, llm=llm, strict=strict, retrieval=retrieval)
    history: list[tuple[str, str]] = []
    while True:
        try:
            question = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
        except (EOFError, click.Abort):
            click.echo()
            return
        if not question.strip():
            continue
        if question.strip() in {"/quit", "/exit"}:
            return
        answer = _answer(assistant, question, history, k, None, stream=True)
        if answer.standalone_question != question.strip():
            click.echo(f"(searched for: {answer.standalone_question})")
        _print_answer(answer)
        click.echo()
        history += [("user", question), ("assistant", answer.text)]


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Show how many articles and chunks the index holds."""
    try:
        numbers = _assistant(ctx).stats()
    except _user_errors() as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(numbers))
    else:
        for key, value in numbers.items():
            click.echo(f"{key}: {value}")


@cli.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Verify the index: chunks match their articles, counts agree, no duplicates."""
    try:
        assistant = _assistant(ctx)
        problems = assistant.check()
        counts = assistant.stats()
    except _user_errors() as exc:
        _fail(str(exc))
    for problem in problems:
        click.echo(f"problem: {problem}")
    if problems:
        _fail(f"{len(problems)} problem(s): remove the affected articles and ingest them again", 1)
    click.echo(f"index OK: {counts['articles']} articles, {counts['chunks']} chunks")


@cli.command()
@click.argument("article")
@click.pass_context
def remove(ctx: click.Context, article: str) -> None:
    """Remove an article (by id or file path) or every article under a folder."""
    try:
        removed = _assistant(ctx).remove(article)
    except _user_errors() as exc:
        _fail(str(exc))
    if not removed:
        _fail(f"no indexed article matches {article!r}")
    click.echo(f"removed {len(removed)} article(s)")


def _progress_bar(description: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _eval_errors() -> tuple[type[Exception], ...]:
    from askdocs.evaluation import QuestionFileError

    return (*_user_errors(), QuestionFileError)


@cli.command("eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--corpus", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of the articles the questions are about (indexed whole).",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default eval-runs/<questions file name>); its index/ is reused.",
)  # fmt: skip
@click.option("-k", "--k", "k", type=click.IntRange(min=1), help="Passages per question.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N questions.")
@click.option("--types", help="Only these question types, comma-separated (e.g. who,when).")
@RETRIEVAL_OPTION
@click.option("--llm", help="Answer backend (default: the settings' llm).")
@click.option(
    "--record", type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the figures (no per-question rows) here, e.g. "
    "benchmarks/results/eval-dev.json.",
)  # fmt: skip
@click.pass_context
def eval_command(
    ctx: click.Context,
    questions: Path,
    corpus: Path,
    out: Path | None,
    k: int | None,
    limit: int | None,
    types: str | None,
    retrieval: str | None,
    llm: str | None,
    record: Path | None,
) -> None:
    """Score retrieval, answers, citations and abstention on a question set."""
    from askdocs.evaluation import run_evaluation

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = out or Path("eval-runs") / questions.stem
    settings = {key: v for key, v in ctx.obj.items() if key not in ("index_dir", "config_file")}
    if llm:
        settings["llm"] = llm
    if retrieval:
        settings["retrieval"] = retrieval
    with _progress_bar("eval") as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task("indexing" if stage == "index" else "asking")
            bar.update(tasks[stage], completed=done, total=total)

        try:
            results = run_evaluation(
                questions, corpus, out, k=k, limit=limit,
                types=[t.strip() for t in types.split(",")] if types else None,
                on_progress=progress, **{key: v for key, v in settings.items() if v is not None},
            )  # fmt: skip
        except _eval_errors() as exc:
            _fail(str(exc))
    totals = results["aggregate"]
    for metric, value in totals.items():
        click.echo(f"{metric:>24}: {value}")
    click.echo(f"\nwrote {out}/results.json, report.md, metrics_by_type.png, latency.png")
    if record:
        from askdocs.reports import record_run

        record_run(results, record)
        click.echo(f"recorded {record}")


@cli.command("eval-rgb")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--noise-ratio", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--passages", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--counterfactual", is_flag=True, help="Use positive_wrong passages.")
@click.option("--rejection", is_flag=True, help="Only negative passages: should abstain.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N questions.")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("eval-runs/rgb"),
    show_default=True,
)  # fmt: skip
@click.option(
    "--record", type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the figures (no per-question rows) here.",
)  # fmt: skip
@click.pass_context
def eval_rgb(
    ctx: click.Context,
    questions: Path,
    noise_ratio: float,
    passages: int,
    counterfactual: bool,
    rejection: bool,
    limit: int | None,
    out: Path,
    record: Path | None,
) -> None:
    """Run the RGB benchmark protocol (noise robustness, rejection, counterfactual)."""
    from askdocs.rgb import run_rgb

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with _progress_bar("rgb") as bar:
        task = bar.add_task("asking")
        try:
            report = run_rgb(
                questions, out, passages=passages, noise_ratio=noise_ratio,
                counterfactual=counterfactual, rejection=rejection, limit=limit,
                on_progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
        except _eval_errors() as exc:
            _fail(str(exc))
    for key, value in report["summary"].items():
        click.echo(f"{key:>20}: {value}")
    if record:
        from askdocs.reports import record_run

        record_run(report, record)
        click.echo(f"recorded {record}")


@cli.command("eval-compare")
@click.argument("run_a", type=click.Path(exists=True, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write JSON + PNG.")
def eval_compare(run_a: Path, run_b: Path, out: Path | None) -> None:
    """Compare two evaluation runs: per-metric difference and questions that flipped."""
    from askdocs.reports import compare_runs

    try:
        comparison = compare_runs(run_a, run_b, out or run_b / "compare")
    except FileNotFoundError as exc:
        _fail(str(exc))
    click.echo(f"{'metric':>24} {'A':>9} {'B':>9} {'B-A':>9}")
    for metric, row in comparison["metrics"].items():
        cells = [("–" if v is None else f"{v:.4g}") for v in (row["a"], row["b"], row["delta"])]
        click.echo(f"{metric:>24} {cells[0]:>9} {cells[1]:>9} {cells[2]:>9}")
    click.echo(f"\n{len(comparison['flipped'])} question(s) flipped:")
    for flip in comparison["flipped"]:
        mark = "now right" if flip["now_correct"] else "now wrong"
        click.echo(f"  {flip['id']} ({mark}): {flip['question']}")


def _server_options(default_port: int) -> Any:
    """--host, --port and --index of the commands that serve (the chat page, the API)."""

    def decorate(command: Any) -> Any:
        for option in reversed(
            [
                click.option(
                    "--host", default="127.0.0.1", show_default=True, help="Address to bind."
                ),
                click.option(
                    "--port",
                    default=default_port,
                    show_default=True,
                    type=click.IntRange(1, 65535),
                ),
                click.option(
                    "--index",
                    "index_dir",
                    type=click.Path(file_okay=False, path_type=Path),
                    help="Index folder (same as the global --index).",
                ),
                click.pass_context,
            ]
        ):
            command = option(command)
        return command

    return decorate


@cli.command()
@_server_options(default_port=7860)
def ui(ctx: click.Context, host: str, port: int, index_dir: Path | None) -> None:
    """Serve the chat page (login when ASKDOCS_UI_AUTH=user:password is set)."""
    from askdocs.service.auth import is_loopback
    from askdocs.ui import launch

    if index_dir is not None:
        ctx.obj["index_dir"] = index_dir
    if not is_loopback(host) and not os.environ.get("ASKDOCS_UI_AUTH"):
        click.echo(
            f"warning: serving on {host} without a login; set ASKDOCS_UI_AUTH=user:password",
            err=True,
        )
    try:
        launch(_assistant(ctx), host=host, port=port)
    except _user_errors() as exc:
        _fail(str(exc))


@cli.command()
@_server_options(default_port=8000)
def serve(ctx: click.Context, host: str, port: int, index_dir: Path | None) -> None:
    """Serve the REST API, the OpenAI-compatible chat endpoint and MCP (docs at /docs).

    Keys: ASKDOCS_API_KEYS=ID:SECRET[:write],... (required unless HOST is loopback).
    """
    import logging

    from askdocs.service.auth import ApiKeyError, is_loopback, parse_keys

    if index_dir is not None:
        ctx.obj["index_dir"] = index_dir
    assistant = _assistant(ctx)
    try:
        keys = parse_keys(assistant.settings.api_keys.get_secret_value())
    except ApiKeyError as exc:
        _fail(f"ASKDOCS_API_KEYS: {exc}")
    if not keys and not is_loopback(host):
        _fail(
            f"refusing to listen on {host} without API keys: anyone who can reach it could "
            "read and change the index; set ASKDOCS_API_KEYS=ID:SECRET[:write],... "
            "or bind to 127.0.0.1"
        )
    import uvicorn

    from askdocs.service.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    click.echo(
        f"askdocs API on http://{host}:{port} (docs at /docs; "
        f"{len(keys)} key(s){'' if keys else ', no key needed on loopback'})",
        err=True,
    )
    try:
        uvicorn.run(create_app(assistant, keys, host), host=host, port=port, log_level="warning")
    except _user_errors() as exc:
        _fail(str(exc))


@cli.command("mcp")
@click.pass_context
def mcp_command(ctx: click.Context) -> None:
    """Serve the index as an MCP server over stdio (tools ask and search_articles)."""
    from askdocs.service.mcp_server import build_server

    assistant = _assistant(ctx)
    build_server(assistant, assistant.settings.serve_max_question_chars).run("stdio")


def main(args: list[str] | None = None) -> None:
    cli(args, prog_name="askdocs")


if __name__ == "__main__":
    main()
