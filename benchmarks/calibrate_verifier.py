"""Calibrate and measure the citation verifier on labelled (claim, sentence) pairs.

Pairs are built from a question file with gold evidence (default ../shared/data/qa/dev.jsonl)
and an index of its corpus:
- supported: the question's gold answer as the claim, against its gold evidence sentence;
- unsupported: the same claim against the other sentences of the retrieved passages that do
  not hold the evidence (distractors), and another question's answer of the same type against
  this question's evidence sentence (a wrong claim next to the right sentence).
For every threshold the verifier's precision and recall on "supported" are computed; the chosen
threshold is the one with the best F1 (ties: the higher threshold).

    python benchmarks/calibrate_verifier.py --index INDEX_OF_THE_CORPUS
"""

from __future__ import annotations

import argparse
import json
import zlib
from pathlib import Path

import numpy as np

from askdocs.api import Assistant
from askdocs.chunking import sentence_spans
from askdocs.citations import CitationVerifier
from askdocs.evaluation import load_questions

HERE = Path(__file__).parent
SHARED = HERE.parent.parent / "shared" / "data"


def build_pairs(assistant: Assistant, questions_file: Path) -> list[tuple[str, str, str, bool]]:
    questions = [q for q in load_questions(questions_file) if q.answerable and q.evidence]
    by_type: dict[str, list] = {}
    for q in questions:
        by_type.setdefault(q.type, []).append(q)
    pairs = []
    for q in questions:
        claim = q.answers[0]
        evidence = q.evidence[0]
        pairs.append((q.question, claim, evidence, True))
        answer = assistant.ask(q.question)
        articles = assistant.store.get_articles(p.chunk.article_id for p in answer.passages)
        for passage in answer.passages:
            text = articles[passage.chunk.article_id].text
            for start, end in sentence_spans(text, passage.chunk.start, passage.chunk.end):
                sentence = text[start:end]
                if sentence not in evidence and evidence not in sentence:
                    pairs.append((q.question, claim, sentence, False))
        others = [o for o in by_type[q.type] if o.id != q.id]
        if others:
            # zlib.crc32, not hash(): str hashes change with every process (PYTHONHASHSEED),
            # and the calibration must come out the same on every run.
            wrong = others[zlib.crc32(q.id.encode()) % len(others)].answers[0]
            pairs.append((q.question, wrong, evidence, False))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, type=Path, help="Index of the question corpus.")
    parser.add_argument("--questions", type=Path, default=SHARED / "qa" / "dev.jsonl")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "verifier.json")
    args = parser.parse_args()

    assistant = Assistant(index_dir=args.index)
    verifier = CitationVerifier(assistant.embedder, threshold=0.0)
    pairs = build_pairs(assistant, args.questions)
    scores, labels = [], []
    for question, claim, sentence, supported in pairs:
        query = np.asarray(assistant.embedder.embed_query(f"{question} {claim}"))
        similarity = float(np.asarray(assistant.embedder.embed_documents([sentence]))[0] @ query)
        agrees = verifier.agrees(question, claim, sentence)
        scores.append(similarity if agrees else -1.0)
        labels.append(supported)
    scores_a, labels_a = np.asarray(scores), np.asarray(labels)
    curve = []
    for threshold in np.round(np.arange(0.2, 0.86, 0.025), 3):
        predicted = scores_a >= threshold
        tp = int((predicted & labels_a).sum())
        precision = tp / max(1, int(predicted.sum()))
        recall = tp / max(1, int(labels_a.sum()))
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        curve.append({"threshold": float(threshold), "precision": round(precision, 4),
                      "recall": round(recall, 4), "f1": round(f1, 4)})  # fmt: skip
    chosen = max(curve, key=lambda c: (c["f1"], c["threshold"]))
    result = {
        "questions_file": str(args.questions),
        "pairs": len(pairs),
        "supported_pairs": int(labels_a.sum()),
        "unsupported_pairs": int((~labels_a).sum()),
        "chosen": chosen,
        "curve": curve,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=2))


if __name__ == "__main__":
    main()
