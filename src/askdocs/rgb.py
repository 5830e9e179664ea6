"""The RGB benchmark protocol (Chen et al., AAAI 2024) run against askdocs.

For every question a small index is built from N passages: `positive` (or, counterfactual,
`positive_wrong`) passages mixed with `negative` ones at the given noise ratio; the question is
asked and the answer checked for the gold answer. Rejection: only negative passages, where the
right behaviour is to abstain.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from askdocs.evaluation import QuestionFileError, answer_contains, versions
from askdocs.types import Answer

if TYPE_CHECKING:
    from askdocs.api import Assistant

# Words a system would use to flag conflicting or doubtful evidence. The extractive answerer
# never says them, which the report shows as a 0% flag rate rather than hiding the metric.
_DOUBT_WORDS = ("conflict", "contradict", "inconsistent", "incorrect", "doubt", "disagree")


@dataclass
class RgbRow:
    id: str
    query: str
    answer: str
    abstained: bool
    correct: bool
    repeats_fake: bool
    flags_conflict: bool
    positives: int
    negatives: int
    latency: float
    # The answerer's fitted probability that its best sentence answers (None when it refused
    # before scoring): how far apart right answers and answers to negatives-only sets lie.
    confidence: float | None = None
    # What the reader meets first, the short answer and the first quote, holds the answer:
    # `correct` also counts an answer that a later quote holds.
    first_correct: bool = False
    quotes: int = 0


def load_rgb(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionFileError(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
        missing = [k for k in ("query", "answer", "positive", "negative") if k not in row]
        if missing:
            raise QuestionFileError(f"{path}:{number}: missing field(s) {', '.join(missing)}")
        rows.append(row)
    return rows


def answer_groups(answer: Any) -> list[list[str]]:
    """RGB answers: a string, a list of alternatives, or a list of lists (all groups needed)."""
    if isinstance(answer, str):
        return [[answer]]
    if answer and all(isinstance(a, list) for a in answer):
        return [[str(x) for x in group] for group in answer]
    return [[str(a) for a in answer]]


def is_correct(text: str, answer: Any) -> bool:
    return all(answer_contains(text, group) for group in answer_groups(answer))


def first_read(answer: Answer) -> str:
    """The short answer and the first quote of an answer: what a reader meets first. RGB's
    judge reads the whole answer, so an answer quoting three snippets is right when any of
    them holds the answer; this is the stricter reading.

    >>> from askdocs.types import Citation
    >>> cite = lambda k, q: Citation(k, "a", "", "", 0, len(q), q, "c")
    >>> a = Answer("q?", "", False, [cite(2, "B won."), cite(1, "A won.")], [], "q?", "h",
    ...            short_answer="A")
    >>> first_read(a)
    'A A won.'
    """
    first = min(answer.citations, key=lambda c: c.key).quote if answer.citations else ""
    return f"{answer.short_answer or ''} {first}".strip()


def pick_passages(
    row: dict[str, Any], passages: int, noise_ratio: float, counterfactual: bool,
    rejection: bool, seed: int,
) -> tuple[list[str], int, int]:  # fmt: skip
    """The passages for one question: (shuffled texts, positives used, negatives used)."""
    rng = random.Random(f"{seed}-{row.get('id', row['query'])}")
    positives = list(row["positive_wrong"] if counterfactual else row["positive"])
    negatives = list(row["negative"])
    wanted_negatives = passages if rejection else round(passages * noise_ratio)
    chosen_negatives = rng.sample(negatives, min(wanted_negatives, len(negatives)))
    chosen_positives = (
        []
        if rejection
        else rng.sample(positives, min(passages - len(chosen_negatives), len(positives)))
    )
    texts = chosen_positives + chosen_negatives
    rng.shuffle(texts)
    return texts, len(chosen_positives), len(chosen_negatives)


def passages_index(
    work: Path, number: int, texts: list[str], embedder: Any = None, **settings: Any
) -> Assistant:
    """An Assistant over a collection of its own in `work`, holding one question's passages,
    each a document of its own (as RGB's are: snippets of separate web pages)."""
    from askdocs.api import Assistant

    corpus = work / f"q{number}"
    corpus.mkdir()
    (corpus / "passages.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    assistant = Assistant(
        index_dir=work / "index", collection=f"rgb-{number}", embedder=embedder, **settings
    )
    assistant.ingest([corpus])
    return assistant


def run_rgb(
    path: Path,
    out: Path | None = None,
    passages: int = 5,
    noise_ratio: float = 0.0,
    counterfactual: bool = False,
    rejection: bool = False,
    limit: int | None = None,
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    if not 0 <= noise_ratio <= 1:
        raise ValueError(f"noise ratio must be between 0 and 1, got {noise_ratio}")
    if counterfactual and rejection:
        raise ValueError("choose --counterfactual or --rejection, not both")
    rows = load_rgb(path)[:limit]
    if counterfactual and any("positive_wrong" not in r for r in rows):
        raise QuestionFileError(f"{path}: --counterfactual needs positive_wrong passages")
    results: list[RgbRow] = []
    embedder = None
    with tempfile.TemporaryDirectory(prefix="askdocs-rgb-") as work:
        for done, row in enumerate(rows, 1):
            texts, n_pos, n_neg = pick_passages(
                row, passages, noise_ratio, counterfactual, rejection, seed
            )
            assistant = passages_index(Path(work), done, texts, embedder, **settings)
            embedder = assistant.embedder  # load the model once for all questions
            started = time.perf_counter()
            answer = assistant.ask(row["query"], k=max(1, len(texts)))
            latency = time.perf_counter() - started
            fake = row.get("fakeanswer")
            results.append(
                RgbRow(
                    id=str(row.get("id", done)),
                    query=row["query"],
                    answer=answer.text,
                    abstained=answer.abstained,
                    correct=is_correct(answer.text, row["answer"]) and not answer.abstained,
                    repeats_fake=bool(fake) and is_correct(answer.text, fake),
                    flags_conflict=any(w in answer.text.lower() for w in _DOUBT_WORDS),
                    positives=n_pos,
                    negatives=n_neg,
                    latency=latency,
                    confidence=answer.confidence,
                    first_correct=is_correct(first_read(answer), row["answer"])
                    and not answer.abstained,
                    quotes=0 if answer.abstained else len(answer.citations),
                )
            )
            if on_progress:
                on_progress(done, len(rows))
    n = len(results) or 1
    summary = {
        "questions": len(results),
        "passages": passages,
        "noise_ratio": None if rejection else noise_ratio,
        "mode": "rejection" if rejection else "counterfactual" if counterfactual else "noise",
        "accuracy": round(sum(r.correct for r in results) / n, 4),
        "first_quote_accuracy": round(sum(r.first_correct for r in results) / n, 4),
        "quotes_per_answer": round(
            sum(r.quotes for r in results) / max(1, sum(not r.abstained for r in results)), 2
        ),
        "rejection_rate": round(sum(r.abstained for r in results) / n, 4),
        "repeats_fake_rate": round(sum(r.repeats_fake for r in results) / n, 4),
        "flags_conflict_rate": round(sum(r.flags_conflict for r in results) / n, 4),
        "short_of_negatives": sum(
            r.negatives < (passages if rejection else round(passages * noise_ratio))
            for r in results
        ),
    }
    report = {"file": str(path), "summary": summary, "versions": versions(),
              "rows": [asdict(r) for r in results]}  # fmt: skip
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        name = f"rgb-{summary['mode']}" + (
            f"-noise{noise_ratio:g}" if summary["mode"] == "noise" else ""
        )
        (out / f"{name}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report
