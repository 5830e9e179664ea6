"""Score answers, citations, retrieval and abstention on question sets (see README: Evaluation)."""

from __future__ import annotations

import json
import re
import statistics
import string
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from askdocs.citations import strip_markers
from askdocs.types import BELOW_THRESHOLD, Answer

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER_COMMAS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation + "“”‘’–—"})
_PER_CENT = re.compile(r"\s*(per cent|percent)\b")


class QuestionFileError(ValueError):
    """A question file line that cannot be used; the message names the line."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: list[str]
    docs: list[str]
    evidence: list[str]
    type: str

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_questions(path: Path, corpus: Path | None = None) -> list[Question]:
    """Read a question file (one JSON object a line), naming the line of any problem."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionFileError(f"{where}: invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise QuestionFileError(f"{where}: expected a JSON object")
        missing = [k for k in ("id", "question", "answers") if k not in record]
        if missing:
            raise QuestionFileError(f"{where}: missing field(s) {', '.join(missing)}")
        doc = record.get("doc")
        docs = [] if doc is None else [doc] if isinstance(doc, str) else list(doc)
        if corpus is not None:
            absent = [d for d in docs if not (corpus / d).is_file()]
            if absent:
                raise QuestionFileError(f"{where}: doc not found in corpus: {', '.join(absent)}")
        questions.append(
            Question(
                id=str(record["id"]),
                question=str(record["question"]),
                answers=[str(a) for a in record["answers"]],
                docs=docs,
                evidence=[str(e) for e in record.get("evidence") or []],
                type=str(record.get("type") or ("unanswerable" if not record["answers"] else "")),
            )
        )
    return questions


def normalize(text: str) -> str:
    """Lower-case; drop punctuation, articles and thousands separators; fold 'per cent' to %."""
    text = _NUMBER_COMMAS.sub("", text.lower())
    text = _PER_CENT.sub("%", text).replace("%", " percent ")
    text = text.translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_contains(answer: str, golds: Iterable[str]) -> bool:
    normalized = f" {normalize(answer)} "
    return any(f" {normalize(g)} " in normalized for g in golds if normalize(g))


def token_f1(answer: str, golds: Iterable[str]) -> float:
    predicted = normalize(answer).split()
    best = 0.0
    for gold in golds:
        expected = normalize(gold).split()
        common = sum(min(predicted.count(t), expected.count(t)) for t in set(expected))
        if common:
            precision, recall = common / len(predicted), common / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


@dataclass
class QuestionScore:
    id: str
    type: str
    question: str
    answerable: bool
    answer: str
    abstained: bool
    doc_recall: float
    evidence_recall: float
    reciprocal_rank: float
    answer_contains: bool
    token_f1: float
    citation_precision: float | None
    citation_recall: float | None
    quote_violations: int
    latency: float
    confidence: float | None = None
    abstain_reason: str = ""
    short_answer: str | None = None
    short_answer_contains: bool | None = None
    answer_words: int = 0
    gold: list[str] = field(default_factory=list)
    retrieved: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)


def score_answer(
    question: Question,
    answer: Answer,
    corpus: Path,
    article_texts: Callable[[str], str | None],
    latency: float = 0.0,
) -> QuestionScore:
    """Every metric of one question; `article_texts(source)` gives the indexed article text."""
    gold_sources = {str((corpus / d).resolve()) for d in question.docs}
    retrieved = [p.source for p in answer.passages]
    gold_spans = evidence_spans(question, corpus)
    found_docs = gold_sources & set(retrieved)
    first_gold = next((i for i, s in enumerate(retrieved, 1) if s in gold_sources), None)
    evidence_hits = sum(
        any(
            p.source == source and p.chunk.start <= start and end <= p.chunk.end
            for p in answer.passages
        )
        for source, start, end in gold_spans
    )
    precision = recall = None
    if question.answerable and answer.citations:
        supported = [
            any(
                c.source == source and overlaps(c.start, c.end, start, end)
                for source, start, end in gold_spans
            )
            if gold_spans
            else c.source in gold_sources
            for c in answer.citations
        ]
        precision = sum(supported) / len(supported)
    if question.answerable and gold_spans:
        covered = sum(
            any(c.source == s and overlaps(c.start, c.end, a, b) for c in answer.citations)
            for s, a, b in gold_spans
        )
        recall = covered / len(gold_spans)
    violations = sum(
        1
        for c in answer.citations
        if (text := article_texts(c.source)) is None or text[c.start : c.end] != c.quote
    )
    return QuestionScore(
        id=question.id,
        type=question.type,
        question=question.question,
        answerable=question.answerable,
        answer=answer.text,
        abstained=answer.abstained,
        doc_recall=len(found_docs) / len(gold_sources) if gold_sources else 0.0,
        evidence_recall=evidence_hits / len(gold_spans) if gold_spans else 0.0,
        reciprocal_rank=1.0 / first_gold if first_gold else 0.0,
        answer_contains=question.answerable and answer_contains(answer.text, question.answers),
        token_f1=token_f1(answer.text, question.answers) if question.answerable else 0.0,
        citation_precision=precision,
        citation_recall=recall,
        quote_violations=violations,
        latency=latency,
        confidence=answer.confidence,
        abstain_reason=answer.abstain_reason,
        short_answer=answer.short_answer,
        short_answer_contains=(
            answer_contains(answer.short_answer, question.answers)
            if answer.short_answer and question.answerable
            else None
        ),
        answer_words=0 if answer.abstained else len(strip_markers(answer.text).split()),
        gold=question.answers,
        retrieved=[
            {
                "title": p.title,
                "source": p.source,
                "score": round(p.score, 4),
                "start": p.chunk.start,
                "end": p.chunk.end,
            }
            for p in answer.passages
        ],
        citations=[c.to_json() for c in answer.citations],
        claims=[asdict(c) for c in answer.claims],
    )


def evidence_spans(question: Question, corpus: Path) -> list[tuple[str, int, int]]:
    """Where each gold evidence string lies in its article (it must lie in one of the docs)."""
    spans = []
    for evidence in question.evidence:
        for doc in question.docs:
            path = corpus / doc
            text = _read_article(path)
            start = text.find(evidence)
            if start >= 0:
                spans.append((str(path.resolve()), start, start + len(evidence)))
                break
    return spans


def _read_article(path: Path) -> str:
    from askdocs.loaders import load_file

    loaded = load_file(path, max_bytes=1 << 30)
    return loaded.articles[0].text if loaded.articles else ""


def aggregate(scores: list[QuestionScore]) -> dict[str, Any]:
    """Averages over answerable questions, abstention rates, and latency percentiles."""
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]

    def mean(values: list[float]) -> float | None:
        return round(statistics.fmean(values), 4) if values else None

    latencies = sorted(s.latency for s in scores)
    return {
        "questions": len(scores),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "doc_recall@k": mean([s.doc_recall for s in answerable]),
        "evidence_recall@k": mean([s.evidence_recall for s in answerable]),
        "mrr": mean([s.reciprocal_rank for s in answerable]),
        "answer_contains": mean([float(s.answer_contains) for s in answerable]),
        "token_f1": mean([s.token_f1 for s in answerable]),
        "citation_precision": mean(
            [s.citation_precision for s in answerable if s.citation_precision is not None]
        ),
        "citation_recall": mean(
            [s.citation_recall for s in answerable if s.citation_recall is not None]
        ),
        "quote_violations": sum(s.quote_violations for s in scores),
        "verified_claims": mean(
            [float(c["verified"]) for s in scores if not s.abstained for c in s.claims]
        ),
        "short_answer_given": mean(
            [float(s.short_answer is not None) for s in answerable if not s.abstained]
        ),
        "short_answer_contains": mean(
            [
                float(s.short_answer_contains)
                for s in answerable
                if s.short_answer_contains is not None
            ]
        ),
        "answer_words_median": (
            statistics.median(words)
            if (words := [s.answer_words for s in scores if s.answer_words])
            else None
        ),
        "abstained_unanswerable": mean([float(s.abstained) for s in unanswerable]),
        "abstained_answerable": mean([float(s.abstained) for s in answerable]),
        "latency_p50": round(_percentile(latencies, 50), 4) if latencies else None,
        "latency_p95": round(_percentile(latencies, 95), 4) if latencies else None,
    }


def abstention_curve(
    scores: list[QuestionScore], thresholds: Iterable[float] | None = None
) -> list[dict[str, float]]:
    """Abstain rate on unanswerable vs false-abstain rate on answerable questions, per threshold.

    Confidence is the fitted probability that the best sentence answers. Questions that abstain
    whatever the threshold (nothing retrieved) count as abstaining at every point; the others
    abstain when their confidence is below the threshold.
    """
    if thresholds is None:
        thresholds = [round(0.05 * i, 2) for i in range(21)]
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]

    def abstains(score: QuestionScore, threshold: float) -> bool:
        typed = score.abstained and score.abstain_reason != BELOW_THRESHOLD
        if score.confidence is None or typed:
            return score.abstained
        return score.confidence < threshold

    def rate(group: list[QuestionScore], threshold: float) -> float:
        return round(sum(abstains(s, threshold) for s in group) / len(group), 4) if group else 0.0

    return [
        {
            "threshold": t,
            "abstained_unanswerable": rate(unanswerable, t),
            "abstained_answerable": rate(answerable, t),
        }
        for t in thresholds
    ]


def by_type(scores: list[QuestionScore]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[QuestionScore]] = defaultdict(list)
    for s in scores:
        groups[s.type].append(s)
    return {t: aggregate(g) for t, g in sorted(groups.items())}


def _percentile(sorted_values: list[float], pct: float) -> float:
    index = (len(sorted_values) - 1) * pct / 100
    low, high = int(index), min(int(index) + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (index - low)


def evaluate(
    assistant: Any,
    questions: list[Question],
    corpus: Path,
    k: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[QuestionScore], dict[str, Any]]:
    """Ask every question against an index of `corpus` and score the answers."""
    ids_by_source = {a.source: a.id for a in assistant.store.indexed_articles().values()}

    def article_text(source: str) -> str | None:
        article_id = ids_by_source.get(source)
        article = assistant.store.get_articles([article_id]).get(article_id) if article_id else None
        return article.text if article else None

    # Load the model before the clock starts: per-question latency is the steady state; the
    # one-off model load is reported on its own.
    started = time.perf_counter()
    assistant.embedder.embed_query("warm-up")
    warmup = time.perf_counter() - started
    scores = []
    for done, question in enumerate(questions, 1):
        started = time.perf_counter()
        answer = assistant.ask(question.question, k=k)
        latency = time.perf_counter() - started
        scores.append(score_answer(question, answer, corpus, article_text, latency))
        if on_progress:
            on_progress(done, len(questions))
    return scores, {**aggregate(scores), "model_load_seconds": round(warmup, 3)}


def peak_memory_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("askdocs", "chromadb", "langchain-core", "sentence-transformers", "torch"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def run_evaluation(
    questions_file: Path,
    corpus: Path,
    out: Path,
    k: int | None = None,
    limit: int | None = None,
    types: Iterable[str] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Index `corpus` under `out/index` (reused when unchanged), ask, score, write the outputs."""
    from askdocs.api import Assistant
    from askdocs.reports import write_outputs

    questions = load_questions(questions_file, corpus)
    wanted = set(types or [])
    questions = [q for q in questions if not wanted or q.type in wanted][:limit]
    if not questions:
        raise QuestionFileError(f"{questions_file}: no questions to ask (check --types/--limit)")
    out.mkdir(parents=True, exist_ok=True)
    assistant = Assistant(index_dir=out / "index", **settings)
    started = time.perf_counter()
    report = assistant.ingest(
        [corpus], progress=(lambda d, t, _: on_progress("index", d, t)) if on_progress else None
    )
    _drop_articles_outside(assistant, corpus)
    index_seconds = time.perf_counter() - started
    started = time.perf_counter()
    scores, totals = evaluate(
        assistant, questions, corpus, k=k,
        on_progress=(lambda d, t: on_progress("ask", d, t)) if on_progress else None,
    )  # fmt: skip
    threshold = assistant.answerer.combiner.abstain_threshold
    curve_points = sorted({round(0.05 * i, 2) for i in range(21)} | {round(threshold, 4)})
    results = {
        "questions_file": str(questions_file),
        "corpus": str(corpus),
        "settings": assistant.settings.model_dump(mode="json"),
        "settings_hash": assistant.settings.settings_hash(),
        "abstain_threshold": threshold,
        "k": k or assistant.settings.k,
        "versions": versions(),
        "timings": {
            "index_seconds": round(index_seconds, 2),
            "texts_embedded": report.texts_embedded,
            "ask_seconds": round(time.perf_counter() - started, 2),
            "peak_memory_mb": round(peak_memory_mb(), 1),
        },
        "aggregate": totals,
        "by_type": by_type(scores),
        "abstention_curve": abstention_curve(scores, curve_points),
        "rows": [asdict(s) for s in scores],
    }
    write_outputs(results, out)
    return results


def _drop_articles_outside(assistant: Any, corpus: Path) -> None:
    """A reused index must hold this corpus and nothing else. Deleting holds the writer lock,
    like every other write to the index."""
    root = corpus.resolve()
    with assistant.writing() as store:
        for record in store.indexed_articles().values():
            if root not in Path(record.source.split("#", 1)[0]).parents:
                store.delete_article(record.id)
