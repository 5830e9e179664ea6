"""Questions the corpus yields by itself, for pre-training the question encoder.

Used by fit_answerer.py (`--synthetic N`). From an article, a sentence after the lead and a
phrase in it (a name, a figure or a date), build a question the way readers write them: a
wh-word for the phrase's kind, the sentence's other words (some dropped, as a paraphrase
drops them), and a context clause taken from the article's lead ("…, after <lead words>?").
The label: the article's sentences that hold the phrase. What the encoder learns from them
is what the dev questions teach with only 180 examples: the context clause names the story,
the rest of the question picks the sentence, and the lead that restates the context is not
the answer.

No question file is read: the rows come from the articles alone, so pre-training on them
cannot leak a held-out question's label into cross-validation. Same seed, same rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from askdocs.answer.entities import dates, names, quantities
from askdocs.chunking import candidate_sentences
from askdocs.index.keywords import STOPWORDS

MIN_SENTENCES = 6
"""Articles shorter than this have too few wrong sentences to learn from."""
PER_ARTICLE = 3
"""At most this many questions from one article by default (--synthetic-per-article)."""
KEEP_WORD = 0.7
"""Chance that a content word of the sentence stays in the question (a paraphrase drops some)."""
CONTEXT_WORDS = (5, 10)
"""Length range of the context clause cut from the lead."""
MAX_HOLDING = 2
"""A phrase in more sentences than this (the story's subject) does not single one out."""
WINDOW_WORDS = 8
"""Words kept either side of the phrase: a question asks about what is said next to it."""
OTHER_ARTICLE_SENTENCES = 10
"""Sentences of other articles among the candidates, as retrieval brings other stories."""
_WORD = re.compile(r"[\w'’£$%.,-]+")
_QUOTE_MARKS = str.maketrans("", "", '"“”')


def article_sentences(path: Path) -> tuple[str, list[str]]:
    """(title, candidate sentences) of a plain-text article whose first line is its title."""
    text = path.read_text(encoding="utf-8", errors="replace")
    title = text.split("\n", 1)[0].strip()
    return title, [text[a:b] for a, b in candidate_sentences(text)][1:]


def _wh(kind: str, phrase: str) -> str:
    if kind == "date":
        return "When"
    if kind == "number":
        return "How much" if phrase[:1] in "£$€" else "How many"
    return "Who" if len(phrase.split()) >= 2 else "Which"


def _words(text: str, rng: np.random.Generator, keep: float) -> list[str]:
    out = []
    for word in _WORD.findall(text):
        word = word.strip(".,")
        if not word:
            continue
        if word.lower() in STOPWORDS or rng.random() < keep:
            out.append(word)
    return out


def make_question(sentence: str, lead: str, rng: np.random.Generator) -> tuple[str, str] | None:
    """(question, answer phrase) from one sentence and its article's lead, or None."""
    spans = [("number", s) for s in quantities(sentence)] + [("date", s) for s in dates(sentence)]
    spans += [("name", s) for s in names(sentence) if s.start > 0]
    if not spans:
        return None
    kind, span = spans[int(rng.integers(len(spans)))]
    before = sentence[: span.start].split()[-WINDOW_WORDS:]
    after = sentence[span.end :].split()[:WINDOW_WORDS]
    rest = _words(" ".join(before + after), rng, KEEP_WORD)
    rest = [w for w in rest if w.lower() not in {"said", "says", "told", "added"}]
    if len([w for w in rest if w.lower() not in STOPWORDS]) < 3:
        return None
    lead_words = lead.split()
    size = int(rng.integers(*CONTEXT_WORDS))
    start = int(rng.integers(max(1, len(lead_words) - size)))
    context = " ".join(lead_words[start : start + size]).strip(".,;:\"'“”")
    question = f"{_wh(kind, span.text)} {' '.join(rest).strip()}, after {context}?"
    return question, span.text


def synthetic_rows(
    folder: Path, count: int, seed: int, encode, per_article: int = PER_ARTICLE
) -> list[dict]:
    """Up to `count` rows in fit_answerer's layout ("question", "vectors", "labels",
    "answerable"), at most `per_article` from one article; `encode(texts)` gives the stored
    (normalised) sentence vectors."""
    rng = np.random.default_rng(seed)
    paths = sorted(p for p in folder.rglob("*.txt") if p.name.lower() != "readme.txt")
    paths = [paths[i] for i in rng.permutation(len(paths))]
    articles: list[list[str]] = []
    drafts: list[tuple[str, str, int]] = []
    for path in paths:
        if len(drafts) >= count:
            break
        _title, sentences = article_sentences(path)
        if len(sentences) < MIN_SENTENCES:
            continue
        made_here = 0
        for target in rng.permutation(np.arange(1, len(sentences))):
            if made_here >= per_article or len(drafts) >= count:
                break
            made = make_question(sentences[target].translate(_QUOTE_MARKS), sentences[0], rng)
            if made is None or sum(made[1] in s for s in sentences) > MAX_HOLDING:
                continue
            drafts.append((made[0], made[1], len(articles)))
            made_here += 1
        if made_here:
            articles.append(sentences)
    offsets = np.cumsum([0] + [len(a) for a in articles])
    pool = [s for sentences in articles for s in sentences]
    vectors = encode(pool)
    rows = []
    for question, phrase, article in drafts:
        own = np.arange(offsets[article], offsets[article + 1])
        others = rng.integers(0, len(pool), OTHER_ARTICLE_SENTENCES)
        picked = np.concatenate([own, others])
        texts = [pool[i] for i in picked]
        rows.append(
            {
                "question": question,
                "answer": phrase,
                "texts": texts,
                "vectors": vectors[picked].astype(np.float16),
                "labels": np.asarray([phrase in t for t in texts]),
                "answerable": True,
            }
        )
    return rows
