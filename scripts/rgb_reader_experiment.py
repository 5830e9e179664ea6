"""Measure whether a cross-encoder "reader" fitted on RGB's own passages can tell a pool of
negatives from one holding the answer (the RGB rejection setting).

Not part of the product: the idea did not pay (README, "A reader fitted on RGB's passages").
Why it was worth measuring: RGB's negatives are on the question's own topic and lack only the
asked relation ("Coco Gauff made her U.S. Open singles debut" for "Who won the women's singles
U.S. Open in 2019?"), which no fitted feature reads, and the reader of reader_experiment.py was
trained on synthetic questions cut from sentences (it learnt word overlap). Here the labels are
RGB's: a positive passage that holds the gold answer against a negative that does not (a
negative that holds it is left out), so the reader sees exactly the distinction it must make.

The bundled MiniLM reads question and passage together (every layer tuned, a linear head on the
mean token vector, binary cross-entropy), five-fold cross-validated by question: each question's
passages are scored by the reader its fold did not train on. The report gives the pair AUC
(positive against negative passage, across and within questions) and, for the pools `eval-rgb`
draws (seed 0), the AUC of the pool's best reader score between negatives-only pools and pools
with positives, then what refusing below a threshold would give: the share of negatives-only
pools refused and of answered pools kept. Two threads; about 6 minutes here.

    python scripts/rgb_reader_experiment.py ../shared/data/qa/rgb_en_fact_dev.jsonl \\
        --report benchmarks/results/reader/rgb-fitted.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

FOLDS = 5
EPOCHS = 3
LR = 3e-5
HEAD_LR = 1e-3
BATCH = 16
MAX_TOKENS = 128
"""Question and passage together; RGB's passages are a few sentences, so this seldom cuts."""
PASSAGES = 5
NOISE = (0.0, 0.4, 0.8)
REFUSED_SHARES = (0.2, 0.3, 0.4, 0.5)
"""Thresholds at these quantiles of the negatives-only pools' best scores."""


def labelled_pairs(rows: list[dict]) -> list[tuple[int, str, str, float | None]]:
    """(question number, question, passage, 1 / 0 / None when a negative holds the answer)."""
    from askdocs.rgb import is_correct

    pairs = []
    for number, row in enumerate(rows):
        for text in row["positive"]:
            pairs.append(
                (number, row["query"], text, 1.0 if is_correct(text, row["answer"]) else None)
            )
        for text in row["negative"]:
            pairs.append(
                (number, row["query"], text, None if is_correct(text, row["answer"]) else 0.0)
            )
    return pairs


def auc(higher: list[float], lower: list[float]) -> float:
    """Share of (higher, lower) pairs ordered as named; ties count half."""
    a, b = np.asarray(higher)[:, None], np.asarray(lower)[None, :]
    return float(((a > b) + 0.5 * (a == b)).mean())


def read(bert, tokenizer, head, batch: list):
    """The reader's score of each (question, passage) pair of the batch (a torch vector)."""
    from reader_experiment import pair_scores

    questions, passages = [p[1] for p in batch], [p[2] for p in batch]
    return pair_scores(bert, tokenizer, head, questions, passages, max_tokens=MAX_TOKENS)


def cross_validated_scores(pairs: list, questions: int, seed: int) -> dict[tuple[int, str], float]:
    import torch
    from question_encoder import base_model

    order = list(range(questions))
    random.Random(seed).shuffle(order)
    fold_of = {q: i % FOLDS for i, q in enumerate(order)}
    torch.set_num_threads(2)
    scores: dict[tuple[int, str], float] = {}
    for fold in range(FOLDS):
        torch.manual_seed(seed + fold)
        rng = random.Random(seed + fold)
        model = base_model()
        bert, tokenizer = model[0].auto_model, model.tokenizer
        head = torch.nn.Linear(bert.config.hidden_size, 1)

        train = [p for p in pairs if fold_of[p[0]] != fold and p[3] is not None]
        optimiser = torch.optim.AdamW(
            [{"params": bert.parameters(), "lr": LR}, {"params": head.parameters(), "lr": HEAD_LR}],
            weight_decay=0.01,
        )
        bert.train()
        started = time.perf_counter()
        for _ in range(EPOCHS):
            rng.shuffle(train)
            for i in range(0, len(train), BATCH):
                batch = train[i : i + BATCH]
                target = torch.tensor([p[3] for p in batch])
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    read(bert, tokenizer, head, batch), target
                )
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        bert.eval()
        held_out = [p for p in pairs if fold_of[p[0]] == fold]
        with torch.no_grad():
            for i in range(0, len(held_out), 32):
                batch = held_out[i : i + 32]
                for p, s in zip(batch, read(bert, tokenizer, head, batch).tolist(), strict=True):
                    scores[(p[0], p[2])] = s
        print(f"fold {fold}: {len(train)} pairs, {time.perf_counter() - started:.0f} s", flush=True)
    return scores


def pool_best(rows: list[dict], scores: dict, rejection: bool, noise: float) -> np.ndarray:
    """The best reader score of each question's pool as `eval-rgb` draws it (seed 0)."""
    from askdocs.rgb import pick_passages

    best = []
    for number, row in enumerate(rows):
        texts, _, _ = pick_passages(row, PASSAGES, noise, False, rejection, 0)
        best.append(max(scores[(number, t)] for t in texts))
    return np.asarray(best)


def pair_counts(pairs: list) -> dict[str, int]:
    return {
        "positive": sum(p[3] == 1.0 for p in pairs),
        "negative": sum(p[3] == 0.0 for p in pairs),
        "left_out": sum(p[3] is None for p in pairs),
    }


def separation(rows: list[dict], pairs: list, scores: dict) -> dict:
    """How well passage `scores` ((question number, passage) -> score) tell answers from
    negatives: the pair AUC across and within questions, and the pool AUC (a pool's best score,
    pools with positives at each noise ratio against the negatives-only pools)."""
    positives = [scores[(p[0], p[2])] for p in pairs if p[3] == 1.0]
    negatives = [scores[(p[0], p[2])] for p in pairs if p[3] == 0.0]
    within = []
    for q in range(len(rows)):
        pos = [scores[(p[0], p[2])] for p in pairs if p[0] == q and p[3] == 1.0]
        neg = [scores[(p[0], p[2])] for p in pairs if p[0] == q and p[3] == 0.0]
        if pos and neg:
            within.append(auc(pos, neg))
    rejection = list(pool_best(rows, scores, True, 0.0))
    return {
        "pair_auc": round(auc(positives, negatives), 3),
        "pair_auc_within_question": round(float(np.mean(within)), 3),
        "pool_auc": {
            str(n): round(auc(list(pool_best(rows, scores, False, n)), rejection), 3) for n in NOISE
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rgb", type=Path, help="RGB questions (rgb_en_fact_dev.jsonl)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    from askdocs.rgb import load_rgb

    rows = load_rgb(args.rgb)
    pairs = labelled_pairs(rows)
    scores = cross_validated_scores(pairs, len(rows), args.seed)
    rejection = pool_best(rows, scores, True, 0.0)
    answered = {n: pool_best(rows, scores, False, n) for n in NOISE}
    report = {
        "questions": len(rows),
        "pairs": pair_counts(pairs),
        **separation(rows, pairs, scores),
        "refusing_below": [
            {
                "threshold": round(float(t), 3),
                "negatives_only_refused": round(float(np.mean(rejection < t)), 2),
                **{f"noise {n}: kept": round(float(np.mean(answered[n] >= t)), 2) for n in NOISE},
            }
            for t in np.quantile(rejection, REFUSED_SHARES)
        ],
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
