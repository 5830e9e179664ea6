"""Cross-validated figures of an answerer whose refusals come from one fit and its answers from
another (scripts/fit_answerer.py --outcomes), averaged over the eight fold splits.

Why: the question encoder pre-trained on synthetic questions (--synthetic) ranks sentences
better, but its best sentence holds a phrase of the asked kind more often also when the story
lacks the answer (the synthetic questions are made that way), so the rule that refuses an
answer lacking one refuses fewer unanswerable questions. Composing the two measures what
refusing by one model and answering by the other would give, on the same folds: each split
runs both fits (dry runs) and, per held-out question, takes the refusal of the first and the
sentences, short answer and citations of the second.

    python scripts/cv_compose.py --tag refusing-encoder-answering-synthetic --index IX \\
        --corpus ../shared/data/articles --cache rows.pkl --answering "--synthetic 6000" \\
        -- ../shared/data/qa/dev.jsonl ../shared/data/qa/dev2.jsonl
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cv_splits  # noqa: E402  (beside this script)


def compose(refusing: list[dict], answering: list[dict]) -> list[dict]:
    """Per question (matched by id): refused when `refusing` refuses it; otherwise answered as
    `answering` would answer it (its sentences, short answer and citations, even where that fit
    itself would have refused). Outcomes as fit_answerer --outcomes writes them.

    >>> row = {"id": "q", "file": "d.jsonl", "type": "who", "answerable": True}
    >>> a = {"row": row, "abstained": False, "contains": False, "cites": 0.0, "words": 30}
    >>> b = {"row": row, "abstained": True, "contains": True, "cites": 0.0, "words": 20,
    ...      "cites_answered": 1.0, "top": True, "short": "Ann", "short_ok": True}
    >>> out = compose([a], [b])[0]
    >>> out["abstained"], out["contains"], out["cites"], out["words"]
    (False, True, 1.0, 20)
    """
    by_id = {o["row"]["id"]: o for o in answering}
    out = []
    for refused in refusing:
        answer = by_id[refused["row"]["id"]]
        if refused["abstained"]:
            out.append(refused)
            continue
        out.append(
            {
                **answer,
                "row": refused["row"],
                "abstained": False,
                "cites": answer["cites_answered"],
            }
        )
    return out


def summary(outcomes: list[dict], files: list[str]) -> dict:
    """The fitting script's cv summary of composed outcomes, with its per-file part."""
    import fit_answerer

    return {
        "cv": fit_answerer.summarise(outcomes),
        "cv_by_file": {
            f: fit_answerer.summarise([o for o in outcomes if o["row"]["file"] == f]) for f in files
        },
    }


def held_out(splits: list[list[dict]]) -> dict[str, dict]:
    """Per question, how it fared held out over the splits: how often answered with a gold
    answer, how often refused, its mean citation share (answerable ones). The failures a
    change must be read against: a question wrong in every split is a gap of the method, one
    wrong in a few is the noise of refitting.

    >>> row = {"id": "q", "file": "d.jsonl", "type": "who", "answerable": True}
    >>> one = {"row": row, "abstained": False, "contains": True, "cites": 0.5}
    >>> q = held_out([[one], [one | {"contains": False, "cites": 0.0}]])["q"]
    >>> q["splits"], q["right"], q["refused"], q["cites"]
    (2, 1, 0, 0.25)
    """
    out: dict[str, dict] = {}
    for outcomes in splits:
        for o in outcomes:
            row = o["row"]
            entry = out.setdefault(
                row["id"],
                {"file": Path(row["file"]).name, "type": row["type"],
                 "answerable": row["answerable"], "splits": 0, "right": 0, "refused": 0,
                 "cites": 0.0},
            )  # fmt: skip
            entry["splits"] += 1
            entry["right"] += bool(o["contains"] and not o["abstained"] and row["answerable"])
            entry["refused"] += bool(o["abstained"])
            entry["cites"] += o.get("cites") or 0.0
    for entry in out.values():
        entry["cites"] = round(entry["cites"] / entry["splits"], 3) if entry["answerable"] else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cv_splits.split_arguments(parser)
    parser.add_argument("--refusing", default="", help="fit_answerer options of the refusing fit")
    parser.add_argument("--answering", default="", help="fit_answerer options of the answering fit")
    parser.add_argument("questions", nargs=argparse.REMAINDER, help="-- then the question files")
    args = parser.parse_args()
    questions = [q for q in args.questions if q != "--"]
    args.out.mkdir(parents=True, exist_ok=True)
    reports, composed_splits = [], []
    with tempfile.TemporaryDirectory(prefix="cv-compose-") as scratch:
        for seed in args.seeds:
            outcomes = {}
            for part, options in (("refusing", args.refusing), ("answering", args.answering)):
                path = Path(scratch) / f"{part}-{seed}.json"
                extra = [*questions, *shlex.split(options), "--outcomes", str(path)]
                cv_splits.split_report(
                    args, extra, Path(scratch) / f"{part}-{seed}-report.json", seed
                )
                outcomes[part] = json.loads(path.read_text())
            composed = compose(outcomes["refusing"], outcomes["answering"])
            composed_splits.append(composed)
            reports.append(summary(composed, [str(q) for q in questions]))
            print(f"seed {seed}: composed answer_contains {reports[-1]['cv']['answer_contains']}")
    result = {
        "seeds": args.seeds,
        "fit_args": questions,
        "refusing": args.refusing,
        "answering": args.answering,
        **cv_splits.means(reports),
        "splits": {
            seed: {**r["cv"], "by_file": r["cv_by_file"]}
            for seed, r in zip(args.seeds, reports, strict=True)
        },
        "questions": held_out(composed_splits),
    }
    (args.out / f"{args.tag}.json").write_text(json.dumps(result, indent=1) + "\n")
    shown = {k: v for k, v in result.items() if k not in ("splits", "questions")}
    print(json.dumps(shown, indent=1))


if __name__ == "__main__":
    main()
