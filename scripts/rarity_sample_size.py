"""How many passages a collection needs before word rarity says how specific a sentence is:
the measurement behind features.MIN_RARITY_PASSAGES.

The specificity feature reads each word's inverse document frequency from the keyword index
of whatever the user indexed. Its weight is fitted on an index of the whole corpus; in a small
collection (five RGB snippets, a dozen articles) the same words get other rarities. This
script draws random collections of N of the index's passages, computes every question's
candidates' specificity with idf from that sample only, and reports how closely they rank as
with idf from all passages (Spearman's rank correlation within each question's candidates,
averaged). Candidates and question terms come from the product's own code
(fit_answerer.collect), as the fit sees them.

    python scripts/rarity_sample_size.py --index IX --corpus ../shared/data/articles \\
        ../shared/data/qa/dev.jsonl ../shared/data/qa/dev2.jsonl

writes benchmarks/results/rarity-sample-size.json.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SIZES = (5, 10, 30, 100, 200, 300, 500, 1000, 2000, 5000)
"""Collection sizes (passages) tried."""
DRAWS = 2
"""Random collections drawn at each size."""
ARTICLES_PER_READ = 200
"""Articles whose chunks are read from the store at a time."""


def idf_over(passages: Sequence[frozenset[str]]) -> Callable[[str], float]:
    """BM25's idf over these passages' terms, by the keyword index's own formula.

    >>> idf = idf_over([frozenset({"a", "b"}), frozenset({"a"})])
    >>> round(idf("a"), 3), round(idf("b"), 3), round(idf("zzz"), 3)
    (0.182, 0.693, 1.792)
    """
    from askdocs.index.bm25_snapshot import _idf

    n = len(passages)
    df = Counter(t for p in passages for t in p)
    return lambda t: _idf(df[t], n)


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Rank correlation (average ranks for ties); None when either side is constant.

    >>> spearman(np.array([1.0, 2.0, 3.0]), np.array([10.0, 30.0, 20.0]))
    0.5
    """
    from scipy.stats import rankdata

    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def pool_specificity(row: dict, idf: Callable[[str], float]) -> np.ndarray:
    from askdocs.answer.features import specificity
    from askdocs.index.keywords import content_terms

    question = set(row["analysis"].terms)
    terms = [tuple(content_terms(t)) for t in row["texts"]]
    rarity = {t: idf(t) for t in question.union(*terms)}
    return np.array([specificity(question, ts, rarity) for ts in terms])


def index_passages(index: Path) -> list[frozenset[str]]:
    """Every passage (chunk) of the index as its set of content terms."""
    from askdocs.api import Assistant
    from askdocs.index.keywords import content_terms

    store = Assistant(index_dir=index).store
    articles = sorted(store.indexed_articles())
    chunks = [
        chunk
        for i in range(0, len(articles), ARTICLES_PER_READ)
        for chunk in store.article_chunks(articles[i : i + ARTICLES_PER_READ])
    ]
    return [frozenset(content_terms(c.text)) for c in chunks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="+", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, help="fit_answerer's row cache, when there is one")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/rarity-sample-size.json")
    )
    args = parser.parse_args()
    if args.cache and args.cache.exists():
        rows = pickle.loads(args.cache.read_bytes())
    else:
        from fit_answerer import collect

        rows = collect(args.index, args.corpus, args.questions)
    rows = [r for r in rows if len(r["texts"]) >= 3]
    passages = index_passages(args.index)
    whole = [pool_specificity(r, idf_over(passages)) for r in rows]
    rng = random.Random(args.seed)
    agreement = {}
    for size in (s for s in SIZES if s < len(passages)):
        found = []
        for _ in range(DRAWS):
            idf = idf_over(rng.sample(passages, size))
            for row, reference in zip(rows, whole, strict=True):
                r = spearman(pool_specificity(row, idf), reference)
                if r is not None:
                    found.append(r)
        agreement[size] = round(float(np.mean(found)), 3)
        print(f"{size:>6} passages: Spearman {agreement[size]}", flush=True)
    report = {
        "passages_in_index": len(passages),
        "questions": len(rows),
        "draws": DRAWS,
        "seed": args.seed,
        "mean_spearman_by_passages": agreement,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
