"""Fit the answer-selection weights shipped in src/askdocs/answer/weights/default.json.

    python scripts/fit_answerer.py --index INDEX --corpus ../shared/data/articles \
        ../shared/data/qa/dev.jsonl ../shared/data/qa/dev2.jsonl

INDEX must hold the corpus (`askdocs --index INDEX ingest CORPUS`). For every question the
script runs the product's own retrieval and candidate features (askdocs.answer), labels each
candidate sentence by whether it holds a gold answer, and fits:

0. the question encoder (question_encoder.py): the top two layers of the bundled MiniLM,
   fine-tuned on the questions against their candidates' stored vectors;
1. the ranker: a linear model over standardised FEATURES, trained with a listwise softmax loss
   (the probability mass of a question's candidates should sit on its answering sentences),
   L2-regularised towards zero; its tuned-encoder columns come from encoders that did not see
   the question;
2. the abstention model: logistic regression over QUESTION_FEATURES of each question's best
   candidate, scored with out-of-fold ranker weights (so it sees the confidence the ranker has
   on questions it did not train on), predicting whether that candidate holds a gold answer;
   its threshold: the highest whose refusals of answerable questions stay within
   --max-false-abstain; and the relevance floor (--max-off-topic);
3. the extra-sentence threshold per word (extractive.choose): the one that maximises answers
   containing a gold answer while the median answer stays within --max-words words;
4. the short-answer model (short.SpanRanker): a linear model over SPAN_FEATURES of the phrases
   of the asked kind in each answering sentence, trained with the same listwise loss (the
   mass should sit on the phrases that contain a gold answer), on the sentences whose phrases
   are neither all right nor all wrong; measured on the sentence the held-out ranker chose.

Everything is reported as k-fold cross-validation by question (the score on the questions a
fold did not train on) beside the training figure, per question type. The shipped file is the
fit on all questions. Same inputs, same file: folds come from a fixed seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from askdocs.answer.combiner import QUESTION_FEATURES, REFUSE_MISSING, weights_document
from askdocs.answer.extractive import (
    adds_no_name,
    answer_lacks,
    asks_which,
    copies,
    hard_constraints,
    question_features,
    quoted,
    refusal_reason,
    softmax,
)
from askdocs.answer.features import FEATURES, rank_scores
from askdocs.answer.short import (
    NEAREST_FOCUS,
    SPAN_FEATURES,
    SpanRanker,
    short_answer,
    span_features,
)
from askdocs.answer.short import candidates as phrases
from askdocs.config import Settings
from askdocs.evaluation import answer_contains, evidence_spans, load_questions, overlaps

sys.path.insert(0, str(Path(__file__).resolve().parent))
import question_encoder as QE
import snippet_rows as SR
import synthetic_questions as SQ

WEIGHTS = Path(__file__).resolve().parent.parent / "src/askdocs/answer/weights/default.json"
ANSWER_SENTENCES = Settings.model_fields["answer_sentences"].default
"""The sentences an answer may have by default, which the extra-sentence threshold is fitted for."""
PER_WORD = (1.01, 0.1, 0.05, 0.03, 0.02, 0.015, 0.01, 0.007, 0.005, 0.003, 0.002, 0.001)
"""Extra-sentence thresholds per word tried; above 1 means never a further sentence."""


def neutral_weights(folder: Path) -> Path:
    """A weights file that ranks by similarity alone: the product needs one to start."""
    n, m = len(FEATURES), len(QUESTION_FEATURES)
    ranker = ([0.0] * n, [1.0] * n, [float(f == "sim_question") for f in FEATURES])
    data = weights_document(ranker, ([0.0] * m, [1.0] * m, [0.0] * m, 0.0), 0.0, 0.0, 1.01)
    path = folder / "neutral.json"
    path.write_text(json.dumps(data))
    return path


def collect(index: Path, corpus: Path, files: list[Path]) -> list[dict]:
    """Per question: candidate features, labels and texts, from the product's own code."""
    from askdocs.api import Assistant

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        assistant = Assistant(index_dir=index, answer_weights=str(neutral_weights(Path(folder))))
        pipeline = assistant.pipeline
        for path in files:
            for q in load_questions(path, corpus):
                analysis, pool, matrix = assistant.answerer.features(
                    q.question, pipeline.retrieve(q.question)
                )
                gold_sources = {str((corpus / d).resolve()) for d in q.docs}
                texts = [c.text for c in pool.candidates]
                spans = evidence_spans(q, corpus)
                labels = [bool(q.answers) and answer_contains(t, q.answers) for t in texts]
                rows.append(
                    {
                        "file": str(path),
                        "id": q.id,
                        "type": q.type,
                        "question": q.question,
                        "answers": q.answers,
                        "answerable": q.answerable,
                        "features": matrix,
                        "labels": np.asarray(labels),
                        "texts": texts,
                        "kind": analysis.kind,
                        "analysis": analysis,
                        "in_gold_article": [
                            pool.articles[c.article_id].source in gold_sources
                            for c in pool.candidates
                        ],
                        "article_scores": pool.article_scores,
                        # Which gold evidence strings each candidate overlaps (as `askdocs eval`
                        # matches citations), for the cross-validated citation recall.
                        "evidence": [
                            [
                                n
                                for n, (source, a, b) in enumerate(spans)
                                if pool.articles[c.article_id].source == source
                                and overlaps(c.start, c.end, a, b)
                            ]
                            for c in pool.candidates
                        ],
                        "evidence_count": len(spans),
                        "common": pool.common_words,
                        # For trying answer encoders: the stored sentence vectors as they are.
                        "vectors": pool.vectors.astype(np.float16),
                    }
                )
    return rows


def standardiser(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    stacked = np.vstack([r["features"] for r in rows if len(r["features"])])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def fit_ranker(rows: list[dict], l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Listwise softmax: maximise log P(an answering sentence) per question, L2 on weights."""
    train = [r for r in rows if r["answerable"] and r["labels"].any() and r.get("weight", 1.0)]
    mean, scale = standardiser(train)
    matrices = [(r["features"] - mean) / scale for r in train]
    labels = [r["labels"].astype(float) for r in train]
    # A row's weight in the loss (snippet rows may count for less than a question's own row);
    # the sum, L2 term included, is divided by the total weight: with every weight 1, by the
    # number of questions, as it always was.
    weights = [float(r.get("weight", 1.0)) for r in train]
    total_weight = sum(weights)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.5 * l2 * w @ w, l2 * w
        for x, y, weight in zip(matrices, labels, weights, strict=True):
            s = x @ w
            p = softmax(s)
            gold = p * y
            mass = gold.sum()
            total -= weight * np.log(mass + 1e-12)
            grad = grad - weight * (x.T @ (gold / (mass + 1e-12) - p))
        return total / total_weight, grad / total_weight

    start = np.zeros(matrices[0].shape[1])
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return mean, scale, result.x


def phrase_groups(row: dict) -> list[dict]:
    """Training groups for the short-answer model: each answering sentence's phrases of the
    asked kind, labelled by whether they contain a gold answer; only sentences where the
    choice matters (some phrases right, some wrong)."""
    groups = []
    if not row["answerable"] or not len(row["features"]):
        return groups
    for i in np.flatnonzero(row["labels"]):
        found = phrases(row["analysis"], row["texts"][i], row["common"])
        labels = np.asarray([answer_contains(s.text, row["answers"]) for s in found], dtype=bool)
        if labels.any() and not labels.all():
            groups.append(
                {
                    "features": span_features(row["analysis"], row["texts"][i], found),
                    "labels": labels,
                    "answerable": True,
                }
            )
    return groups


def fit_short(groups: list[dict], l2: float) -> SpanRanker:
    """The short-answer model on these phrase groups (the ranker's listwise loss)."""
    if not groups:
        return NEAREST_FOCUS
    mean, scale, weights = fit_ranker(groups, l2)
    return SpanRanker(mean=mean, scale=scale, weights=weights)


def ranked(
    row: dict, mean: np.ndarray, scale: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    scores = hard_constraints(((row["features"] - mean) / scale) @ w, row["features"], row["texts"])
    return scores, softmax(scores)


def fit_abstain(qf: np.ndarray, answerable: np.ndarray, l2: float) -> tuple:
    mean, scale = qf.mean(axis=0), np.where(qf.std(axis=0) > 1e-9, qf.std(axis=0), 1.0)
    z = (qf - mean) / scale
    y = answerable.astype(float)

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        p = 1 / (1 + np.exp(-(z @ w + b)))
        eps = 1e-12
        value = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + 0.5 * l2 * w @ w
        g = p - y
        return value, np.append(z.T @ g / len(y) + l2 * w, g.mean())

    result = minimize(loss, np.zeros(qf.shape[1] + 1), jac=True, method="L-BFGS-B")
    return mean, scale, result.x[:-1], float(result.x[-1])


def abstain_probability(qf: np.ndarray, model: tuple) -> np.ndarray:
    mean, scale, w, b = model
    return 1 / (1 + np.exp(-(((qf - mean) / scale) @ w + b)))


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a positive scores above a negative (ties count half).

    >>> roc_auc(np.array([0.9, 0.8, 0.1]), np.array([True, False, False]))
    1.0
    """
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def pick_threshold(p: np.ndarray, answerable: np.ndarray, max_false: float) -> float:
    """The highest threshold whose false abstentions on these questions stay within max_false."""
    answerable_p = np.sort(p[answerable])
    allowed = int(np.floor(max_false * len(answerable_p)))
    # Abstain when p < threshold: the allowed-th lowest answerable probability is the limit.
    return float(answerable_p[allowed]) if allowed < len(answerable_p) else 1.0


def relevance_floor(rows: list[dict], max_refused: float) -> float:
    """The highest best-candidate cosine floor that refuses at most this share of these
    (answerable) questions: below it, nothing in the articles is about the question."""
    best = np.sort(
        [r["features"][:, FEATURES.index("sim_question")].max() for r in rows if len(r["features"])]
    )
    allowed = int(np.floor(max_refused * len(best)))
    return float(best[allowed]) if allowed < len(best) else 0.0


def folds_of(rows: list[dict], k: int, seed: int) -> list[int]:
    """Fold number per question, from a hash of its id and the seed: stable across runs."""
    keyed = sorted(rows, key=lambda r: hashlib.sha256(f"{seed}:{r['id']}".encode()).hexdigest())
    fold = {r["id"]: i % k for i, r in enumerate(keyed)}
    return [fold[r["id"]] for r in rows]


def answer_words(row: dict, picked: list[int]) -> int:
    return sum(len(row["texts"][i].split()) for i in picked)


def cited_evidence(row: dict, picked: list[int]) -> float | None:
    """Share of the question's gold evidence strings the answer's sentences overlap (askdocs
    eval's citation recall, without the earlier sentence a pronoun may pull in); None for an
    unanswerable question, one without evidence, or rows collected before evidence was kept.

    >>> row = {"answerable": True, "evidence": [[0], [], [0, 1]], "evidence_count": 2}
    >>> cited_evidence(row, [0]), cited_evidence(row, [2]), cited_evidence(row, [])
    (0.5, 1.0, 0.0)
    """
    if not row["answerable"] or not row.get("evidence_count"):
        return None
    covered = {n for i in picked for n in row["evidence"][i]}
    return len(covered) / row["evidence_count"]


def quoted_with_copies(picked: list[int], texts: list[str]) -> list[int]:
    """The candidates an answer cites: each quoted one and its copies in other copies of the
    story (extractive.copies), as the answerer cites them.

    >>> quoted_with_copies([2], ["A won.", "B lost.", "A won."])
    [2, 0]
    """
    return [
        i for index, same in zip(picked, copies(picked, texts), strict=True) for i in (index, *same)
    ]


def outcome(
    row: dict,
    scored: tuple | None,
    ratio: float,
    confidence: float = 1.0,
    floor: float = 0.0,
    threshold: float = 0.0,
    short_model: SpanRanker = NEAREST_FOCUS,
    rule: str = "none",
) -> dict:
    """What the answerer would do on one question: its sentences, short answer, abstention
    (by the product's own refusal rule, with this fold's floor and threshold)."""
    if scored is None:
        return {
            "row": row,
            "abstained": True,
            "top": False,
            "contains": False,
            "short": None,
            "short_ok": False,
            "words": 0,
            "cites": cited_evidence(row, []),
            "cites_answered": cited_evidence(row, []),
        }
    scores, probabilities = scored
    picked, compared = quoted(
        row["analysis"], row["texts"], scores, probabilities, ANSWER_SENTENCES, ratio
    )
    abstained = (
        refusal_reason(
            row["features"],
            picked[0],
            row["analysis"].years,
            confidence,
            floor,
            threshold,
            answer_lacks(row["analysis"], row["features"], picked, row["texts"], rule),
        )
        is not None
    )
    best = int(np.argmax(scores))
    short = (
        None
        if compared
        else short_answer(row["analysis"], row["texts"][best], short_model, row["common"])
    )
    golds = row["answers"]
    return {
        "row": row,
        "abstained": abstained,
        "top": bool(row["labels"][best]),
        "contains": bool(golds)
        and answer_contains(" ".join(row["texts"][i] for i in picked), golds),
        "short": short,
        "short_ok": bool(short and golds) and answer_contains(short, golds),
        "words": answer_words(row, picked),
        "cites": cited_evidence(row, [] if abstained else quoted_with_copies(picked, row["texts"])),
        # What the answer would cite had it not been refused (scripts/cv_compose.py: another
        # model may decide the refusal).
        "cites_answered": cited_evidence(row, quoted_with_copies(picked, row["texts"])),
    }


OUTCOME_KEYS = (
    "abstained",
    "top",
    "contains",
    "short",
    "short_ok",
    "words",
    "cites",
    "cites_answered",
)


def oof_record(rows: list[dict], fold: list[int], oof: dict) -> list[dict]:
    """Per question, what --oof-scores keeps: its id, type, question, fold, candidate texts
    and labels, and its held-out ranker scores (None where it has no candidate).

    >>> row = {"id": "q1", "type": "who", "question": "Who?", "answerable": True,
    ...        "texts": ["Ann won."], "labels": np.array([True])}
    >>> oof_record([row], [0], {0: (np.array([1.5]), np.array([1.0]))})[0]["scores"]
    array([1.5])
    """
    keys = ("id", "type", "question", "answerable", "texts", "labels")
    return [
        {
            **{key: row[key] for key in keys},
            "fold": fold[n],
            "scores": oof[n][0] if n in oof else None,
        }
        for n, row in enumerate(rows)
    ]


def outcome_record(o: dict) -> dict:
    """One held-out outcome as --outcomes writes it: the question's id, file, type and whether
    it is answerable (as `row`, which summarise reads), and the OUTCOME_KEYS.

    >>> row = {"id": "q1", "file": "dev.jsonl", "type": "who", "answerable": True, "texts": []}
    >>> o = {"row": row, **dict.fromkeys(OUTCOME_KEYS, 0)}
    >>> outcome_record(o)["row"]
    {'id': 'q1', 'file': 'dev.jsonl', 'type': 'who', 'answerable': True}
    """
    row = {key: o["row"][key] for key in ("id", "file", "type", "answerable")}
    return {"row": row, **{key: o[key] for key in OUTCOME_KEYS}}


def evaluate_rows(
    rows,
    scores_of,
    ratio,
    abstain_p=None,
    floor=0.0,
    threshold=0.0,
    short_model=NEAREST_FOCUS,
    rule="none",
) -> dict:
    """Summary of every question's outcome given each row's scores."""
    return summarise(
        [
            outcome(
                row,
                scores_of(n, row) if len(row["features"]) else None,
                ratio,
                1.0 if abstain_p is None else float(abstain_p[n]),
                floor,
                threshold,
                short_model,
                rule,
            )
            for n, row in enumerate(rows)
        ]
    )


def summarise(out: list[dict]) -> dict:
    answerable = [o for o in out if o["row"]["answerable"]]
    unanswerable = [o for o in out if not o["row"]["answerable"]]
    with_short = [o for o in answerable if o["short"] is not None and not o["abstained"]]

    def rate(group, key):
        return round(sum(o[key] for o in group) / len(group), 3) if group else None

    by_type = defaultdict(list)
    for o in answerable:
        by_type[o["row"]["type"]].append(o)
    answered = [o for o in answerable if not o["abstained"]]
    if not answerable:
        return {"questions": len(out)}
    return {
        "questions": len(out),
        "top1": rate(answerable, "top"),
        "answer_contains": round(
            sum(o["contains"] and not o["abstained"] for o in answerable) / len(answerable), 3
        ),
        "answer_contains_if_never_abstaining": rate(answerable, "contains"),
        "short_answer_given": round(len(with_short) / max(1, len(answered)), 3),
        "short_answer_contains": rate(with_short, "short_ok"),
        "cites_gold_evidence": (
            round(statistics.fmean(cites), 3)
            if (cites := [o["cites"] for o in answerable if o.get("cites") is not None])
            else None
        ),
        "false_abstentions": rate(answerable, "abstained"),
        "unanswerable_abstained": f"{sum(o['abstained'] for o in unanswerable)}"
        f"/{len(unanswerable)}",
        "median_words": statistics.median([o["words"] for o in answered]) if answered else 0,
        "by_type": {
            t: round(sum(o["contains"] and not o["abstained"] for o in g) / len(g), 3)
            for t, g in sorted(by_type.items())
        },
    }


def cv_misses(out: list[dict]) -> dict:
    """Ids of the questions answered wrongly, by type; of those refused though answerable; of
    the unanswerable ones answered."""
    missed = defaultdict(list)
    for o in out:
        row = o["row"]
        if row["answerable"] and not o["abstained"] and not o["contains"]:
            missed[row["type"]].append(row["id"])
    return {
        "wrong_by_type": dict(sorted(missed.items())),
        "answerable_refused": [
            o["row"]["id"] for o in out if o["row"]["answerable"] and o["abstained"]
        ],
        "unanswerable_answered": [
            o["row"]["id"] for o in out if not o["row"]["answerable"] and not o["abstained"]
        ],
    }


def which_adds_name(rows: list[dict]) -> dict:
    """Whether the sentences that answer an answerable "which X" question (extractive.asks_which)
    add a name: the evidence for refusing a "which" question whose chosen sentence adds none."""
    asked = [r for r in rows if r["answerable"] and asks_which(r["analysis"])]
    adds = [
        [
            not adds_no_name(r["analysis"], r["features"][i], text)
            for i, (text, label) in enumerate(zip(r["texts"], r["labels"], strict=True))
            if label
        ]
        for r in asked
    ]
    return {
        "answerable": len(asked),
        "answer_among_candidates": sum(bool(a) for a in adds),
        "every_answering_sentence_adds_a_name": sum(bool(a) and all(a) for a in adds),
        "some_answering_sentence_adds_a_name": sum(any(a) for a in adds),
    }


def with_tuned(row: dict, sims: np.ndarray) -> dict:
    """The row with its sim_tuned / rank_tuned columns from these similarities."""
    features = row["features"].copy()
    if len(features):
        features[:, FEATURES.index("sim_tuned")] = sims
        features[:, FEATURES.index("rank_tuned")] = rank_scores(sims)
    return {**row, "features": features}


def tune_encoders(rows: list[dict], fold: list[int], k: int, args, started: float):
    """Questions as each fold's tuned encoders embed them, and the final encoder (a row's
    tuned similarities are its candidates' cosines to its question's vector, QE.cosines; kept
    as vectors so that other rows of the same question, such as snippet rows, get theirs).

    cv_q[f][n]: for a question of fold f, from the encoder tuned on the other folds; for a
    training question of fold f, from an encoder tuned on the other inner folds (so the ranker
    of fold f learns from similarities of questions the encoder did not see). oof_q[n]: from
    the encoder that did not see question n, for fitting the shipped ranker.
    """
    base = pretrained_base(args, started)

    def fit(questions: list[int], seed: int):
        return QE.tune(
            base, [rows[n] for n in questions], seed, args.epochs, args.lr, soup=args.soup
        )

    cv_q: list[dict[int, np.ndarray]] = [{} for _ in range(k)]
    oof_q: dict[int, np.ndarray] = {}
    for f in range(k):
        train = [n for n in range(len(rows)) if fold[n] != f]
        test = [n for n in range(len(rows)) if fold[n] == f]
        model = fit(train, args.seed + f)
        for n, q in zip(test, QE.question_vectors(model, [rows[n] for n in test]), strict=True):
            cv_q[f][n] = oof_q[n] = q
        inner = folds_of([rows[n] for n in train], k - 1, args.seed + 100 + f)
        for g in range(k - 1):
            inner_train = [n for n, h in zip(train, inner, strict=True) if h != g]
            inner_test = [n for n, h in zip(train, inner, strict=True) if h == g]
            model = fit(inner_train, args.seed + 10 * f + g)
            for n, q in zip(
                inner_test, QE.question_vectors(model, [rows[n] for n in inner_test]), strict=True
            ):
                cv_q[f][n] = q
        log(f"encoder fold {f + 1}/{k} done at {time.perf_counter() - started:.0f} s")
    return cv_q, oof_q, fit(list(range(len(rows))), args.seed)


PRETRAIN_EPOCHS = 1
"""Passes over the synthetic questions by default (--synthetic-epochs)."""


def unless_default(tag: str, value: int, default: int) -> str:
    """The part a non-default synthetic option adds to a cache's name ("-a6"), "" for the default:
    the shipped fit's caches and weights keep the names they had before the option existed.

    >>> unless_default("a", 6, 3), unless_default("e", 1, 1)
    ('-a6', '')
    """
    return "" if value == default else f"-{tag}{value}"


def source_tag(folder: Path | None) -> str:
    """The part --synthetic-corpus adds to the pre-training's cache names ("" without one): the
    folder's name and a hash of its full path, so that two folders never share a cache.

    >>> source_tag(None), source_tag(Path("/data/no-sport"))[:9]
    ('', 'no-sport-')
    """
    if folder is None:
        return ""
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    return f"{folder.name}-{digest}"


def synthetic_caches(
    cache: Path,
    count: int,
    seed: int,
    lr: float,
    per_article: int = SQ.PER_ARTICLE,
    epochs: int = PRETRAIN_EPOCHS,
    source: str = "",
) -> tuple[Path, Path]:
    """Where, beside the row cache, the synthetic questions and the encoder pre-trained on them
    are kept. Both depend on the corpus, the count, the synthetic seed and the questions an
    article may give (the pre-training also on the learning rate and its epochs), not on the
    fold split: every split's CV starts from the same one.

    >>> [p.name for p in synthetic_caches(Path("/tmp/rows.pkl"), 6000, 12, 5e-05)]
    ['rows-synthetic-6000-12.pkl', 'rows-synthetic-6000-12-base-5e-05.pt']
    >>> [p.name for p in synthetic_caches(Path("/tmp/rows.pkl"), 9000, 12, 5e-05, 5, 2)]
    ['rows-synthetic-9000-12-a5.pkl', 'rows-synthetic-9000-12-a5-base-5e-05-e2.pt']
    """
    stem = f"{cache.stem}-synthetic-{count}-{seed}" + unless_default(
        "a", per_article, SQ.PER_ARTICLE
    )
    stem += f"-from-{source}" if source else ""
    tail = unless_default("e", epochs, PRETRAIN_EPOCHS)
    return cache.with_name(f"{stem}.pkl"), cache.with_name(f"{stem}-base-{lr}{tail}.pt")


def pretrained_base(args, started: float):
    """The bundled MiniLM, pre-trained on --synthetic questions the corpus yields by itself
    (synthetic_questions.py) when asked: every fold's encoder starts from it."""
    base = QE.base_model()
    if not args.synthetic:
        return base
    import torch  # loaded already by base_model; here for the pre-trained cache

    cache, pretrained = (
        synthetic_caches(
            args.cache,
            args.synthetic,
            args.synthetic_seed,
            args.lr,
            args.synthetic_per_article,
            args.synthetic_epochs,
            source_tag(args.synthetic_corpus),
        )
        if args.cache
        else (None, None)
    )
    if pretrained and pretrained.exists():
        base.load_state_dict(torch.load(pretrained))
        log(f"pre-trained encoder read from {pretrained}")
        return base
    if cache and cache.exists():
        synthetic = pickle.loads(cache.read_bytes())
    else:
        synthetic = SQ.synthetic_rows(
            args.synthetic_corpus or args.corpus,
            args.synthetic,
            args.synthetic_seed,
            lambda texts: base.encode(texts, batch_size=64, normalize_embeddings=True),
            per_article=args.synthetic_per_article,
        )
        if cache:
            cache.write_bytes(pickle.dumps(synthetic))
    if not synthetic:
        # Pre-training on nothing would pass for pre-training: say so instead.
        raise SystemExit(
            f"no synthetic questions from {args.synthetic_corpus or args.corpus}: it holds no "
            "article long enough (*.txt files; linked folders are not followed)"
        )
    log(f"{len(synthetic)} synthetic questions at {time.perf_counter() - started:.0f} s")
    model = QE.tune(
        base, synthetic, seed=args.synthetic_seed, epochs=args.synthetic_epochs, lr=args.lr
    )
    log(f"pre-trained at {time.perf_counter() - started:.0f} s")
    if pretrained:
        torch.save(model.state_dict(), pretrained)
    return model


def snippet_rows(args, rows: list[dict]) -> list[dict]:
    """The questions' snippet rows (snippet_rows.py), kept beside the row cache."""
    cache = args.cache.with_name(f"{args.cache.stem}-snippets.pkl") if args.cache else None
    if cache and cache.exists():
        return pickle.loads(cache.read_bytes())
    from askdocs.api import Assistant

    started = time.perf_counter()
    questions = {q.id: q for path in args.questions for q in load_questions(path, args.corpus)}
    with tempfile.TemporaryDirectory() as folder:
        weights = neutral_weights(Path(folder))
        assistant = Assistant(index_dir=args.index, answer_weights=str(weights))
        out = SR.collect_snippets(assistant, rows, args.corpus, questions, weights)
    log(f"{len(out)} snippet rows in {time.perf_counter() - started:.0f} s")
    if cache:
        cache.write_bytes(pickle.dumps(out))
    return out


def ablated(row: dict, columns: list[int]) -> dict:
    """The row with these feature columns held at 0."""
    features = row["features"].copy()
    if len(features):
        features[:, columns] = 0.0
    return {**row, "features": features}


def main() -> None:
    global ANSWER_SENTENCES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="+", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--l2", type=float, default=0.01, help="ranker L2 penalty")
    parser.add_argument("--abstain-l2", type=float, default=0.1)
    parser.add_argument(
        "--max-false-abstain",
        type=float,
        default=0.02,
        help="most answerable questions the fitted threshold may refuse",
    )
    parser.add_argument("--max-words", type=float, default=40)
    parser.add_argument(
        "--max-off-topic",
        type=float,
        default=0.01,
        help="most answerable questions the relevance floor may refuse",
    )
    parser.add_argument("--epochs", type=int, default=3, help="question encoder epochs")
    parser.add_argument("--lr", type=float, default=5e-5, help="question encoder learning rate")
    parser.add_argument(
        "--soup",
        type=int,
        default=1,
        help="question encoder: average the weights of this many fits with other seeds",
    )
    parser.add_argument("--no-encoder", action="store_true", help="fit without a tuned encoder")
    parser.add_argument(
        "--synthetic",
        type=int,
        default=0,
        help="pre-train the question encoder on this many questions the corpus yields by "
        "itself (synthetic_questions.py) before tuning it on the question files",
    )
    parser.add_argument(
        "--synthetic-seed",
        type=int,
        default=12,
        help="seed of the synthetic questions and the pre-training; apart from --seed because "
        "they see no question file, so one pre-trained encoder serves every fold split",
    )
    parser.add_argument(
        "--synthetic-per-article",
        type=int,
        default=SQ.PER_ARTICLE,
        help="at most this many synthetic questions from one article",
    )
    parser.add_argument(
        "--synthetic-epochs",
        type=int,
        default=PRETRAIN_EPOCHS,
        help="passes over the synthetic questions when pre-training the question encoder",
    )
    parser.add_argument(
        "--ablate",
        nargs="*",
        default=[],
        choices=FEATURES,
        metavar="FEATURE",
        help="fit with these features held at 0 (to measure what they add)",
    )
    parser.add_argument(
        "--ablate-abstain",
        nargs="*",
        default=[],
        choices=QUESTION_FEATURES,
        metavar="FEATURE",
        help="fit the abstention model with these question features held at 0",
    )
    parser.add_argument(
        "--answer-sentences",
        type=int,
        default=ANSWER_SENTENCES,
        help="most sentences in an answer, as the answer_sentences setting (to compare)",
    )
    parser.add_argument(
        "--refuse-missing",
        choices=REFUSE_MISSING,
        default="named",
        help="refuse when the chosen sentence lacks what the question asks for (see combiner; "
        "default: the shipped rule)",
    )
    parser.add_argument(
        "--synthetic-corpus",
        type=Path,
        default=None,
        help="make the synthetic questions from this folder of articles instead of --corpus "
        "(to measure how the pre-training carries to articles it never saw)",
    )
    parser.add_argument(
        "--snippets",
        action="store_true",
        help="also fit the ranker on each question asked over five one-sentence passages, each "
        "its own document (snippet_rows.py: the shape of RGB's web snippets)",
    )
    parser.add_argument(
        "--snippet-weight",
        type=float,
        default=1.0,
        help="a snippet row's weight in the ranker's loss against a question's own row (0: "
        "collected and reported, not trained on)",
    )
    parser.add_argument(
        "--question-weight",
        type=float,
        default=1.0,
        help="a question's own row's weight in the ranker's loss (0 with --snippets: a ranker "
        "fitted on snippet rows alone; everything else is still fitted and measured on the "
        "questions' own rows)",
    )
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--report", type=Path, default=Path("benchmarks/results/answerer_cv.json"))
    parser.add_argument("--dry-run", action="store_true", help="report only, write no weights")
    parser.add_argument(
        "--answering",
        type=Path,
        help="a weights file fitted before (with --synthetic) whose model chooses the answer's "
        "sentences once this fit's has decided not to refuse; embedded in --out, its encoder "
        "layers file must lie beside --out",
    )
    parser.add_argument(
        "--outcomes",
        type=Path,
        help="also write each question's held-out outcome here (JSON; scripts/cv_compose.py)",
    )
    parser.add_argument(
        "--oof-scores",
        type=Path,
        help="also write each question's held-out answering scores, candidate texts and labels "
        "here (pickle; scripts/reader_experiment.py reranks them)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        help="keep the collected candidates here (pickle); "
        "reused while it exists, to try fitting options quickly",
    )
    args = parser.parse_args()
    if args.synthetic_corpus and not args.synthetic_corpus.is_dir():
        parser.error(f"--synthetic-corpus {args.synthetic_corpus} is not a folder")
    rule = args.refuse_missing
    ANSWER_SENTENCES = args.answer_sentences

    started = time.perf_counter()
    if args.cache and args.cache.exists():
        rows = pickle.loads(args.cache.read_bytes())
    else:
        rows = collect(args.index, args.corpus, args.questions)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(rows))
    log(f"{len(rows)} questions collected in {time.perf_counter() - started:.0f} s")
    fold = folds_of(rows, args.folds, args.seed)
    k = args.folds

    # Per outer fold, the rows as that fold's models see them: the tuned-encoder columns of its
    # training questions come from encoders that did not train on them (inner folds), those of
    # its held-out questions from the encoder trained on all its training questions.
    if args.question_weight != 1.0:
        rows = [{**r, "weight": args.question_weight} for r in rows]
    cv_rows: list[list[dict]] = [list(rows) for _ in range(k)]
    oof_rows = list(rows)  # every question seen by an encoder that did not train on it
    # Snippet rows (--snippets): each question's, in its fold, their tuned columns from the
    # same encoders as the question's own row; trained on with --snippet-weight, never scored
    # in the CV figures (those stay the question files' own), reported apart.
    snippets_of: list[list[dict]] = [[] for _ in rows]
    if args.snippets:
        position = {r["id"]: n for n, r in enumerate(rows)}
        for r in snippet_rows(args, rows):
            snippets_of[position[r["base"]]].append({**r, "weight": args.snippet_weight})
    cv_snippets: list[list[list[dict]]] = [list(snippets_of) for _ in range(k)]
    oof_snippets = list(snippets_of)
    encoder = None
    if not args.no_encoder:
        variant = f"-synthetic-{args.synthetic}-s{args.synthetic_seed}" if args.synthetic else ""
        if args.synthetic:
            variant += unless_default("a", args.synthetic_per_article, SQ.PER_ARTICLE)
            variant += unless_default("e", args.synthetic_epochs, PRETRAIN_EPOCHS)
            if args.synthetic_corpus:
                variant += f"-from-{source_tag(args.synthetic_corpus)}"
        variant += f"-soup{args.soup}" if args.soup > 1 else ""
        cache = (
            args.cache.with_name(
                f"{args.cache.stem}-questions-{args.epochs}-{args.lr}-{args.seed}{variant}.pkl"
            )
            if args.cache
            else None
        )
        if cache and cache.exists():
            cv_q, oof_q, encoder = pickle.loads(cache.read_bytes())
        else:
            cv_q, oof_q, encoder = tune_encoders(rows, fold, k, args, started)
            if cache:
                cache.write_bytes(pickle.dumps((cv_q, oof_q, encoder)))
        for n, q in oof_q.items():
            oof_rows[n] = with_tuned(rows[n], QE.cosines(rows[n], q))
            oof_snippets[n] = [with_tuned(r, QE.cosines(r, q)) for r in snippets_of[n]]
        for f in range(k):
            for n, q in cv_q[f].items():
                cv_rows[f][n] = with_tuned(rows[n], QE.cosines(rows[n], q))
                cv_snippets[f][n] = [with_tuned(r, QE.cosines(r, q)) for r in snippets_of[n]]

    if args.ablate:
        held = [FEATURES.index(name) for name in args.ablate]
        cv_rows = [[ablated(r, held) for r in fold_rows] for fold_rows in cv_rows]
        oof_rows = [ablated(r, held) for r in oof_rows]
        cv_snippets = [[[ablated(r, held) for r in s] for s in f] for f in cv_snippets]
        oof_snippets = [[ablated(r, held) for r in s] for s in oof_snippets]

    # Out-of-fold ranker scores: fold f's ranker, fitted on its training rows, on its test rows.
    oof: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    snippet_top: list[bool] = []  # held out: does the ranker put a snippet row's answer first
    for f in range(k):
        train_rows = [r for n, r in enumerate(cv_rows[f]) if fold[n] != f]
        train_rows += [r for n, s in enumerate(cv_snippets[f]) if fold[n] != f for r in s]
        model = fit_ranker(train_rows, args.l2)
        for n, r in enumerate(cv_rows[f]):
            if fold[n] == f and len(r["features"]):
                oof[n] = ranked(r, *model)
            if fold[n] == f:
                snippet_top += [
                    bool(snip["labels"][int(np.argmax(ranked(snip, *model)[0]))])
                    for snip in cv_snippets[f][n]
                    if len(snip["features"])
                ]
    cv_view = [cv_rows[fold[n]][n] for n in range(len(rows))]  # each row as its fold saw it
    if args.oof_scores:
        args.oof_scores.parent.mkdir(parents=True, exist_ok=True)
        args.oof_scores.write_bytes(pickle.dumps(oof_record(rows, fold, oof)))
    has = np.asarray([n in oof for n in range(len(rows))])
    answerable = np.asarray([r["answerable"] for r in rows])
    # What the abstention model learns: whether the best sentence holds a gold answer. Whether
    # a question is answerable at all generalises worse (both cross-validated AUCs are in the
    # report, "answerable_auc_cv": unanswerable questions here ask for a detail a real story
    # lacks, and look like the others); whether the answer is right covers them too.
    right = np.asarray(
        [n in oof and bool(rows[n]["labels"][int(np.argmax(oof[n][0]))]) for n in range(len(rows))]
    )
    qf = np.zeros((len(rows), len(QUESTION_FEATURES)))
    for n in oof:
        s, p = oof[n]
        qf[n] = question_features(
            cv_view[n]["features"],
            s,
            p,
            rows[n]["article_scores"],
            rows[n]["kind"],
            unit_asked=bool(rows[n]["analysis"].unit),
        )
    held_abstain = [QUESTION_FEATURES.index(name) for name in args.ablate_abstain]
    qf[:, held_abstain] = 0.0

    def pick_ratio(idx: list[int]) -> float:
        best = None
        for ratio in PER_WORD:
            s = evaluate_rows([cv_view[i] for i in idx], lambda m, _r: oof[idx[m]], ratio)
            # Among ratios as good for the answer, the one whose answers cite more of the gold
            # evidence (the second measure; askdocs eval's citation recall).
            key = (
                s["median_words"] <= args.max_words,
                s["answer_contains"],
                s["cites_gold_evidence"] or 0.0,
            )
            if best is None or key > best[0]:
                best = (key, ratio)
        return best[1]

    # Abstention model, threshold and extra-sentence threshold: fitted on the training folds,
    # applied to the held-out one.
    cv_out = []
    # Every refusal rule on the same folds and models, to compare them (the report's
    # refuse_missing_cv); cv_out holds the one chosen with --refuse-missing.
    by_rule: dict[str, list[dict]] = {r: [] for r in REFUSE_MISSING}
    # Held-out probabilities of two question models, to say how well each tells answerable
    # from unanswerable questions: the shipped one (trained on "the best sentence is right")
    # and one trained on "answerable" itself.
    p_right = np.full(len(rows), np.nan)
    p_answerable = np.full(len(rows), np.nan)
    groups = [phrase_groups(r) for r in rows]  # the phrases do not depend on the fold
    # Each question's outcome with the nearest-phrase rule in place of its fold's short-answer
    # model: what the model adds, reported beside it.
    short_cv = {}
    for f in range(k):
        train = [n for n in range(len(rows)) if fold[n] != f and has[n]]
        held_out = [n for n in range(len(rows)) if fold[n] == f and has[n]]
        direct = fit_abstain(qf[train], answerable[train], args.abstain_l2)
        p_answerable[held_out] = abstain_probability(qf[held_out], direct)
        model = fit_abstain(qf[train], right[train], args.abstain_l2)
        p_right[held_out] = abstain_probability(qf[held_out], model)
        threshold = pick_threshold(
            abstain_probability(qf[train], model), answerable[train], args.max_false_abstain
        )
        ratio = pick_ratio(train)
        floor = relevance_floor([rows[n] for n in train if answerable[n]], args.max_off_topic)
        short_model = fit_short(
            [g for n in range(len(rows)) if fold[n] != f for g in groups[n]], args.l2
        )
        for n in range(len(rows)):
            if fold[n] == f:
                p = abstain_probability(qf[n : n + 1], model)[0] if has[n] else 0.0
                for each in REFUSE_MISSING:
                    by_rule[each].append(
                        outcome(
                            cv_view[n], oof.get(n), ratio, p, floor, threshold, short_model, each
                        )
                    )
                cv_out.append(by_rule[rule][-1])
                short_cv[n] = outcome(cv_view[n], oof.get(n), ratio, p, floor, threshold, rule=rule)
    cv = summarise(cv_out)
    nearest = summarise([short_cv[n] for n in sorted(short_cv)])

    # The shipped fit: every question; the encoder columns out-of-fold, as for unseen questions.
    full = fit_ranker(oof_rows + [r for s in oof_snippets for r in s], args.l2)
    all_idx = [n for n in range(len(rows)) if has[n]]
    abstain_model = fit_abstain(qf[all_idx], right[all_idx], args.abstain_l2)
    threshold = pick_threshold(
        abstain_probability(qf[all_idx], abstain_model), answerable[all_idx], args.max_false_abstain
    )
    ratio = pick_ratio(all_idx)
    floor = relevance_floor([rows[n] for n in all_idx if answerable[n]], args.max_off_topic)
    short_full = fit_short([g for n in range(len(rows)) for g in groups[n]], args.l2)
    train_qf = np.zeros_like(qf)
    for n in all_idx:
        s, p = ranked(oof_rows[n], *full)
        train_qf[n] = question_features(
            oof_rows[n]["features"],
            s,
            p,
            rows[n]["article_scores"],
            rows[n]["kind"],
            unit_asked=bool(rows[n]["analysis"].unit),
        )
    train_qf[:, held_abstain] = 0.0
    training = evaluate_rows(
        oof_rows,
        lambda _n, r: ranked(r, *full),
        ratio,
        abstain_probability(train_qf, abstain_model),
        floor,
        threshold,
        short_full,
        rule,
    )

    report = {
        "questions": [str(p) for p in args.questions],
        "folds": k,
        "seed": args.seed,
        "l2": args.l2,
        "encoder": not args.no_encoder,
        "epochs": args.epochs,
        "lr": args.lr,
        "soup": args.soup,
        "synthetic": args.synthetic,
        "synthetic_seed": args.synthetic_seed if args.synthetic else None,
        "synthetic_per_article": args.synthetic_per_article if args.synthetic else None,
        "synthetic_epochs": args.synthetic_epochs if args.synthetic else None,
        "answer_sentences": ANSWER_SENTENCES,
        "answer_among_candidates": round(
            float(np.mean([r["labels"].any() for r in rows if r["answerable"]])), 3
        ),
        "cv": cv,
        "snippets": {
            "rows": sum(len(s) for s in snippets_of),
            "weight": args.snippet_weight,
            "question_weight": args.question_weight,
            "answer_among_candidates": round(
                float(np.mean([r["labels"].any() for s in snippets_of for r in s])), 3
            )
            if args.snippets
            else None,
            "top1_cv": round(float(np.mean(snippet_top)), 3) if snippet_top else None,
        },
        "refuse_missing_cv": {
            each: {
                key: summary[key]
                for key in ("answer_contains", "false_abstentions", "unanswerable_abstained")
            }
            for each, summary in ((r, summarise(o)) for r, o in by_rule.items())
        },
        # Which questions the cross-validated answerer gets wrong: what the next step studies.
        "cv_misses": cv_misses(cv_out),
        "which_adds_name": which_adds_name(rows),
        "cv_by_file": {
            str(path): summarise([o for o in cv_out if o["row"]["file"] == str(path)])
            for path in args.questions
        },
        "training": training,
        # The short answer with the nearest-phrase rule instead of the fitted model (CV).
        "short_answer_contains_nearest_focus_cv": nearest["short_answer_contains"],
        "short_answer_groups": sum(len(g) for g in groups),
        # Cross-validated ROC AUC of telling answerable from unanswerable questions (0.5: chance).
        "answerable_auc_cv": {
            "shipped_model": round(roc_auc(p_right[has], answerable[has]), 3),
            "model_trained_on_answerable": round(roc_auc(p_answerable[has], answerable[has]), 3),
        },
        "shipped": {
            "abstain_threshold": round(threshold, 6),
            "extra_sentence_per_word": ratio,
            "relevance_floor": round(floor, 6),
            "refuse_missing": rule,
        },
        "weights": dict(zip(FEATURES, np.round(full[2], 4).tolist(), strict=True)),
        "short_weights": dict(
            zip(SPAN_FEATURES, np.round(short_full.weights, 4).tolist(), strict=True)
        ),
        "seconds": round(time.perf_counter() - started),
    }
    print(json.dumps({key: v for key, v in report.items() if key != "weights"}, indent=1))
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    if args.outcomes:
        args.outcomes.parent.mkdir(parents=True, exist_ok=True)
        args.outcomes.write_text(json.dumps([outcome_record(o) for o in cv_out], indent=0) + "\n")
    if args.dry_run:
        return
    about: dict[str, object] = {
        "fitted_on": [p.name for p in args.questions],
        "made_by": "scripts/fit_answerer.py",
    }
    if encoder is not None:
        layers = args.out.with_name(args.out.stem + "-question-layers.safetensors")
        about["question_encoder"] = {
            "file": layers.name,
            "sha256": QE.save_layers(encoder, layers),
            "base_model": "all-MiniLM-L6-v2",
            "layers": list(QE.TUNED_LAYERS),
        }
        if args.synthetic:
            about["question_encoder"]["pre_trained_on"] = {
                "synthetic_questions": args.synthetic,
                "seed": args.synthetic_seed,
                "made_by": "scripts/synthetic_questions.py",
            }
            # (named only when not the defaults, so that a refit of the shipped weights
            # writes the file it was read from)
            about["question_encoder"]["pre_trained_on"] |= {
                key: value
                for key, value, default in (
                    ("per_article", args.synthetic_per_article, SQ.PER_ARTICLE),
                    ("epochs", args.synthetic_epochs, PRETRAIN_EPOCHS),
                    ("from", args.synthetic_corpus and args.synthetic_corpus.name, None),
                )
                if value != default
            }
    if args.snippets:
        about["snippet_rows"] = {
            "made_by": "scripts/snippet_rows.py",
            "weight": args.snippet_weight,
            "question_weight": args.question_weight,
        }
    if args.ablate:
        # The features this model was fitted without (their weights are 0): the refusing fit
        # leaves out what helps choose a sentence but not decide whether to answer.
        about["held_at_zero"] = list(args.ablate)
    if args.answering:
        answering = json.loads(args.answering.read_text())
        layers_file = answering.get("question_encoder", {}).get("file")
        if layers_file and not (args.out.parent / layers_file).is_file():
            sys.exit(f"{layers_file} (of {args.answering}) must lie beside {args.out}")
        about["answering"] = answering
    data = weights_document(
        full,
        abstain_model,
        threshold,
        floor,
        ratio,
        (short_full.mean, short_full.scale, short_full.weights),
        refuse_missing=rule,
        **about,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    log(f"wrote {args.out}")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
