"""The keyword index's BM25 snapshot: every chunk's scores at one write generation, on disk,
and the view that scores the chunks written or removed since beside it.

* `Snapshot` is a bm25s index (BM25 "Lucene" variant) saved with its chunk ids, vocabulary
  and statistics, stamped with the generation of the keyword rows it was built from.
* `Columns` reads its score matrix a term column at a time from the files; `ChunkIds` holds
  the chunk ids as memory-mapped byte arrays (see each for the memory they save).
* `View` is a snapshot plus the changes since, scored as one collection.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class ChunkIds:
    """A snapshot's chunk ids in position order, as fixed-width UTF-8 bytes, with a sorted
    copy for lookups. At a million chunks a Python list and dict of them held about 170 MB on
    the heap of every process that answers; these arrays are about 80 MB on disk, memory-mapped,
    and a question touches only the pages of the ids it looks up."""

    def __init__(self, ids: np.ndarray, sorted_ids: np.ndarray, sorted_positions: np.ndarray):
        self.ids = ids
        self.sorted_ids = sorted_ids
        self.sorted_positions = sorted_positions

    @classmethod
    def of(cls, chunk_ids: Sequence[str]) -> ChunkIds:
        encoded = [_encoded(chunk_id) for chunk_id in chunk_ids]
        width = max(map(len, encoded), default=1)
        ids = np.array(encoded, dtype=f"S{width}")
        order = np.argsort(ids, kind="stable")
        return cls(ids, ids[order], order.astype(np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, position: int) -> str:
        return bytes(self.ids[position]).decode("utf-8", "surrogatepass")

    def positions(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """Each id's position, -1 for an id the snapshot does not hold."""
        found = np.full(len(chunk_ids), -1, dtype=np.int64)
        if not len(chunk_ids) or not len(self.ids):
            return found
        encoded = [_encoded(chunk_id) for chunk_id in chunk_ids]
        width = self.ids.dtype.itemsize
        # (an id longer than the widest stored one cannot be there, and would be cut short)
        fits = np.array([len(e) <= width and not e.endswith(b"\0") for e in encoded], dtype=bool)
        keys = np.array([e if ok else b"" for e, ok in zip(encoded, fits, strict=True)],
                        dtype=self.ids.dtype)  # fmt: skip
        at = np.minimum(np.searchsorted(self.sorted_ids, keys), len(self.ids) - 1)
        hit = fits & (self.sorted_ids[at] == keys)
        found[hit] = self.sorted_positions[at[hit]]
        return found

    def position(self, chunk_id: str) -> int | None:
        found = int(self.positions([chunk_id])[0])
        return found if found >= 0 else None

    def save(self, folder: Path) -> None:
        np.save(folder / "chunk_ids.npy", self.ids)
        np.save(folder / "chunk_ids_sorted.npy", self.sorted_ids)
        np.save(folder / "chunk_ids_order.npy", self.sorted_positions)

    @classmethod
    def load(cls, folder: Path) -> ChunkIds:
        def part(name: str) -> np.ndarray:
            return np.load(folder / name, mmap_mode="r", allow_pickle=False)

        return cls(part("chunk_ids.npy"), part("chunk_ids_sorted.npy"), part("chunk_ids_order.npy"))


class NpyFile:
    """Slices of a one-dimensional .npy array, read from the file when asked (pread: safe from
    any thread), so that only the slice is in the process's memory, and only while used."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"{path}: .npy version {version}")
            self.offset = f.tell()
        if len(shape) != 1 or fortran or dtype.hasobject:
            raise ValueError(f"{path} is not a plain one-dimensional array")
        self.dtype = dtype
        self.length = shape[0]
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.length

    def read(self, start: int, end: int) -> np.ndarray:
        size = self.dtype.itemsize
        raw = os.pread(self._fd, (end - start) * size, self.offset + start * size)
        return np.frombuffer(raw, dtype=self.dtype)

    def __del__(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.close(self._fd)


class Columns:
    """The snapshot's score matrix as bm25s saves it (sparse, column by column: one column per
    term, holding each chunk that has the term and its idf x term-frequency part).

    Loaded, the two big arrays are read a column at a time from their files, not memory-mapped:
    every page of a mapped file that a question touches stays in the answering process's
    resident memory, and over a benchmark's 95 questions that was 77% of both arrays at 100k
    chunks (2 x 255 MB at a million, more than the recipe's whole lead). The kernel's page
    cache keeps hot columns in memory either way, shared and reclaimable."""

    def __init__(self, data: np.ndarray | NpyFile, indices: np.ndarray | NpyFile,
                 indptr: np.ndarray) -> None:  # fmt: skip
        self.data = data
        self.indices = indices
        self.indptr = indptr

    @classmethod
    def of(cls, bm25: object) -> Columns:
        """Columns held in memory (a snapshot that could not be read back from disk)."""
        matrix = getattr(bm25, "scores", None) or {}
        return cls(
            np.asarray(matrix.get("data", np.zeros(0, np.float32))),
            np.asarray(matrix.get("indices", np.zeros(0, np.int32))),
            np.asarray(matrix.get("indptr", np.zeros(1, np.int64))),
        )

    @classmethod
    def load(cls, folder: Path) -> Columns:
        if not (folder / "indptr.csc.index.npy").is_file():  # no chunks: bm25s wrote nothing
            return cls(np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int64))
        indptr = np.load(folder / "indptr.csc.index.npy", allow_pickle=False)
        data = NpyFile(folder / "data.csc.index.npy")
        indices = NpyFile(folder / "indices.csc.index.npy")
        if len(data) != len(indices) or int(indptr[-1]) != len(data):
            raise ValueError("the snapshot's arrays do not agree")
        return cls(data, indices, indptr)

    def entries(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """One column's chunk positions and their entries."""
        return _slice(self.indices, start, end), _slice(self.data, start, end)

    def positions(self, start: int, end: int) -> np.ndarray:
        return _slice(self.indices, start, end)


def _slice(array: np.ndarray | NpyFile, start: int, end: int) -> np.ndarray:
    return array.read(start, end) if isinstance(array, NpyFile) else array[start:end]


class Snapshot:
    """A bm25s index of every chunk at one write generation (BM25 "Lucene" variant)."""

    FORMAT = "3"

    def __init__(
        self,
        generation: int,
        columns: Columns,
        chunk_ids: ChunkIds,
        vocabulary: dict[str, int],
        average_length: float,
        k1: float,
        b: float,
    ) -> None:
        self.generation = generation
        self.columns = columns
        self.chunk_ids = chunk_ids
        self.vocabulary = vocabulary
        self.average_length = average_length
        self.k1 = k1
        self.b = b

    def column(self, term: str) -> tuple[int, int] | None:
        position = self.vocabulary.get(term)
        indptr = self.columns.indptr
        if position is None or position + 1 >= len(indptr):
            return None
        return int(indptr[position]), int(indptr[position + 1])

    @classmethod
    def save(
        cls,
        folder: Path,
        generation: int,
        bm25: object,
        chunk_ids: ChunkIds,
        vocabulary: dict[str, int],
        average_length: float,
    ) -> None:
        # Written to a fresh folder and swapped in, so a crash never leaves half a snapshot;
        # the file lock keeps two processes (an ingest, a chat page's first search) from
        # writing the same staging folder.
        import fcntl

        with open(folder.with_name(folder.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            staging = folder.with_name(folder.name + ".new")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            if len(chunk_ids):
                bm25.save(str(staging), show_progress=False)  # type: ignore[attr-defined]
            chunk_ids.save(staging)
            (staging / "vocabulary.json").write_text(json.dumps(vocabulary))
            (staging / "stats.json").write_text(
                json.dumps(
                    {
                        "format": cls.FORMAT,
                        "average_length": average_length,
                        "k1": bm25.k1,  # type: ignore[attr-defined]
                        "b": bm25.b,  # type: ignore[attr-defined]
                    }
                )
            )
            (staging / "generation").write_text(str(generation))
            old = folder.with_name(folder.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if folder.exists():
                folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def saved_generation(folder: Path) -> int | None:
        try:
            return int((folder / "generation").read_text())
        except (OSError, ValueError):
            return None

    @classmethod
    def load(cls, folder: Path) -> Snapshot | None:
        try:
            stats = json.loads((folder / "stats.json").read_text())
            if stats.get("format") != cls.FORMAT or "k1" not in stats:
                return None  # written by an older askdocs: rebuilt from the rows
            generation = int((folder / "generation").read_text())
            chunk_ids = ChunkIds.load(folder)
            vocabulary = json.loads((folder / "vocabulary.json").read_text())
            columns = Columns.load(folder)
        except (OSError, ValueError, KeyError):
            return None  # missing or damaged: rebuilt from the rows
        return cls(
            generation, columns, chunk_ids, vocabulary,
            float(stats["average_length"]), float(stats["k1"]), float(stats["b"]),
        )  # fmt: skip


class View:
    """A snapshot plus the chunks added and removed since, scored as one collection.

    Each snapshot entry is idf x tf-part; a query rescales it by the term's idf over the
    current chunks, and scores added chunks with the same formula. So scores equal a fresh
    build's except for length normalisation, which keeps the snapshot's average chunk length
    until the next full build (a snapshot of no chunks has none: the added chunks' is used).
    """

    def __init__(
        self,
        base: Snapshot,
        generation: int,
        alive: np.ndarray | None = None,
        added: Sequence[tuple[str, list[str]]] = (),
    ) -> None:
        self.base = base
        self.generation = generation
        self.alive = alive if alive is not None and not alive.all() else None
        removed = 0 if self.alive is None else int((~self.alive).sum())
        self.added_ids = [chunk_id for chunk_id, _ in added]
        self.added_positions = {c: len(base.chunk_ids) + i for i, c in enumerate(self.added_ids)}
        self.size = len(base.chunk_ids) + len(added)
        self.documents = len(base.chunk_ids) - removed + len(added)
        self.changed = removed + len(added)
        postings: dict[str, tuple[list[int], list[float]]] = {}
        k1, b, average = base.k1, base.b, base.average_length
        if not len(base.chunk_ids) and added:
            # A snapshot of no chunks (built by a search before the first write, or after a
            # keyword cache was emptied) has no average length to keep: the added chunks' own
            # is what a build would use.
            average = max(sum(len(terms) for _, terms in added) / len(added), 1.0)
        for i, (_, terms) in enumerate(added):
            length_part = k1 * (1 - b + b * len(terms) / average)
            for term, frequency in Counter(terms).items():
                positions, parts = postings.setdefault(term, ([], []))
                positions.append(len(base.chunk_ids) + i)
                parts.append(frequency / (length_part + frequency))
        self.postings = {
            term: (np.asarray(positions), np.asarray(parts, dtype=np.float32))
            for term, (positions, parts) in postings.items()
        }
        self._frequencies: dict[str, int] = {}

    def chunk_id(self, position: int) -> str:
        count = len(self.base.chunk_ids)
        if position < count:
            return self.base.chunk_ids[position]
        return self.added_ids[position - count]

    def positions(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """Each chunk's position in this view, -1 where it holds no such chunk."""
        found = self.base.chunk_ids.positions(chunk_ids)
        if self.alive is not None:
            found[(found >= 0) & ~self.alive[np.maximum(found, 0)]] = -1
        for i, chunk_id in enumerate(chunk_ids):
            if found[i] < 0:
                found[i] = self.added_positions.get(chunk_id, -1)
        return found

    def position(self, chunk_id: str) -> int | None:
        position = self.base.chunk_ids.position(chunk_id)
        if position is not None and (self.alive is None or self.alive[position]):
            return position
        return self.added_positions.get(chunk_id)

    def document_frequency(self, term: str) -> int:
        # A view never changes, and a question asks for each of its terms several times
        # (known word? which terms? their idf), which costs a pass over the term's column.
        if term not in self._frequencies:
            added = self.postings.get(term)
            self._frequencies[term] = self._base_frequency(term) + (len(added[0]) if added else 0)
        return self._frequencies[term]

    def _base_frequency(self, term: str) -> int:
        column = self.base.column(term)
        if column is None:
            return 0
        start, end = column
        if self.alive is None:
            return end - start
        return int(self.alive[self.base.columns.positions(start, end)].sum())

    def idf(self, term: str) -> float:
        return _idf(self.document_frequency(term), self.documents)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """Each chunk's BM25 score for the terms (a repeated term counts again, as in bm25s)."""
        scores = np.zeros(self.size, dtype=np.float32)
        base = self.base
        for term in terms:
            idf = self.idf(term)
            column = base.column(term)
            if column is not None:
                start, end = column
                positions, entries = base.columns.entries(start, end)
                if self.changed:
                    entries = entries * np.float32(idf / _idf(end - start, len(base.chunk_ids)))
                scores[positions] += entries
            if term in self.postings:
                positions, parts = self.postings[term]
                scores[positions] += parts * np.float32(idf)
        if self.alive is not None:
            scores[: len(base.chunk_ids)] *= self.alive
        return scores


def _idf(document_frequency: int, documents: int) -> float:
    """BM25's inverse document frequency, Lucene variant (the one bm25s uses)."""
    return float(np.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5)))


def _encoded(chunk_id: str) -> bytes:
    # (surrogatepass: any Python string has bytes and gets itself back; ids are hex in practice)
    return chunk_id.encode("utf-8", "surrogatepass")
