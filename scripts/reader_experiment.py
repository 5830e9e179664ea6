"""Measure a cross-encoder "reader" that reranks the answering model's best candidates.

Not part of the product: it measured the idea before building it in, and the idea did not
pay (README, "A reader that reranks the best candidates"). The reader is the bundled MiniLM
reading question and sentence together, its top layers (TUNED_LAYERS) and a linear head on
the mean token vector trained with a listwise softmax loss (one answering sentence against
GROUP - 1 others of the same question). Three steps:

  train    on the synthetic questions the corpus yields by itself (synthetic_questions.py, as
           fit_answerer.py --synthetic caches them): no question file is read, so its scores
           can be used on every dev question without leaking a label;
  tune     that reader again on a split's training folds of the dev questions (their
           hardest wrong candidates by the held-out answering scores), scoring each held-out
           question's top candidates with the reader its fold did not train on;
  measure  rerank: among the answering model's top K candidates, the one with the best
           score + w * reader score is put first, for a grid of K and w; on the dev questions'
           held-out scores (fit_answerer.py --oof-scores) and on RGB's candidate pools
           (rgb_candidates.py --scores).

Two threads, deterministic for a seed on the CPU; `train` takes about 30 minutes here.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import time
from pathlib import Path

import numpy as np

TUNED_LAYERS = (4, 5)
"""As the question encoder: the top two of six layers, a 7 MB file if it ever shipped."""
GROUP = 8
"""Candidates per training question: the answering one and seven wrong ones."""
OTHER_ARTICLE_SENTENCES = 10
"""The last candidates of a synthetic question are other articles' (synthetic_questions.py)."""
OTHER_NEGATIVES = 2
"""Of a synthetic question's wrong candidates, this many from other articles, the rest from
its own article (the hard ones: same story, wrong sentence)."""
MAX_TOKENS = 96
"""Question and sentence together; the sentence is cut to fit."""
HEAD_LR = 1e-3
TUNE_HEAD_LR = 1e-4
K_GRID = (2, 3, 5)
W_GRID = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 1000.0)
"""Reader weights against the answering scores (their spread within a question is about 8);
1000 is the reader alone among the top K."""


def load_reader(path: Path | None):
    """(model, tokenizer, head): the bundled MiniLM with the reader's layers and head, or fresh."""
    import torch
    from question_encoder import base_model

    model = base_model()
    bert, tokenizer = model[0].auto_model, model.tokenizer
    head = torch.nn.Linear(bert.config.hidden_size, 1)
    if path:
        saved = torch.load(path)
        state = bert.state_dict()
        state.update(saved["layers"])
        bert.load_state_dict(state)
        head.load_state_dict(saved["head"])
    return bert, tokenizer, head


def pair_scores(
    bert, tokenizer, head, questions: list[str], sentences: list[str], max_tokens: int = MAX_TOKENS
):
    """The reader's score of each (question, sentence) pair (a torch vector)."""
    import torch

    enc = tokenizer(
        questions,
        sentences,
        padding=True,
        truncation="only_second",
        max_length=max_tokens,
        return_tensors="pt",
    )
    # One segment type throughout, as the numpy encoder reads texts: nothing new to learn.
    enc["token_type_ids"] = torch.zeros_like(enc["input_ids"])
    hidden = bert(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    return head((hidden * mask).sum(1) / mask.sum(1)).squeeze(-1)


def trainable(bert) -> list:
    for p in bert.parameters():
        p.requires_grad = False
    tuned = [p for n in TUNED_LAYERS for p in bert.encoder.layer[n].parameters()]
    for p in tuned:
        p.requires_grad = True
    return tuned


def synthetic_groups(rows: list[dict], rng: np.random.Generator) -> list[tuple[str, list[str]]]:
    """(question, [answering sentence, wrong ones...]) per synthetic question with an answer."""
    groups = []
    for r in rows:
        texts, labels = list(r["texts"]), np.asarray(r["labels"])
        positives = np.flatnonzero(labels)
        if not len(positives):
            continue
        first_other = len(texts) - OTHER_ARTICLE_SENTENCES
        own = [i for i in range(first_other) if not labels[i]]
        other = [i for i in range(first_other, len(texts)) if not labels[i]]
        n_own = min(len(own), GROUP - 1 - OTHER_NEGATIVES)
        wrong = list(rng.choice(own, n_own, replace=False))
        wrong += list(rng.choice(other, GROUP - 1 - n_own, replace=False))
        answer = positives[int(rng.integers(len(positives)))]
        groups.append((r["question"], [texts[answer]] + [texts[i] for i in wrong]))
    return groups


def train(args) -> None:
    import torch

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    torch.set_num_threads(2)
    bert, tokenizer, head = load_reader(None)
    tuned = trainable(bert)
    groups = synthetic_groups(pickle.loads(args.synthetic.read_bytes())[: args.count], rng)
    steps = args.epochs * (len(groups) // args.batch)
    optimiser = torch.optim.AdamW(
        [{"params": tuned, "lr": args.lr}, {"params": head.parameters(), "lr": HEAD_LR}],
        weight_decay=0.01,
    )
    # Linear warm-up over the first tenth, then linear decay to 0.
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps)
    )
    bert.train()
    started, step = time.perf_counter(), 0
    for _ in range(args.epochs):
        order = list(range(len(groups)))
        random.shuffle(order)
        for b in range(0, len(order) - args.batch + 1, args.batch):
            questions, sentences = [], []
            for g in order[b : b + args.batch]:
                questions += [groups[g][0]] * len(groups[g][1])
                sentences += groups[g][1]
            logits = pair_scores(bert, tokenizer, head, questions, sentences).view(args.batch, -1)
            loss = torch.nn.functional.cross_entropy(
                logits, torch.zeros(args.batch, dtype=torch.long)
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            if step % 100 == 0:
                print(f"step {step}/{steps} loss {loss.item():.3f} "
                      f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    layers = {
        f"encoder.layer.{n}.{k}": v for n in TUNED_LAYERS
        for k, v in bert.encoder.layer[n].state_dict().items()
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"layers": layers, "head": head.state_dict(), "groups": len(groups)}, args.out)


def has_answer(row: dict) -> bool:
    return bool(row["answerable"] and row["scores"] is not None and row["labels"].any())


def tune(args) -> None:
    """Per fold of the --oof split: the reader tuned on the other folds' questions, scoring
    this fold's top RERANK_MAX candidates."""
    import torch

    torch.set_num_threads(2)
    bert, tokenizer, head0 = load_reader(args.reader)
    start = {k: v.clone() for k, v in bert.state_dict().items()}
    rows = pickle.loads(args.oof.read_bytes())
    out: dict[str, dict[int, float]] = {}
    for f in sorted({r["fold"] for r in rows}):
        torch.manual_seed(f)
        random.seed(f)
        bert.load_state_dict(start)
        head = torch.nn.Linear(head0.in_features, 1)
        head.load_state_dict(head0.state_dict())
        tuned = trainable(bert)
        groups = []
        for r in rows:
            if r["fold"] == f or not has_answer(r):
                continue
            wrong = [int(i) for i in np.argsort(-r["scores"]) if not r["labels"][i]][: GROUP - 1]
            for right in np.flatnonzero(r["labels"])[:2]:
                groups.append((r["question"], [r["texts"][right]] + [r["texts"][i] for i in wrong]))
        optimiser = torch.optim.AdamW(
            [{"params": tuned, "lr": args.lr}, {"params": head.parameters(), "lr": TUNE_HEAD_LR}],
            weight_decay=0.01,
        )
        bert.train()
        for _ in range(args.epochs):
            random.shuffle(groups)
            for question, sentences in groups:
                logits = pair_scores(bert, tokenizer, head, [question] * len(sentences), sentences)
                loss = torch.nn.functional.cross_entropy(
                    logits[None], torch.zeros(1, dtype=torch.long)
                )
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        bert.eval()
        with torch.no_grad():
            for r in rows:
                if r["fold"] == f and has_answer(r):
                    top = np.argsort(-r["scores"])[: max(K_GRID)]
                    scores = pair_scores(
                        bert,
                        tokenizer,
                        head,
                        [r["question"]] * len(top),
                        [r["texts"][i] for i in top],
                    )
                    out[r["id"]] = dict(zip(map(int, top), scores.tolist(), strict=True))
        print(f"fold {f}: {len(groups)} training groups", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(pickle.dumps(out))


def reranked_first(scores: np.ndarray, reader: dict[int, float], k: int, w: float) -> int:
    """The candidate put first: among the top k by `scores`, the best score + w * reader.

    >>> reranked_first(np.array([3.0, 2.0, 0.0]), {0: 0.0, 1: 2.0, 2: 9.0}, 2, 1.0)
    1
    >>> reranked_first(np.array([3.0, 2.0, 0.0]), {0: 0.0, 1: 2.0, 2: 9.0}, 2, 0.0)
    0
    """
    top = [int(i) for i in np.argsort(-scores, kind="stable")[:k]]
    return max(top, key=lambda i: scores[i] + w * reader[i])


def grid(items: list[tuple[np.ndarray, dict[int, float], np.ndarray]]) -> dict[str, float]:
    """Share of items whose first candidate is right, per "K=k w=w"; items are (scores,
    reader scores by candidate, which candidates are right)."""
    return {
        f"K={k} w={w:g}": round(
            float(np.mean([right[reranked_first(s, r, k, w)] for s, r, right in items])), 3
        )
        for k in K_GRID
        for w in W_GRID
    }


def measure(args) -> None:
    import torch

    torch.set_num_threads(2)
    bert, tokenizer, head = load_reader(args.reader)
    bert.eval()

    @torch.no_grad()
    def read(question: str, sentences: list[str]) -> dict[int, float]:
        scores = []
        for b in range(0, len(sentences), 32):
            part = sentences[b : b + 32]
            scores += pair_scores(bert, tokenizer, head, [question] * len(part), part).tolist()
        return dict(enumerate(scores))

    report: dict[str, object] = {"reader": args.reader.name}
    splits = [pickle.loads(p.read_bytes()) for p in args.oof]
    if splits:
        read_all = {
            r["id"]: read(r["question"], list(r["texts"])) for r in splits[0] if has_answer(r)
        }
        alone = [r["labels"][max(read_all[r["id"]], key=read_all[r["id"]].get)]
                 for r in splits[0] if has_answer(r)]  # fmt: skip
        per_split = [
            grid([(r["scores"], read_all[r["id"]], r["labels"]) for r in rows if has_answer(r)])
            for rows in splits
        ]
        report["dev"] = {
            "questions": len(read_all),
            "splits": [p.name for p in args.oof],
            "reader_alone_over_all_candidates": round(float(np.mean(alone)), 3),
            "first_is_right": {
                key: round(float(np.mean([g[key] for g in per_split])), 3) for key in per_split[0]
            },
        }
    if args.fold_scores:
        rows = pickle.loads(args.oof[0].read_bytes())
        tuned = pickle.loads(args.fold_scores.read_bytes())
        report["dev_fold_tuned"] = {
            "split": args.oof[0].name,
            "first_is_right": grid(
                [(r["scores"], tuned[r["id"]], r["labels"]) for r in rows if r["id"] in tuned]
            ),
        }
    for path in args.rgb:
        pools = pickle.loads(path.read_bytes())
        items = [(p["scores"], read(p["query"], list(p["texts"])), p["holds"]) for p in pools]
        report[f"rgb:{path.name}"] = {
            "questions": len(items),
            "reader_alone": round(float(np.mean([h[max(r, key=r.get)] for _, r, h in items])), 3),
            "first_is_right": grid(items),
        }
    text = json.dumps(report, indent=1) + "\n"
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    p = steps.add_parser("train", help="train the reader on synthetic questions")
    p.add_argument("--synthetic", type=Path, required=True, help="fit_answerer's synthetic cache")
    p.add_argument("--count", type=int, default=6000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=4, help="questions per step")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p = steps.add_parser("tune", help="tune it on one split's training folds, score held out")
    p.add_argument("--reader", type=Path, required=True)
    p.add_argument("--oof", type=Path, required=True, help="fit_answerer.py --oof-scores file")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--out", type=Path, required=True)
    p = steps.add_parser("measure", help="rerank with it, on dev splits and RGB pools")
    p.add_argument("--reader", type=Path, required=True)
    p.add_argument("--oof", type=Path, nargs="*", default=[], help="--oof-scores files")
    p.add_argument("--fold-scores", type=Path, help="what `tune` wrote for the first --oof")
    p.add_argument("--rgb", type=Path, nargs="*", default=[], help="rgb_candidates --scores")
    p.add_argument("--report", type=Path)
    args = parser.parse_args()
    {"train": train, "tune": tune, "measure": measure}[args.step](args)


if __name__ == "__main__":
    main()
