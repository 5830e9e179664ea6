"""Comparison questions: "Which was bigger in 2004: the US trade deficit or the federal budget
deficit?", "Who was older when he died: Dan O'Herlihy or Cyril Fletcher?".

Such a question names its two possible answers, and what decides between them is a fact about
each, usually in two sentences (often two stories). One best sentence states one side only, so
the answer quotes the best sentence about each option and leaves the comparison to the reader
(no short answer: an extractive answerer does not weigh two figures against each other).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from askdocs.index.keywords import STOPWORDS, TOKEN, stem


def option_terms(text: str) -> frozenset[str]:
    """Stems of the words that tell an option: its words other than stop words, and every
    capitalised one ("US" is a stop word only in lower case).

    >>> sorted(option_terms("at its US launch"))
    ['launch', 'us']
    """
    return frozenset(
        stem(word.lower().strip(".,'’-"))
        for word in TOKEN.findall(text)
        if word[0].isupper() or word.lower() not in STOPWORDS
    )


def picks(options: Sequence[str], texts: Sequence[str], scores: np.ndarray) -> list[int] | None:
    """For a comparison question (its two `options`, QuestionAnalysis.options), the best-scored
    candidate about each option (by the words that option has and the other lacks), best first;
    one candidate when it holds both; None for another question, or when the candidates do not
    speak of both.

    >>> options = ("the trade deficit", "the budget deficit")
    >>> texts = ["The budget deficit was $412bn.", "Exports rose.", "The trade deficit hit $617bn."]
    >>> picks(options, texts, np.array([0.2, 0.9, 0.1]))
    [0, 2]
    >>> picks((), texts, np.array([0.2, 0.9, 0.1])) is None
    True
    """
    if len(options) != 2:
        return None
    a, b = (option_terms(option) for option in options)
    sides = [a - b, b - a]
    if not all(sides):
        return None
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    terms = [option_terms(texts[i]) for i in order]
    best = []
    for side in sides:
        about = [i for i, held in zip(order, terms, strict=True) if held & side]
        if not about:
            return None
        best.append(about[0])
    return sorted(set(best), key=lambda i: -scores[i])
