"""Sentence vectors in Chroma (with a Chroma server): one record per candidate sentence of each
chunk, in the `<collection>_sentences` collection, so every machine that reads the index has
them (a fresh machine answers with sentence-level evidence at once) and sentences can be
searched directly. An embedded index keeps them only in the file beside it (sentence_cache).

Record id `<chunk id>/<n>` (the chunk's n-th candidate sentence, chunking.candidate_sentences),
metadata {sentence_of: article id}: an article's sentences are written before its record (the commit
marker) and deleted with its chunks. A chunk whose vectors are missing or incomplete only costs
speed: answering embeds its sentences when asked about them.

(Measured on the 2,227-article corpus: packing float16 vectors into chunk metadata instead cost
three times the disk of these records, since Chroma indexes every metadata string, and made
questions slower, since every chunk read carried them.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

SEPARATOR = "/"
ARTICLE_KEY = "sentence_of"
"""The article a sentence record belongs to. Not `article_id`: Chroma keeps one metadata index
for all collections, and chunk lookups by `article_id` would wade through every sentence."""


def sentence_ids(chunk_id: str, count: int) -> list[str]:
    """The record ids of a chunk's `count` sentence vectors."""
    return [f"{chunk_id}{SEPARATOR}{n}" for n in range(count)]


def chunk_of(sentence_id: str) -> str:
    """The chunk id a sentence record belongs to."""
    return sentence_id.rsplit(SEPARATOR, 1)[0]


def records(
    article_id: str, chunk_ids: Sequence[str], matrices: Sequence[np.ndarray]
) -> Iterable[tuple[str, np.ndarray, dict[str, str]]]:
    """(id, vector, metadata) of every sentence vector of one article's chunks."""
    for chunk_id, matrix in zip(chunk_ids, matrices, strict=True):
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2:
            continue
        for record_id, vector in zip(sentence_ids(chunk_id, len(matrix)), matrix, strict=True):
            yield record_id, vector, {ARTICLE_KEY: article_id}


def assemble(wanted: Mapping[str, int], found: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per chunk, its sentence vectors in order, for chunks whose every one was found."""
    matrices = {}
    for chunk_id, count in wanted.items():
        rows = [found.get(record_id) for record_id in sentence_ids(chunk_id, count)]
        if count and all(row is not None for row in rows):
            matrices[chunk_id] = np.asarray(rows, dtype=np.float32)
    return matrices


def counts(record_ids: Iterable[str]) -> dict[str, int]:
    """How many sentence records each chunk has."""
    per_chunk: dict[str, int] = {}
    for record_id in record_ids:
        chunk_id = chunk_of(record_id)
        per_chunk[chunk_id] = per_chunk.get(chunk_id, 0) + 1
    return per_chunk
