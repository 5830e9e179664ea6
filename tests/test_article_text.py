"""An article's text stored once (index/article_text.py): given back exactly from its chunks
and its record's few fields, or not at all."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from askdocs.index import article_text


def _pieces(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, str]]:
    return [(a, text[a:b]) for a, b in spans]


def test_gaps_are_what_no_span_covers_including_both_ends() -> None:
    text = "  One. Two.\n\nThree.  "
    spans = [(2, 6), (7, 11), (13, 19)]
    assert article_text.gaps(text, spans) == [(0, "  "), (6, " "), (11, "\n\n"), (19, "  ")]


def test_overlapping_chunks_leave_no_gap_and_assemble() -> None:
    text = "One. Two. Three."
    spans = [(0, 9), (5, 16)]  # "Two." is in both chunks
    fields = article_text.record_fields(text, spans)
    assert article_text.gaps(text, spans) == []
    assert article_text.assemble(fields, _pieces(text, spans)) == text


def test_a_missing_chunk_gives_nothing() -> None:
    text = "One. Two. Three."
    spans = [(0, 4), (5, 9), (10, 16)]
    fields = article_text.record_fields(text, spans)
    assert article_text.assemble(fields, _pieces(text, spans)[::2]) is None


def test_chunks_that_disagree_where_they_overlap_give_nothing() -> None:
    text = "One. Two. Three."
    fields = article_text.record_fields(text, [(0, 9), (5, 16)])
    assert article_text.assemble(fields, [(0, "One. Two."), (5, "Tw0. Three.")]) is None


def test_a_changed_chunk_length_gives_nothing() -> None:
    text = "One. Two."
    fields = article_text.record_fields(text, [(0, 4), (5, 9)])
    assert article_text.assemble(fields, [(0, "One."), (5, "Two")]) is None
    assert article_text.assemble(fields, [(0, "One."), (5, "Two. And")]) is None


def test_only_records_with_both_fields_are_assembled() -> None:
    fields = article_text.record_fields("a", [(0, 1)])
    assert article_text.stored_in_record({**fields, "title": "t"})
    assert not article_text.stored_in_record({"title": "t"})


@given(
    st.text(alphabet=st.sampled_from("ab \n\té€"), max_size=60),
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 12)), max_size=8),
)
def test_any_text_comes_back_exactly_from_any_chunks(text: str, raw: list) -> None:
    spans = [(min(a, len(text)), min(a + n, len(text))) for a, n in raw]
    spans = [(a, b) for a, b in spans if a < b]
    fields = article_text.record_fields(text, spans)
    assert article_text.assemble(fields, _pieces(text, spans)) == text
