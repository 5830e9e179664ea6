"""Write the README's tables of measured numbers from the files the measuring commands wrote.

Every table between `<!-- numbers:NAME -->` and `<!-- /numbers:NAME -->` in README.md is
rendered here from a file under benchmarks/results/ (which command writes which file is
listed in RENDERERS). `--check` changes nothing and exits 1 when the README differs from what
the files say (tests/test_readme_numbers.py runs it).

    python scripts/readme_numbers.py [--check]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
BLOCK = re.compile(
    r"(<!-- numbers:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /numbers:(?P=name) -->)", re.S
)


def _load(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / name).read_text(encoding="utf-8"))


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _count(share: float | None, total: int) -> str:
    return "–" if share is None or not total else f"{round(share * total)} of {total}"


def eval_table() -> str:
    """`askdocs eval … --record benchmarks/results/eval-dev.json` (and eval-dev2.json)."""
    runs = [_load("eval-dev.json"), _load("eval-dev2.json")]
    agg = [r["aggregate"] for r in runs]
    header = " | ".join(
        f"{Path(r['questions_file']).name} ({a['answerable']} + {a['unanswerable']})"
        for r, a in zip(runs, agg, strict=True)
    )
    rows = [
        ("doc_recall@5", lambda a: _f(a["doc_recall@k"])),
        ("evidence_recall@5", lambda a: _f(a["evidence_recall@k"])),
        ("answer_contains", lambda a: f"**{_f(a['answer_contains'])}**"),
        ("short_answer_contains (when given)", lambda a: _f(a["short_answer_contains"])),
        ("citation_precision / recall",
         lambda a: f"{_f(a['citation_precision'])} / {_f(a['citation_recall'])}"),
        ("quote_violations", lambda a: str(a["quote_violations"])),
        ("unanswerable refused", lambda a: _count(a["abstained_unanswerable"], a["unanswerable"])),
        ("answerable refused", lambda a: _count(a["abstained_answerable"], a["answerable"])),
        ("median answer length", lambda a: f"{a['answer_words_median']:.0f} words"),
        ("latency p50 / p95",
         lambda a: f"{a['latency_p50'] * 1000:.0f} / {a['latency_p95'] * 1000:.0f} ms"),
    ]  # fmt: skip
    lines = [f"| metric | {header} |", "|---|---|---|"]
    lines += [f"| {name} | " + " | ".join(cell(a) for a in agg) + " |" for name, cell in rows]
    by_type = []
    for r in runs:
        types = {
            t: v["answer_contains"]
            for t, v in r["by_type"].items()
            if v.get("answer_contains") is not None
        }
        ranked = sorted(types.items(), key=lambda kv: -kv[1])
        by_type.append(
            f"{Path(r['questions_file']).stem} " + ", ".join(f"{t} {v:.2f}" for t, v in ranked)
        )
    hashes = sorted({r["settings_hash"] for r in runs})
    lines += [
        "",
        "By type (answer_contains, training figures): " + "; ".join(by_type) + ". "
        f"Settings hash {', '.join(f'`{h}`' for h in hashes)}; recorded "
        f"{', '.join(sorted({r.get('recorded', '?') for r in runs}))}.",
    ]
    return "\n".join(lines)


def cv_table() -> str:
    """`python scripts/fit_answerer.py …` writes benchmarks/results/answerer_cv.json."""
    r = _load("answerer_cv.json")
    cv, tr = r["cv"], r["training"]
    files = r["cv_by_file"]
    dev, dev2 = (files[k] for k in sorted(files, key=lambda k: ("dev2" in k, k)))
    answerable = cv["questions"] - int(cv["unanswerable_abstained"].split("/")[1])
    rows = [
        ("the answering sentence is among the candidates",
         _f(r["answer_among_candidates"]), _f(r["answer_among_candidates"])),
        ("best candidate holds a gold answer (top 1)", _f(cv["top1"]), _f(tr["top1"])),
        ("answer (1–3 sentences) contains a gold answer",
         f"**{_f(cv['answer_contains'])}**", _f(tr["answer_contains"])),
        ("… dev.jsonl / dev2.jsonl",
         f"{_f(dev['answer_contains'])} / **{_f(dev2['answer_contains'])}**", ""),
        ("answer cites the gold evidence (share of its strings the answer's sentences overlap)",
         _f(cv["cites_gold_evidence"]), _f(tr["cites_gold_evidence"])),
        ("… dev.jsonl / dev2.jsonl",
         f"{_f(dev['cites_gold_evidence'])} / **{_f(dev2['cites_gold_evidence'])}**", ""),
        ("short answer given / contains a gold answer",
         f"{_f(cv['short_answer_given'], 2)} / {_f(cv['short_answer_contains'])}",
         f"{_f(tr['short_answer_given'], 2)} / {_f(tr['short_answer_contains'])}"),
        ("… dev.jsonl / dev2.jsonl",
         f"{_f(dev['short_answer_contains'])} / **{_f(dev2['short_answer_contains'])}**", ""),
        ("… the nearest phrase instead of the fitted short-answer model",
         _f(r["short_answer_contains_nearest_focus_cv"]), ""),
        ("false abstentions (answerable refused)",
         _f(cv["false_abstentions"]), _f(tr["false_abstentions"])),
        ("unanswerable refused", cv["unanswerable_abstained"].replace("/", " of "),
         tr["unanswerable_abstained"].replace("/", " of ")),
        ("median answer length",
         f"{cv['median_words']:.0f} words", f"{tr['median_words']:.0f} words"),
    ]  # fmt: skip
    lines = [
        f"| {cv['questions']} questions of dev + dev2 ({answerable} answerable) "
        "| cross-validated | training |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
        "Cross-validated answer_contains by type: "
        + ", ".join(f"{t} {v:.2f}" for t, v in sorted(cv["by_type"].items(), key=lambda kv: -kv[1]))
        + ".",
    ]
    return "\n".join(lines)


ABLATIONS = {
    "answerer_cv.json": "everything (one model with the tuned encoder)",
    "answerer_cv-seed-13.json": "the same fit on other folds (`--seed 13`)",
    "answerer_cv-seed-13-no-story.json": "those folds without the story signals "
    "(`--seed 13 --ablate article_coverage near_best`)",
    "answerer_cv-no-encoder.json": "without the tuned question encoder "
    "(the shipped refusing model)",
    "answerer_cv-no-parts.json": "without the focus and context vectors",
    "answerer_cv-no-kinds.json": "without the answer-kind features (new name / number / date / "
    "place / cause, nearness)",
    "answerer_cv-no-name-split.json": "without splitting the focus's names from its other words "
    "(the shipped refusal rule reads the words' overlap: without it every amount asked is refused)",
    "answerer_cv-no-story.json": "without the story signals (`article_coverage`: how much of the "
    "question the sentence's article holds; `near_best`: sentences away from the article's best "
    "match)",
    "answerer_cv-no-unit-missing.json": "abstention without `unit_missing_top3` (an amount is "
    "asked and none of the three best sentences states one)",
    "answerer_cv-no-coverage-abstain.json": "abstention without `top_article_coverage`",
    "answerer_cv-l2-0.001.json": "ranker L2 penalty 0.001 (shipped: 0.01)",
    "answerer_cv-l2-0.1.json": "ranker L2 penalty 0.1",
    "answerer_cv-l2-1.json": "ranker L2 penalty 1.0",
    "answerer_cv-synthetic-6000.json": "question encoder first pre-trained on 6,000 questions "
    "the corpus yields by itself (`--synthetic 6000`, not shipped)",
    "answerer_cv-seed-13-synthetic-6000.json": "the same on the seed-13 folds "
    "(`--synthetic 6000 --seed 13`)",
}


def ablation_table() -> str:
    """The fitting script with `--dry-run --report benchmarks/results/answerer_cv-NAME.json`
    and `--no-encoder` or `--ablate …` (the commands are in the README above the table)."""
    lines = [
        "| | answer_contains | dev2 | top 1 | unanswerable refused | false abstentions |",
        "|---|---|---|---|---|---|",
    ]
    for file, label in ABLATIONS.items():
        r = _load(file)
        dev2 = next(v for k, v in r["cv_by_file"].items() if "dev2" in k)
        bold = "**" if file == "answerer_cv.json" else ""
        refused = r["cv"]["unanswerable_abstained"].replace("/", " of ")
        lines.append(
            f"| {label} | {bold}{_f(r['cv']['answer_contains'])}{bold} | "
            f"{bold}{_f(dev2['answer_contains'])}{bold} | {_f(r['cv']['top1'])} | {refused} | "
            f"{_f(r['cv']['false_abstentions'])} |"
        )
    return "\n".join(lines)


SPLITS = {
    "no-encoder.json": "without the tuned question encoder (`--no-encoder`)",
    "encoder.json": "the encoder tuned on the question files (shipped before the answering model)",
    "synthetic-6000.json": "the encoder first pre-trained on 6,000 synthetic questions "
    "(`--synthetic 6000`, not shipped)",
    "soup-3.json": "the encoder the mean of three fits with other seeds (`--soup 3`, not shipped)",
    "no-encoder-3-folds.json": "without the encoder, each fold fitted on 120 questions "
    "(`--no-encoder --folds 3`)",
    "no-encoder-10-folds.json": "without the encoder, each fold fitted on 162 questions "
    "(`--no-encoder --folds 10`)",
    "l2-0.1.json": "ranker L2 penalty 0.1 instead of 0.01 (`--l2 0.1`, not shipped)",
    "refusing-encoder-answering-synthetic.json": "refusals of the tuned-encoder row, answers of "
    "the `--synthetic 6000` fit (`scripts/cv_compose.py`; shipped before the refusing model lost "
    "its encoder)",
    "refusing-no-encoder-answering-synthetic.json": "refusals of the `--no-encoder` row, answers "
    "of the `--synthetic 6000` fit (`scripts/cv_compose.py`; shipped before the next row)",
    "refusing-no-encoder-answering-synthetic-l2-0.1.json": "the same with the answering fit's "
    'ranker L2 penalty 0.1 (`--answering="--synthetic 6000 --l2 0.1"`; shipped before this '
    "release; the rows below up to the shipped one are measured against it, at its code)",
    "answering-l2-0.3.json": "answering fit's ranker L2 penalty 0.3 (not shipped)",
    "answering-l2-1.json": "answering fit's ranker L2 penalty 1 (not shipped)",
    "refusing-l2-0.1.json": "refusing fit's ranker L2 penalty 0.1 too (not shipped)",
    "answering-synthetic-epochs-2.json": "two passes over the synthetic questions "
    "(`--synthetic-epochs 2`, not shipped)",
    "answering-synthetic-12000-per-article-6.json": "12,000 synthetic questions, up to six an "
    "article (`--synthetic 12000 --synthetic-per-article 6`, not shipped)",
    "refusing-no-encoder-answering-synthetic-l2-0.1-what-reasons.json": "the L2 0.1 row with "
    '"What reasons …" read as asking for a reason (it was read as asking for a name; shipped '
    "before this release, the rows below are measured against it)",
    "specificity-refusing-too.json": "the specificity feature (how rare the words a sentence adds "
    "are) in both fits (not shipped)",
    "specificity.json": "specificity in the answering fit, held at 0 in the refusing fit "
    '(`--refusing="--no-encoder --ablate specificity"`; shipped before this release)',
    "whole-snippets.json": "the same, with a further retrieved article whose whole "
    "text its passage holds (a snippet) a candidate too (one question of the 180 has one; "
    "shipped before this release, and measured again on this release's machine to the digit)",
    "date-precision.json": 'the same, a "when" that names no part of a date answered best by '
    "the most precise date any candidate adds (`features.graded_by_precision`; shipped before "
    "this release, and its code with the bare-date rule measured the same to the question)",
    "first-mention-both.json": "the same with a `first_mention` column (the sentence's new "
    "phrase of the asked kind is not in its article before it) in both fits (not shipped)",
    "first-mention.json": "**shipped**: `first_mention` in the refusing fit, held at 0 in the "
    'answering fit (`--answering="--synthetic 6000 --l2 0.1 --ablate first_mention"`)',
    "unnamed-head.json": "the shipped row with an `unnamed_head` column (the sentence brings the "
    'asked thing in unnamed: "through another label" for "through which other label") in both '
    "fits (not shipped; `benchmarks/experiments/unnamed-head.patch`)",
    "unnamed-head-refusing.json": "`unnamed_head` in the refusing fit only (not shipped)",
    "subordinate-clause.json": 'the shipped row with a subordinate clause of the asking clause ("… '
    'pull out of the Games after missing a drugs test …") read as context (not shipped; '
    "`subordinate-clause.patch`)",
    "short-name-shape.json": "the shipped row with two short-answer columns, a lower-case word in "
    "a name and the share of its words the articles write in lower case (not shipped; "
    "`short-name-shape.patch`)",
    "bridge-name-search.json": "the shipped row with a second search for the bridge's name "
    "(not shipped; the tuned encoders reused; `bridge-name.patch`, the section on multi-hop "
    "below)",
    "bridge-name-column.json": "its `bridge_overlap` column alone, no second search (not shipped)",
}


def splits_table() -> str:
    """`scripts/cv_splits.py --tag NAME …` (the commands are in the README above the table):
    the cross-validated figures averaged over eight fold splits."""
    lines = [
        "| mean of 8 fold splits | answer_contains | dev2 | top 1 | short answer | cites "
        "(dev2) | unanswerable refused | false abstentions |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for file, label in SPLITS.items():
        r = _load(f"cv-splits/{file}")
        lines.append(
            f"| {label} | {_f(r['answer_contains'], 4)} | {_f(r['dev2_answer_contains'], 4)} | "
            f"{_f(r['top1'], 4)} | {_f(r['short_answer_contains'], 4)} | "
            f"{_f(r['cites_gold_evidence'], 4)} ({_f(r['dev2_cites_gold_evidence'], 4)}) | "
            f"{r['unanswerable_refused']:.2f} of 19 | {_f(r['false_abstentions'])} |"
        )
    return "\n".join(lines)


FUSION = {
    "eval-dev.json": "hybrid, min-max score fusion (default)",
    "eval-dev-rrf.json": 'hybrid, reciprocal rank fusion (`fusion = "rrf"`)',
    "eval-dev-keyword.json": "keyword (BM25) only",
    "eval-dev-dense.json": "dense (Chroma) only",
}


def fusion_table() -> str:
    """`askdocs eval ../shared/data/qa/dev.jsonl …` with `ASKDOCS_FUSION=rrf` or
    `--retrieval keyword|dense`, each `--record benchmarks/results/eval-dev-NAME.json`."""
    lines = ["| retrieval | doc_recall@5 | answer_contains |", "|---|---|---|"]
    for file, label in FUSION.items():
        a = _load(file)["aggregate"]
        lines.append(f"| {label} | {_f(a['doc_recall@k'])} | {_f(a['answer_contains'])} |")
    return "\n".join(lines)


def abstention_auc() -> str:
    """`scripts/fit_answerer.py` writes `answerable_auc_cv` into answerer_cv.json."""
    auc = _load("answerer_cv.json")["answerable_auc_cv"]
    return (
        "Cross-validated ROC AUC of telling answerable from unanswerable questions (0.5 is "
        f"chance): a model trained on that directly {auc['model_trained_on_answerable']:.3f}; "
        f"the shipped model, trained on whether the best sentence is right, "
        f"{auc['shipped_model']:.3f}."
    )


REFUSAL_RULES = {
    "none": "never (the threshold, floor and year rule only)",
    "units": "an amount of money, a time or a percentage is asked",
    "all-units": "… or a count of the things the question names",
    "kinds": "any kind a phrase answers (number, date, person, place, name)",
    "measured": "as the second row, or any amount is asked and the sentence holds no word "
    'the question says of what is measured (the rate it is asked per, "per week", aside)',
    "named": "as the row above, or the question asks for the name of something and the "
    'sentence brings it in unnamed ("A US woman is suing HP") or names nothing new, or a '
    'person is asked and every new name is a thing\'s ("the Uefa Cup"), or a count is asked '
    "and every new number measures time, money or a share or labels a rank "
    '("five weeks after … number one" for "how many copies"), or "which X" is asked and no '
    'quoted sentence adds a name ("In which court …")',
}


def refusal_rules_table() -> str:
    """`scripts/fit_answerer.py` writes `refuse_missing_cv` (every rule on the same folds and
    models) and the one shipped into answerer_cv.json."""
    r = _load("answerer_cv.json")
    shipped = r["shipped"]["refuse_missing"]
    lines = [
        "| refuse when the chosen sentence lacks what is asked and … | answer_contains "
        "| false abstentions | unanswerable refused |",
        "|---|---|---|---|",
    ]
    for rule, text in REFUSAL_RULES.items():
        cv = r["refuse_missing_cv"][rule]
        mark = " (shipped)" if rule == shipped else ""
        lines.append(
            f"| {text}{mark} | {_f(cv['answer_contains'])} | {_f(cv['false_abstentions'])} "
            f"| {cv['unanswerable_abstained'].replace('/', ' of ')} |"
        )
    return "\n".join(lines)


def llm_table() -> str:
    """`askdocs eval ../shared/data/qa/dev.jsonl … --llm llamacpp:… --record
    benchmarks/results/eval-dev-smollm2.json`, beside the extractive eval-dev.json."""
    runs = {
        "extractive": _load("eval-dev.json"),
        "llamacpp SmolLM2-135M": _load("eval-dev-smollm2.json"),
    }
    agg = {name: r["aggregate"] for name, r in runs.items()}
    rows = [
        ("answer_contains", lambda a: _f(a["answer_contains"])),
        ("citation_precision", lambda a: _f(a["citation_precision"])),
        ("verified_claims", lambda a: _f(a["verified_claims"])),
        ("quote_violations", lambda a: str(a["quote_violations"])),
        ("abstained (unanswerable / answerable)",
         lambda a: f"{_f(a['abstained_unanswerable'], 2)} / {_f(a['abstained_answerable'], 2)}"),
        ("latency p50 / p95", lambda a: f"{a['latency_p50']:.2f} s / {a['latency_p95']:.2f} s"),
    ]  # fmt: skip
    lines = ["| metric | " + " | ".join(agg) + " |", "|---|" + "---|" * len(agg)]
    lines += [
        f"| {name} | " + " | ".join(cell(a) for a in agg.values()) + " |" for name, cell in rows
    ]
    return "\n".join(lines)


RGB = {
    "rgb-noise-noise0.json": "noise 0.0",
    "rgb-noise-noise0.4.json": "noise 0.4",
    "rgb-noise-noise0.8.json": "noise 0.8",
    "rgb-rejection.json": "rejection (negatives only)",
    "rgb-counterfactual.json": "counterfactual (`positive_wrong`)",
}


def rgb_table() -> str:
    """`askdocs eval-rgb … --record benchmarks/results/rgb/<the run's file name>`."""
    lines = [
        "| setting | accuracy | short answer or first quote holds it | quotes an answer "
        "| abstained | repeats the fake answer | flags conflict |",
        "|---|---|---|---|---|---|---|",
    ]
    for file, label in RGB.items():
        s = _load(f"rgb/{file}")["summary"]
        counterfactual = s["mode"] == "counterfactual"
        rejection = s["mode"] == "rejection"
        first = s.get("first_quote_accuracy")  # recordings before it was kept have none
        lines.append(
            f"| {label} | {'–' if rejection else _f(s['accuracy'], 2)} | "
            f"{'–' if rejection else _f(first, 2)} | "
            f"{_f(s.get('quotes_per_answer'), 1)} | "
            f"{_f(s['rejection_rate'], 2)} | "
            f"{_f(s['repeats_fake_rate'], 2) if counterfactual else '–'} | "
            f"{_f(s['flags_conflict_rate'], 2) if counterfactual else '–'} |"
        )
    return "\n".join(lines)


RGB_CANDIDATES = {
    "rgb-candidates-noise0.4.json": "noise 0.4",
    "rgb-candidates-noise0.8.json": "noise 0.8",
    "rgb-candidates-noise0.8-without-article-signals.json": "noise 0.8, ranked without the "
    "article-level signals' contributions (`article_coverage`, `article_gap`, `article_rank_0`, "
    "`article_rank_1`, `title_overlap`, `lead`; not a fit)",
    "rgb-candidates-noise0.4-snippet-ranker.json": "noise 0.4, the answering ranker fitted on "
    "snippet rows alone (`--snippets --question-weight 0`; not shipped)",
    "rgb-candidates-noise0.8-snippet-ranker.json": "noise 0.8, the same (not shipped)",
    "rgb-candidates-noise0.4-snippet-pools.json": "noise 0.4, this release: the article-level "
    "columns averaged over a pool of snippets (`features.all_snippets`)",
    "rgb-candidates-noise0.8-snippet-pools.json": "noise 0.8, this release",
}
"""scripts/rgb_candidates.py's files, in table order."""
GAP_SIGNALS = 4
"""Signals named per row: those that most outweigh the answering sentence."""


def rgb_candidates_table() -> str:
    """`python scripts/rgb_candidates.py … --out benchmarks/results/rgb/<file>`."""
    lines = [
        "| RGB dev half, 50 questions | some candidate holds the answer | ranked first "
        "| in the top 3 | what outweighs it (mean score gap, where it is there but not first) |",
        "|---|---|---|---|---|",
    ]
    for file, label in RGB_CANDIDATES.items():
        s = _load(f"rgb/{file}")["summary"]
        gaps = list(s["mean_gap"].items())[:GAP_SIGNALS]
        named = ", ".join(f"`{k}` {v:+.1f}" for k, v in gaps)
        lines.append(
            f"| {label} | {_f(s['reach'], 2)} | {_f(s['top1'], 2)} | {_f(s['top3'], 2)} | "
            f"{named} ({s['outranked']} questions) |"
        )
    return "\n".join(lines)


def _n(value: float) -> str:
    return f"{value:,.0f}"


def ingest_table() -> str:
    """`python benchmarks/ingest_vs_langchain.py` writes benchmarks/results/ingest.json."""
    r = _load("ingest.json")
    recipe, ours, rerun = r["langchain_recipe"], r["askdocs"], r["askdocs_unchanged_rerun"]
    return "\n".join(
        [
            "| | seconds | texts embedded | ratio to recipe |",
            "|---|---|---|---|",
            f"| LangChain recipe | {recipe['seconds']:.1f} | {_n(recipe['chunks'])} chunks "
            "| 1.00 |",
            f"| askdocs, first ingest | {ours['seconds']:.1f} | {_n(ours['texts_embedded'])} "
            f"sentences and titles | **{r['askdocs_over_langchain_time']:.2f}** |",
            f"| askdocs, unchanged re-run | {rerun['seconds']:.1f} | {rerun['texts_embedded']} | "
            f"{rerun['seconds'] / recipe['seconds']:.3f} |",
            "",
            f"({r['files']:,} files, {r['machine']['cpus']} cores. First ingest by stage: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in ours["stage_seconds"].items() if k != "total")
            + ".)",
        ]
    )


def cold_start_table() -> str:
    """`python benchmarks/cold_start.py` writes benchmarks/results/cold_start.json."""
    r = _load("cold_start.json")
    runs = r["results"]
    return "\n".join(
        [
            "| command | seconds |",
            "|---|---|",
            f"| `askdocs --help` | {runs['askdocs --help']['median_s']:.2f} |",
            f'| `askdocs ask "{r["question"]}"` (sample index) | '
            f"{runs['askdocs ask']['median_s']:.2f} |",
            "| recipe: load embeddings + Chroma, `similarity_search` | "
            f"{runs['recipe similarity_search']['median_s']:.2f} |",
            f"| ratio askdocs / recipe | **{runs['ask_ratio_askdocs_over_recipe']:.2f}** |",
            "",
            f"(Median of {len(runs['askdocs ask']['runs_s'])} fresh processes; recorded "
            f"{r['date']}.)",
        ]
    )


def _recorded(row: dict, default: str) -> str:
    """When (and at which commit, if known) a benchmark row was measured."""
    commit = row.get("commit")
    return f"{row.get('date', default)}" + (f" ({commit})" if commit else "")


def latency_table() -> str:
    """`python benchmarks/query_latency.py …` writes benchmarks/results/latency.json (a run
    measures the sizes it is given and keeps earlier rows of the others, each dated)."""
    r = _load("latency.json")
    lines = [
        "| chunks | recipe p50 / p95 | askdocs p50 / p95 | p50 ratio | disk recipe / askdocs "
        "| peak memory recipe / askdocs | recorded |",
        "|---|---|---|---|---|---|---|",
    ]
    for x in r["results"]:
        lc, ad = x["langchain"], x["askdocs"]
        lines.append(
            f"| {_n(x['chunks'])} | {lc['p50_ms']:.1f} / {lc['p95_ms']:.1f} ms | "
            f"**{ad['p50_ms']:.1f} / {ad['p95_ms']:.1f} ms** | "
            f"{x['p50_ratio_askdocs_over_recipe']:.2f} | {_n(lc['disk_mb'])} / "
            f"{_n(ad['disk_mb'])} MB | {_n(lc['peak_rss_mb'])} / {_n(ad['peak_rss_mb'])} MB | "
            f"{_recorded(x, r['date'])} |"
        )
    lines += ["", f"({r['questions']} questions.)"]
    return "\n".join(lines)


def update_table() -> str:
    """The `update` and `fresh_machine` parts of benchmarks/results/latency.json."""
    r = _load("latency.json")
    lines = [
        "| chunks | askdocs: add article | of which keyword index | next question (finds it) "
        "| remove | full BM25 rebuild | recipe `add_documents` "
        "| new machine: first answer / keyword cache full | recorded |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for x in r["results"]:
        u = x["update"]
        found = "yes" if u["askdocs_new_article_retrieved"] else "no"
        fresh = x.get("fresh_machine")
        first = (
            f"{fresh['first_answer_seconds']:.2f} s "
            f"({'hybrid' if fresh['first_answer_had_keyword_side'] else 'dense-only'}) / "
            f"{fresh['keyword_cache_filled_seconds']:.2f} s"
            if fresh
            else "not measured"
        )
        lines.append(
            f"| {_n(x['chunks'])} | {u['askdocs_add_article_seconds']:.2f} s | "
            f"{u['askdocs_ingest_phases']['keywords']:.2f} s | "
            f"{u['askdocs_next_question_seconds'] * 1000:.0f} ms ({found}) | "
            f"{u['askdocs_remove_article_seconds']:.2f} s | "
            f"{u['full_bm25_rebuild_seconds']:.2f} s | "
            f"{u['recipe_add_documents_seconds']:.2f} s | {first} | "
            f"{_recorded(x, r['date'])} |"
        )
    return "\n".join(lines)


def ui_speed() -> str:
    """`ASKDOCS_RECORD_UI=1 pytest tests/test_ui_browser.py` writes
    benchmarks/results/ui-timings.json (Chromium driving the page on this machine)."""
    t = _load("ui-timings.json")
    first, later = t["first_question"], t["later_questions_first_words_s"]
    return (
        "- **Speed** (this machine, sample article; Chromium driving the page): with the model\n"
        "  loaded (it loads in the background as the page starts), the first answer's first words\n"
        f"  appear {first['first_words_s']:.1f} s after Enter and the full cited answer at "
        f"{first['full_answer_s']:.1f} s;\n"
        f"  later questions' first words {min(later):.1f}–{max(later):.1f} s (an upload between "
        "them)."
    )


def verifier_text() -> str:
    """`python benchmarks/calibrate_verifier.py --index INDEX` writes
    benchmarks/results/verifier.json."""
    r = _load("verifier.json")
    chosen = r["chosen"]
    best_recall = max(point["recall"] for point in r["curve"])
    return (
        f"{r['pairs']:,} labelled (claim, sentence) pairs from `{Path(r['questions_file']).name}`: "
        f"{r['supported_pairs']} supported (gold answer vs. gold evidence sentence), "
        f"{r['unsupported_pairs']:,} unsupported (the gold answer vs. the other sentences of the "
        "retrieved passages, and another question's answer vs. the evidence sentence). At the "
        f"chosen threshold {chosen['threshold']} (best F1): precision {chosen['precision']:.2f}, "
        f"recall {chosen['recall']:.2f}; no threshold gives a recall above {best_recall:.2f} "
        '(the lexical agreement rules, e.g. "December 20" vs. "Dec 20").'
    )


def reliability_table() -> str:
    """`make reliability` (its tests/reliability/summary.py) writes
    benchmarks/results/reliability.md."""
    return (RESULTS / "reliability.md").read_text(encoding="utf-8").rstrip("\n")


def rarity_table() -> str:
    """`scripts/rarity_sample_size.py` writes benchmarks/results/rarity-sample-size.json: how
    closely specificity ranks candidates with rarity from N random passages of the index."""
    by_size = _load("rarity-sample-size.json")["mean_spearman_by_passages"]
    return "\n".join(
        [
            "| passages | " + " | ".join(f"{int(n):,}" for n in by_size) + " |",
            "|---|" + "---|" * len(by_size),
            "| rank correlation with the whole index's | "
            + " | ".join(f"{v:.2f}" for v in by_size.values())
            + " |",
        ]
    )


RENDERERS: dict[str, Callable[[], str]] = {
    "eval": eval_table,
    "cv": cv_table,
    "ablations": ablation_table,
    "splits": splits_table,
    "rarity": rarity_table,
    "fusion": fusion_table,
    "abstention-auc": abstention_auc,
    "refusal-rules": refusal_rules_table,
    "rgb": rgb_table,
    "rgb-candidates": rgb_candidates_table,
    "llm": llm_table,
    "reliability": reliability_table,
    "ui-speed": ui_speed,
    "verifier": verifier_text,
    "ingest": ingest_table,
    "cold-start": cold_start_table,
    "latency": latency_table,
    "update": update_table,
}


def render(text: str) -> str:
    """The README text with every numbers block rewritten from its files."""

    def block(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in RENDERERS:
            raise SystemExit(f"README block {name!r} has no renderer in {__file__}")
        return f"{match[1]}{RENDERERS[name]()}\n{match[4]}"

    return BLOCK.sub(block, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args()
    text = README.read_text(encoding="utf-8")
    rendered = render(text)
    if args.check:
        if rendered != text:
            print("README numbers differ from benchmarks/results: run scripts/readme_numbers.py")
            return 1
        return 0
    README.write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
