"""The BM25 snapshot's parts that replace Python containers and memory maps: chunk ids as byte
arrays, score columns read from their files."""

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from askdocs.index.bm25_snapshot import ChunkIds, NpyFile


@given(
    # (ids are hex digests and article ids: never a NUL, which fixed-width bytes would drop)
    st.lists(
        st.text(st.characters(exclude_characters="\0"), min_size=1, max_size=12),
        max_size=40,
        unique=True,
    ),
    st.lists(st.text(max_size=14), max_size=10),
)
def test_chunk_id_arrays_find_exactly_the_stored_ids(stored: list[str], others: list[str]) -> None:
    ids = ChunkIds.of(stored)
    asked = stored + others
    expected = [stored.index(c) if c in stored else -1 for c in asked]
    assert ids.positions(asked).tolist() == expected
    assert [ids[i] for i in range(len(stored))] == stored


@given(st.integers(0, 40), st.integers(0, 40))
def test_npy_slices_read_from_the_file_equal_the_array_slices(start: int, length: int) -> None:
    array = np.arange(50, dtype=np.float32) * 1.5
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.npy"
        np.save(path, array)
        end = min(start + length, 50)
        assert np.array_equal(NpyFile(path).read(start, end), array[start:end])
