import itertools

import pytest

from askdocs.chunking import Chunker, sentence_spans
from askdocs.loaders import load_file
from askdocs.types import Article
from conftest import DATA


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentences_respect_abbreviations_quotes_and_lines() -> None:
    text = (
        "Dr. Amal Haddad met Mr. J. Smith in the U.S. on Jan. 5. It rained.\n"
        "“We won,” she said. Prices rose 2.5% to $3.20!\nHeadline without stop"
    )
    assert sentences(text) == [
        "Dr. Amal Haddad met Mr. J. Smith in the U.S. on Jan. 5.",
        "It rained.",
        "“We won,” she said.",
        "Prices rose 2.5% to $3.20!",
        "Headline without stop",
    ]


def test_sentence_spans_within_a_range_are_offsets_into_the_whole_text() -> None:
    text = "Skip this. Keep one. Keep two."
    spans = sentence_spans(text, 11, len(text))
    assert [text[s:e] for s, e in spans] == ["Keep one.", "Keep two."]


def article(text: str) -> Article:
    return Article(id="a1", title="T", text=text, source="t.txt")


def test_chunks_are_exact_spans_within_budget_with_overlap() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    chunks = Chunker(words, max_tokens=30, overlap_tokens=8).split(article(text))
    assert len(chunks) > 5
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text.split()) <= 30
    # each chunk repeats the previous chunk's last sentence
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end
    assert chunks[-1].end == len(text)


def test_sentence_longer_than_a_chunk_is_split_not_truncated() -> None:
    text = "Intro. " + " ".join(f"w{i}" for i in range(100)) + ". Outro."
    chunks = Chunker(words, max_tokens=20, overlap_tokens=0).split(article(text))
    covered = "".join(c.text for c in chunks).replace(" ", "")
    assert covered == text.replace(" ", "")
    assert all(len(c.text.split()) <= 20 for c in chunks)


def test_single_giant_word_is_cut_by_characters() -> None:
    def chars(texts: list[str]) -> list[int]:
        return [len(t) // 4 + 1 for t in texts]

    text = "Start. " + "x" * 1000 + " end."
    chunks = Chunker(chars, max_tokens=50, overlap_tokens=0).split(article(text))
    assert all(chars([c.text])[0] <= 50 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")


def test_chunk_ids_derive_from_content() -> None:
    a = load_file(DATA / "harbour-bridge.txt", 10**7).articles[0]
    chunker = Chunker(words, max_tokens=25, overlap_tokens=5)
    assert [c.id for c in chunker.split(a)] == [c.id for c in chunker.split(a)]
    changed = Article(a.id, a.title, a.text.replace("£12 million", "£13 million"), a.source)
    assert [c.id for c in chunker.split(a)] != [c.id for c in chunker.split(changed)]


@pytest.mark.parametrize("overlap", [0, 10])
def test_every_sentence_lands_in_some_chunk(overlap: int) -> None:
    a = load_file(DATA / "chess-title.md", 10**7).articles[0]
    chunks = Chunker(words, max_tokens=25, overlap_tokens=overlap).split(a)
    for start, end in sentence_spans(a.text):
        assert any(c.start <= start and end <= c.end for c in chunks)
