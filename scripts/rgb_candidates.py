"""Where the sentence that answers an RGB question ranks among the answerer's candidates, and
which signals put the chosen sentence above it.

For each question the passages are drawn and indexed exactly as `askdocs eval-rgb` does (same
seed, one document a passage), and the candidates are scored by the model that chooses what to
quote. A candidate "holds the answer" under eval-rgb's rule (every gold group, normalised).
Reported: how often some candidate holds it (reach), how often it ranks first / in the top
three, and, over the questions where it is reachable but not first, the mean of (chosen minus
answering candidate) of each feature's contribution to the score: what outweighs the answer.

    python scripts/rgb_candidates.py ../shared/data/qa/rgb_en_fact_dev.jsonl --noise-ratio 0.8 \\
        --out benchmarks/results/rgb/rgb-candidates-noise0.8.json
    # the same with every passage's article taken whole (five passages, five documents):
    ASKDOCS_CANDIDATE_ARTICLES=5 python scripts/rgb_candidates.py … --noise-ratio 0.8
    # and ranked as if some signals said nothing (their contributions taken out; not a fit):
    … --without article_coverage,article_gap,article_rank_0,article_rank_1,title_overlap,lead
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from askdocs.answer.features import FEATURES
from askdocs.rgb import is_correct, load_rgb, passages_index, pick_passages

TOP_SIGNALS = 5
"""Signals listed per question (largest absolute contribution difference first)."""


def question_ranks(
    scores: np.ndarray, texts: list[str], answer: Any
) -> tuple[list[int], int | None]:
    """The candidates best first, and the rank of the first one holding the answer (None: none).

    >>> question_ranks(np.array([0.1, 2.0, 1.0]), ["Ann won.", "Bo lost.", "Ann won it."], "Ann")
    ([1, 2, 0], 1)
    """
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    holding = [rank for rank, i in enumerate(order) if is_correct(texts[i], answer)]
    return order, holding[0] if holding else None


def without(scores: np.ndarray, contributions: np.ndarray, columns: list[int]) -> np.ndarray:
    """The scores with these feature columns' contributions taken out (a candidate a hard
    constraint ruled out stays out: its score is far below any contribution).

    >>> without(np.array([3.0, 1.0]), np.array([[2.0, 1.0], [0.0, 1.0]]), [0]).tolist()
    [1.0, 1.0]
    """
    if not columns or not len(scores):
        return scores
    return scores - contributions[:, columns].sum(axis=1)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Shares over the questions, and the mean contribution gap of each feature over those
    answered from the wrong candidate although a right one was there.

    >>> rows = [{"rank": 0, "gap": {}}, {"rank": 2, "gap": {"a": 1.0}}, {"rank": None, "gap": {}}]
    >>> s = summary(rows); (s["reach"], s["top1"], s["top3"], s["outranked"], s["mean_gap"])
    (0.6667, 0.3333, 0.6667, 1, {'a': 1.0})
    """
    n = len(rows) or 1
    outranked = [r for r in rows if r["rank"] not in (None, 0)]
    gaps: dict[str, float] = {}
    for row in outranked:
        for name, value in row["gap"].items():
            gaps[name] = gaps.get(name, 0.0) + value / len(outranked)
    ordered = dict(sorted(gaps.items(), key=lambda kv: -abs(kv[1])))
    return {
        "questions": len(rows),
        "reach": round(sum(r["rank"] is not None for r in rows) / n, 4),
        "top1": round(sum(r["rank"] == 0 for r in rows) / n, 4),
        "top3": round(sum(r["rank"] is not None and r["rank"] < 3 for r in rows) / n, 4),
        "outranked": len(outranked),
        "mean_gap": {k: round(v, 3) for k, v in ordered.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--noise-ratio", type=float, default=0.8)
    parser.add_argument("--rejection", action="store_true", help="negative passages only")
    parser.add_argument("--passages", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--scores",
        type=Path,
        help="also write each question's candidates, their scores and which hold the answer "
        "here (pickle; scripts/reader_experiment.py reranks them)",
    )
    parser.add_argument(
        "--without", default="", help="comma-separated features whose contributions to take out"
    )
    args = parser.parse_args()
    dropped = [name for name in args.without.split(",") if name]
    unknown = sorted(set(dropped) - set(FEATURES))
    if unknown:
        parser.error(f"no such feature: {', '.join(unknown)}")
    columns = [FEATURES.index(name) for name in dropped]
    rows = []
    pools: list[dict[str, Any]] = []  # for --scores
    embedder = None
    with tempfile.TemporaryDirectory(prefix="askdocs-rgb-ranks-") as work:
        for number, row in enumerate(load_rgb(args.questions), 1):
            texts, _, _ = pick_passages(
                row, args.passages, args.noise_ratio, False, args.rejection, args.seed
            )
            assistant = passages_index(Path(work), number, texts, embedder)
            embedder = assistant.embedder
            pipeline = assistant.pipeline
            retrieved = pipeline.retrieve(row["query"], max(1, len(texts)))
            scored, model = pipeline.extractive.ranked(row["query"], retrieved)
            candidates = [c.text for c in scored.pool.candidates]
            contributions = np.array([model.contributions(r) for r in scored.features])
            scores = without(scored.scores, contributions, columns)
            order, rank = question_ranks(scores, candidates, row["answer"])
            pools.append(
                {
                    "id": str(row.get("id", number)),
                    "query": row["query"],
                    "texts": candidates,
                    "scores": scores,
                    "holds": np.array([is_correct(t, row["answer"]) for t in candidates]),
                }
            )
            gap: dict[str, float] = {}
            if rank:
                diff = contributions[order[0]] - contributions[order[rank]]
                kept = [i for i in range(len(FEATURES)) if i not in columns]
                gap = {FEATURES[i]: float(diff[i]) for i in kept}
            rows.append(
                {
                    "id": str(row.get("id", number)),
                    "query": row["query"],
                    "candidates": len(candidates),
                    "rank": rank,
                    "chosen": candidates[order[0]] if order else None,
                    "holding": candidates[order[rank]] if rank is not None else None,
                    "gap": gap,
                    "top_signals": dict(
                        sorted(gap.items(), key=lambda kv: -abs(kv[1]))[:TOP_SIGNALS]
                    ),
                }
            )
    report = {
        "file": str(args.questions),
        "noise_ratio": None if args.rejection else args.noise_ratio,
        "passages": args.passages,
        "seed": args.seed,
        "without": dropped,
        "summary": summary(rows),
        "rows": [{k: v for k, v in r.items() if k != "gap"} for r in rows],
    }
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    if args.scores:
        args.scores.parent.mkdir(parents=True, exist_ok=True)
        args.scores.write_bytes(pickle.dumps(pools))
    shown = dict(report["summary"])
    shown["mean_gap"] = dict(list(shown["mean_gap"].items())[:8])
    print(json.dumps(shown, indent=1))


if __name__ == "__main__":
    main()
