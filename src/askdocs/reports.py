"""Evaluation outputs: results.json, report.md and PNG charts; and comparing two runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The metrics shown in tables and charts, in this order; all are "higher is better" except
# the ones listed in LOWER_IS_BETTER.
METRICS = [
    "doc_recall@k",
    "evidence_recall@k",
    "mrr",
    "answer_contains",
    "token_f1",
    "citation_precision",
    "citation_recall",
    "abstained_unanswerable",
    "abstained_answerable",
    "quote_violations",
    "verified_claims",
    "short_answer_contains",
    "answer_words_median",
    "latency_p50",
    "latency_p95",
]
LOWER_IS_BETTER = {
    "abstained_answerable", "quote_violations", "answer_words_median", "latency_p50", "latency_p95",
}  # fmt: skip
CHART_METRICS = [
    "doc_recall@k", "evidence_recall@k", "answer_contains", "citation_precision",
    "abstained_unanswerable",
]  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown_report(results: dict[str, Any]) -> str:
    totals = results["aggregate"]
    lines = [
        f"# Evaluation: {Path(results['questions_file']).name}",
        "",
        f"- corpus: `{results['corpus']}`; k = {results['k']}; settings hash "
        f"`{results['settings_hash']}`",
        f"- questions: {totals['questions']} ({totals['answerable']} answerable, "
        f"{totals['unanswerable']} unanswerable)",
        f"- index: {results['timings']['index_seconds']} s "
        f"({results['timings'].get('texts_embedded', 0)} texts embedded); asking: "
        f"{results['timings']['ask_seconds']} s; peak memory "
        f"{results['timings']['peak_memory_mb']} MB",
        "",
        "## Aggregate",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {m} | {_cell(totals.get(m))} |" for m in METRICS),
        "",
        "## By question type",
        "",
        "| type | n | " + " | ".join(METRICS[:8]) + " |",
        "|---|---|" + "---|" * 8,
    ]
    for kind, row in results["by_type"].items():
        cells = " | ".join(_cell(row.get(m)) for m in METRICS[:8])
        lines.append(f"| {kind} | {row['questions']} | {cells} |")
    curve = results.get("abstention_curve") or []
    if curve:
        current = results.get("abstain_threshold", results["settings"].get("abstain_threshold"))
        lines += [
            "",
            "## Abstention curve",
            "",
            "Share of questions abstained on at each threshold (chart: abstention.png). "
            "The threshold applies to the fitted probability that the best sentence answers; "
            "questions abstained on whatever the threshold (nothing retrieved) count at every "
            "point.",
            "",
            "| threshold | unanswerable abstained (want high) | answerable abstained (want low) |",
            "|---|---|---|",
        ]
        for point in curve:
            mark = (
                " (current)"
                if current is not None and abs(point["threshold"] - current) < 1e-9
                else ""
            )
            lines.append(
                f"| {point['threshold']:.3f}{mark} | {point['abstained_unanswerable']:.2f} | "
                f"{point['abstained_answerable']:.2f} |"
            )
    lines += ["", "## Worst failures", ""]
    for row in worst_failures(results["rows"]):
        titles = "; ".join(dict.fromkeys(p["title"] for p in row["retrieved"]))
        lines += [
            f"### {row['id']} ({row['type']})",
            f"- question: {row['question']}",
            f"- gold: {', '.join(row['gold']) or '(unanswerable)'}",
            f"- answer: {row['answer']}",
            f"- retrieved: {titles}",
            "",
        ]
    return "\n".join(lines) + "\n"


def worst_failures(rows: list[dict[str, Any]], n: int = 10) -> list[dict[str, Any]]:
    """Wrong answers first (missed documents worst), then wrong abstentions or non-abstentions."""
    failures = [
        r
        for r in rows
        if (r["answerable"] and not r["answer_contains"])
        or (not r["answerable"] and not r["abstained"])
    ]
    return sorted(failures, key=lambda r: (r["answerable"], r["doc_recall"], r["token_f1"]))[:n]


def record_run(results: dict[str, Any], path: Path) -> None:
    """The run's figures without its per-question rows, dated: a small file to keep in the
    repository (benchmarks/results/), from which the README's tables are written."""
    from datetime import date

    kept = {key: value for key, value in results.items() if key != "rows"}
    kept["recorded"] = date.today().isoformat()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n")


def write_outputs(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(markdown_report(results))
    write_charts(results, out)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_charts(results: dict[str, Any], out: Path) -> list[Path]:
    plt = _pyplot()
    types = list(results["by_type"])
    figure, axes = plt.subplots(figsize=(max(8, 1.3 * len(types) + 3), 4.5))
    width = 0.8 / len(CHART_METRICS)
    for i, metric in enumerate(CHART_METRICS):
        values = [results["by_type"][t].get(metric) or 0.0 for t in types]
        axes.bar([x + i * width for x in range(len(types))], values, width, label=metric)
    axes.set_xticks([x + width * (len(CHART_METRICS) - 1) / 2 for x in range(len(types))])
    axes.set_xticklabels(types, rotation=20)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("share of questions")
    axes.set_title(f"Metrics by question type (settings {results['settings_hash']})")
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    by_type_png = out / "metrics_by_type.png"
    figure.savefig(by_type_png, dpi=110)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(7, 4))
    latencies = [r["latency"] * 1000 for r in results["rows"]]
    axes.hist(latencies, bins=min(30, max(5, len(latencies) // 2)), color="#4477aa")
    for height, label, value in ((0.9, "p50", "latency_p50"), (0.8, "p95", "latency_p95")):
        seconds = results["aggregate"][value]
        if seconds is not None:
            axes.axvline(seconds * 1000, color="#cc3311", linestyle="--")
            axes.text(
                seconds * 1000, axes.get_ylim()[1] * height, f" {label} {seconds * 1000:.0f} ms",
                color="#cc3311",
            )  # fmt: skip
    axes.set_xlabel("latency per question (ms)")
    axes.set_ylabel("questions")
    axes.set_title("Question latency (retrieve + answer)")
    figure.tight_layout()
    latency_png = out / "latency.png"
    figure.savefig(latency_png, dpi=110)
    plt.close(figure)
    charts = [by_type_png, latency_png]
    if results.get("abstention_curve"):
        charts.append(_abstention_chart(results, out / "abstention.png"))
    return charts


def _abstention_chart(results: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    curve = results["abstention_curve"]
    current = results.get("abstain_threshold", results["settings"].get("abstain_threshold"))
    figure, axes = plt.subplots(figsize=(6.5, 4.5))
    xs = [p["abstained_answerable"] for p in curve]
    ys = [p["abstained_unanswerable"] for p in curve]
    axes.plot(xs, ys, marker="o", color="#4477aa")
    labelled: set[tuple[float, float]] = set()
    for point in curve:
        where = (point["abstained_answerable"], point["abstained_unanswerable"])
        if where in labelled:
            continue  # several thresholds on one point: label the lowest
        labelled.add(where)
        axes.annotate(
            f"{point['threshold']:.2f}",
            (point["abstained_answerable"], point["abstained_unanswerable"]),
            textcoords="offset points", xytext=(4, -10), fontsize=8,
        )  # fmt: skip
    chosen = [p for p in curve if current is not None and abs(p["threshold"] - current) < 1e-9]
    for point in chosen:
        axes.plot(
            point["abstained_answerable"], point["abstained_unanswerable"], "o",
            color="#cc3311", markersize=10, label=f"current threshold {current}",
        )  # fmt: skip
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("answerable questions abstained on (false abstentions)")
    axes.set_ylabel("unanswerable questions abstained on")
    axes.set_title("Abstention by threshold")
    if chosen:
        axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def compare_runs(run_a: Path, run_b: Path, out: Path | None = None) -> dict[str, Any]:
    """Per-metric differences (B - A) and the questions whose answer_contains flipped."""
    a = json.loads(_results_file(run_a).read_text())
    b = json.loads(_results_file(run_b).read_text())
    deltas = {}
    for metric in METRICS:
        va, vb = a["aggregate"].get(metric), b["aggregate"].get(metric)
        deltas[metric] = {
            "a": va,
            "b": vb,
            "delta": None if va is None or vb is None else round(vb - va, 4),
        }
    rows_a = {r["id"]: r for r in a["rows"]}
    flipped = []
    for row in b["rows"]:
        before = rows_a.get(row["id"])
        if before is None:
            continue
        was = before["answer_contains"] if before["answerable"] else before["abstained"]
        now = row["answer_contains"] if row["answerable"] else row["abstained"]
        if was != now:
            flipped.append({"id": row["id"], "question": row["question"], "now_correct": now})
    comparison = {"a": str(run_a), "b": str(run_b), "metrics": deltas, "flipped": flipped}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n")
        _comparison_chart(deltas, out / "comparison.png")
    return comparison


def _results_file(run: Path) -> Path:
    path = run / "results.json" if run.is_dir() else run
    if not path.is_file():
        raise FileNotFoundError(f"no results.json in {run}")
    return path


def _comparison_chart(deltas: dict[str, dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    shown = [m for m in METRICS if deltas[m]["delta"] is not None and not m.startswith("latency")]
    values = [deltas[m]["delta"] for m in shown]
    colors = [
        "#228833" if (v >= 0) != (m in LOWER_IS_BETTER) else "#cc3311"
        for m, v in zip(shown, values, strict=True)
    ]
    figure, axes = plt.subplots(figsize=(8, 4.5))
    axes.barh(shown, values, color=colors)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlabel("B − A (green = better)")
    axes.set_title("Metric differences between two runs")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
