"""Snippet-shaped fitting rows: each question of the question files asked again over five short
passages, each a document of its own, the way `askdocs eval-rgb` asks RGB's questions over web
snippets (one sentence or two each, 27 words at the median in the RGB sample).

Why: every fitting question has its story in a whole news article, where the article-level
signals (`article_coverage`, `article_gap`, `lead`) find the story; over snippets they read how
much of the question a snippet repeats (README, "Where the sentence that answers ranks"). These
rows measure what a ranker fitted on that shape does (fit_answerer.py --snippets, with
--snippet-weight and --question-weight); none ships (README: measured, not kept).

Per answerable question: the answering passage is a sentence of a gold article that holds a
gold answer (one overlapping the gold evidence if there is one); the others are SAME_STORY
sentences of the gold article most like the question and, from the question's own retrieval
over the whole index, the sentence most like the question of each of the next best other
articles, NEGATIVES in all, leaving out sentences that hold a gold answer (RGB's negatives hold
none). Shuffled with a seed per question, indexed with `rgb.passages_index` (what eval-rgb
uses) and put through the product's own candidates and features; labelled as fit_answerer
labels its rows. Nothing of RGB itself is read.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

NEGATIVES = 4
"""Passages without the answer beside the answering one: eval-rgb's noise 0.8 with five
passages, the setting furthest from its target."""
SAME_STORY = 2
"""Of those, how many are the gold article's own sentences (most like the question, holding no
gold answer): RGB's negatives are on the question's own topic, with its names ("Coco Gauff
made her U.S. Open singles debut" for "Who won the women's singles U.S. Open in 2019?"), and
other articles of this corpus seldom are: on the seed-12 folds the ranker fitted on the
questions' own rows puts the answer first for 63% of the rows made with other articles'
sentences alone, for 45% with two of the story's own, near its 40% on RGB at noise 0.8."""
RETRIEVED = 20
"""Passages retrieved over the whole index to find the other articles' sentences: enough to
hold NEGATIVES articles besides the gold ones for every question of the dev sets."""


def positive_sentence(
    labels: Sequence[bool], in_gold: Sequence[bool], evidence: Sequence[Sequence[int]]
) -> int | None:
    """The candidate to stand as the answering passage: one of a gold article that holds a
    gold answer, the first overlapping gold evidence if any does; None when no candidate does.

    >>> positive_sentence([True, True, False], [False, True, True], [[], [], [0]])
    1
    >>> positive_sentence([True, True], [True, True], [[], [0]])
    1
    >>> positive_sentence([True], [False], [[]]) is None
    True
    """
    pairs = zip(labels, in_gold, strict=True)
    held = [i for i, (label, gold) in enumerate(pairs) if label and gold]
    with_evidence = [i for i in held if evidence[i]]
    return (with_evidence or held or [None])[0]


def negative_sentences(
    candidates: Sequence[tuple[str, str, float]], gold: set[str], count: int, same_story: int
) -> list[str]:
    """From (article id, sentence, cosine to the question) of the retrieved articles and the
    gold ones: the `same_story` sentences of gold articles most like the question, then each
    other article's sentence most like it, those articles best first, `count` in all (more of
    the gold articles' when too few other articles were retrieved).

    >>> found = [("a", "A1", 0.2), ("a", "A2", 0.5), ("b", "B1", 0.4), ("g", "G1", 0.9),
    ...          ("g", "G2", 0.3), ("g", "G3", 0.1), ("c", "C1", 0.1)]
    >>> negative_sentences(found, {"g"}, 3, 1)
    ['G1', 'A2', 'B1']
    >>> negative_sentences(found, {"g"}, 5, 2), negative_sentences(found[:4], {"g"}, 3, 0)
    (['G1', 'G2', 'A2', 'B1', 'C1'], ['A2', 'B1', 'G1'])
    """
    story = sorted((c for c in candidates if c[0] in gold), key=lambda c: -c[2])
    best: dict[str, tuple[str, float]] = {}
    for article, text, score in candidates:
        if article not in gold and (article not in best or score > best[article][1]):
            best[article] = (text, score)
    others = [text for text, _ in sorted(best.values(), key=lambda pair: -pair[1])]
    own = [text for _, text, _ in story]
    chosen = own[:same_story] + others[: count - min(same_story, len(own))]
    return chosen + own[same_story : same_story + count - len(chosen)]


def shuffled(texts: list[str], key: str, seed: int) -> list[str]:
    """The passages in an order fixed by the question and the seed (eval-rgb shuffles too: the
    answering passage must not always come first).

    >>> shuffled(["a", "b", "c"], "q1", 0) == shuffled(["a", "b", "c"], "q1", 0)
    True
    """
    out = list(texts)
    random.Random(f"{seed}-{key}").shuffle(out)
    return out


def collect_snippets(
    assistant, rows: list[dict], corpus: Path, questions: dict, weights: Path, seed: int = 0
) -> list[dict]:
    """One snippet row per answerable row with an answering candidate: fit_answerer's row keys,
    plus "snippet" (True) and "base" (the id of the row it comes from).

    `assistant` answers over the whole index (retrieval only); `questions` maps a row id to its
    evaluation.Question; `weights` is the neutral weights file the rows are collected with."""
    from askdocs.chunking import candidate_sentences
    from askdocs.evaluation import answer_contains
    from askdocs.rgb import passages_index

    pipeline = assistant.pipeline
    out = []
    with tempfile.TemporaryDirectory(prefix="askdocs-snippets-") as work:
        for number, row in enumerate(rows, 1):
            if not row["answerable"] or not row["answers"]:
                continue
            chosen = positive_sentence(row["labels"], row["in_gold_article"], row["evidence"])
            if chosen is None:
                continue
            q = questions[row["id"]]
            retrieved = pipeline.retrieve(q.question, RETRIEVED)
            gold_sources = {str((corpus / d).resolve()) for d in q.docs}
            gold_ids = {a for a, art in retrieved.articles.items() if art.source in gold_sources}
            # Every sentence of the gold articles, and those of the other articles' passages.
            spans = [(retrieved.articles[a], 0, None) for a in sorted(gold_ids)]
            spans += [
                (retrieved.articles[p.chunk.article_id], p.chunk.start, p.chunk.end)
                for p in retrieved.passages
                if p.chunk.article_id not in gold_ids
            ]
            sentences = []
            for article, start, end in spans:
                for a, b in candidate_sentences(article.text, start, end):
                    text = article.text[a:b]
                    if not answer_contains(text, row["answers"]):
                        sentences.append((article.id, text))
            if not sentences:
                continue
            vectors = np.asarray(assistant.answerer.sentence_vectors([t for _, t in sentences]))
            query = np.asarray(assistant.embedder.embed_query(q.question), dtype=np.float32)
            cosines = vectors @ query
            others = negative_sentences(
                [(a, t, float(c)) for (a, t), c in zip(sentences, cosines, strict=True)],
                gold_ids,
                NEGATIVES,
                SAME_STORY,
            )
            texts = shuffled([row["texts"][chosen], *others], row["id"], seed)
            # (each passage is held whole by its one chunk, so all five are candidates:
            # candidates.ranked_articles)
            mini = passages_index(
                Path(work), number, texts, assistant.embedder, answer_weights=str(weights)
            )
            analysis, pool, matrix = mini.answerer.features(
                q.question, mini.pipeline.retrieve(q.question, len(texts))
            )
            candidates = [c.text for c in pool.candidates]
            out.append(
                {
                    **{key: row[key] for key in ("file", "type", "question", "answers")},
                    "id": f"{row['id']}~snippets",
                    "base": row["id"],
                    "snippet": True,
                    "answerable": True,
                    "features": matrix,
                    "labels": np.asarray([answer_contains(t, row["answers"]) for t in candidates]),
                    "texts": candidates,
                    "kind": analysis.kind,
                    "analysis": analysis,
                    "in_gold_article": [t in row["texts"][chosen] for t in candidates],
                    "article_scores": pool.article_scores,
                    "evidence": [[] for _ in candidates],
                    "evidence_count": 0,
                    "common": pool.common_words,
                    "vectors": pool.vectors.astype(np.float16),
                }
            )
    return out
