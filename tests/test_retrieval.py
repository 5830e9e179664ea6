"""Hybrid retrieval: the keyword index, fusion, filters on both sides, sentence-level evidence."""

import shutil
from datetime import date
from pathlib import Path

import pytest

from askdocs.api import Assistant
from askdocs.retrieval import (
    cap_per_article,
    comparison_parts,
    interleave,
    reciprocal_rank_fusion,
    relative_score_fusion,
)
from askdocs.types import CANNOT_ANSWER, Chunk, ChunkHit, Filters, Passage
from conftest import FakeEmbeddings


def _sources(passages: list[Passage]) -> set[str]:
    return {Path(p.source.split("#")[0]).name for p in passages}


def test_keyword_search_ignores_case_and_inflections(ingested: Assistant) -> None:
    keywords = ingested.store.keywords
    hits = keywords.search("BRIDGES approving", k=3)
    chunks = ingested.store.get_chunks([h.chunk_id for h in hits])
    assert chunks and "harbour-bridge.txt" in chunks[0][0].source
    assert keywords.search("zebra quokka", k=3) == []


def test_each_retrieval_mode_finds_the_article(ingested: Assistant) -> None:
    for mode in ("hybrid", "dense", "keyword"):
        answer = ingested.variant(retrieval=mode).ask("Who won the Northfield chess championship?")
        assert "chess-title.md" in _sources(answer.passages), mode
        assert "Priya Nair" in answer.text, mode


def test_filters_apply_to_the_keyword_side(ingested: Assistant) -> None:
    keyword_only = ingested.variant(retrieval="keyword")
    question = "What was called off or reopened?"
    may = keyword_only.ask(
        question, filters=Filters(date_from=date(2024, 5, 1), date_to=date(2024, 5, 31))
    )
    assert {p.title for p in may.passages} == {"Rail strike called off"}
    museum = next(a for a in ingested.store.indexed_articles().values() if "Museum" in a.title)
    only_museum = keyword_only.ask(question, filters=Filters(articles=(museum.id,)))
    assert {p.chunk.article_id for p in only_museum.passages} == {museum.id}


def test_keyword_index_follows_updates_and_removals(
    ingested: Assistant, articles_dir: Path
) -> None:
    bridge = articles_dir / "harbour-bridge.txt"
    bridge.write_text(bridge.read_text() + "\nA ferryman named Zebedee objected loudly.\n")
    ingested.ingest([articles_dir])
    assert ingested.store.keywords.search("Zebedee", k=3)
    ingested.remove(str(bridge))
    assert ingested.store.keywords.search("Zebedee", k=3) == []
    assert ingested.check() == []


def test_an_index_without_keyword_index_is_backfilled(
    tmp_path: Path, ingested: Assistant, fake_embedder: FakeEmbeddings
) -> None:
    shutil.rmtree(tmp_path / "index" / "keywords")
    reopened = Assistant(index_dir=tmp_path / "index", embedder=fake_embedder)
    assert reopened.check() == []
    assert "Priya Nair" in reopened.ask("Who won the Northfield chess championship?").text


def test_check_reports_keyword_index_disagreement(ingested: Assistant) -> None:
    some_chunk = next(iter(ingested.store.keywords.chunk_ids()))
    ingested.store.keywords.delete_chunks([some_chunk])
    assert any("missing from the keyword index" in p for p in ingested.check())


def test_questions_without_known_words_abstain_without_embedding(
    ingested: Assistant, fake_embedder: FakeEmbeddings, monkeypatch
) -> None:
    calls = []
    monkeypatch.setattr(fake_embedder, "embed_query", lambda text: calls.append(text))
    for question in ("What is it?", "asdf qwerty zxcv", "the of and"):
        answer = ingested.ask(question)
        assert answer.abstained and answer.text == CANNOT_ANSWER and answer.passages == []
    assert calls == []


def test_answers_use_sentence_vectors_stored_at_ingest(
    ingested: Assistant, fake_embedder: FakeEmbeddings
) -> None:
    fake_embedder.embedded.clear()
    answer = ingested.ask("Who won the Northfield regional chess championship?")
    assert "Priya Nair" in answer.text
    assert fake_embedder.embedded == []  # only the question was embedded (embed_query)


def test_text_chunk_vectors_still_answer(tmp_path: Path, articles_dir: Path) -> None:
    assistant = Assistant(
        index_dir=tmp_path / "text-index", embedder=FakeEmbeddings(), chunk_vectors="text",
        abstain_threshold=0,
    )  # fmt: skip
    assistant.ingest([articles_dir])
    assert "Priya Nair" in assistant.ask("Who won the Northfield chess championship?").text


def test_a_pronoun_sentence_is_cited_with_the_sentence_before(
    tmp_path: Path, fake_embedder: FakeEmbeddings
) -> None:
    folder = tmp_path / "duchy"
    folder.mkdir()
    (folder / "duchy.txt").write_text(
        "Duchy estate in the news\n"
        "The Duchy of Wessex is a 9,000-acre estate across four counties. "
        "It was set up in 1337 by King Edward III to fund the heir. "
        "Its farms grow barley and oats.\n"
    )
    assistant = Assistant(index_dir=tmp_path / "ix", embedder=fake_embedder, abstain_threshold=0)
    assistant.ingest([folder])
    answer = assistant.ask("In which year was the Duchy of Wessex set up?")
    assert "1337" in answer.text
    quote = next(c.quote for c in answer.citations if "1337" in c.quote)
    assert quote.startswith("The Duchy of Wessex is a 9,000-acre estate")


def test_comparison_questions_search_each_side() -> None:
    assert comparison_parts("Which is older: the bridge or the museum?") == [
        "Which is older the bridge",
        "Which is older the museum",
    ]
    assert comparison_parts("Which bridge did the council approve?") is None


def _item(chunk_id: str, article_id: str) -> ChunkHit:
    chunk = Chunk(chunk_id, article_id, 0, "text", 0, 4)
    return ChunkHit(chunk_id, 0.5, Passage(chunk=chunk, score=0.5, title="t", source="s"))


def test_fusion_helpers() -> None:
    assert reciprocal_rank_fusion([(1.0, ["a", "b"]), (2.0, ["c", "a"])], k=1) == ["a", "c", "b"]
    # a chunk only one side found keeps its place when its score there is high
    assert relative_score_fusion({"a": 0.9, "b": 0.2}, {"a": 0.0, "b": 0.0}, 1, 1) == ["a", "b"]
    assert relative_score_fusion({"a": 0.5, "b": 0.5}, {"a": 0.0, "b": 7.0}, 1, 1) == ["b", "a"]
    ranked = [_item("1", "x"), _item("2", "x"), _item("3", "x"), _item("4", "y")]
    assert [h.chunk_id for h in cap_per_article(ranked, 2)] == ["1", "2", "4", "3"]
    merged = interleave([[_item("1", "x"), _item("2", "x")], [_item("1", "x"), _item("9", "z")]])
    assert [h.chunk_id for h in merged] == ["1", "2", "9"]


def test_passages_read_after_fusion_equal_those_read_with_every_candidate(
    ingested: Assistant,
) -> None:
    # The default search reads only the final k passages' texts; a per-article cap reads every
    # candidate's up front. A cap no article reaches changes nothing else, so both must give
    # the same passages with the same (cosine) scores, in every mode.
    for mode in ("hybrid", "dense", "keyword"):
        lazy = ingested.variant(retrieval=mode, k=4)
        eager = ingested.variant(retrieval=mode, k=4, max_per_article=100)
        for question in ("Which bridge did the council approve?", "Who won the chess title?"):
            got = lazy.pipeline.retriever(None, None).search(question)
            want = eager.pipeline.retriever(None, None).search(question)
            assert got, (mode, question)
            assert [(p.chunk, p.title, p.source) for p in got] == [
                (p.chunk, p.title, p.source) for p in want
            ]
            assert [p.score for p in got] == pytest.approx([p.score for p in want])


def test_a_per_article_cap_spreads_the_passages(ingested: Assistant) -> None:
    passages = (
        ingested.variant(max_per_article=1, k=3)
        .pipeline.retriever(None, None)
        .search("Which bridge did the council approve?")
    )
    articles = [p.chunk.article_id for p in passages]
    assert len(articles) == 3 and len(set(articles)) == 3


def test_an_emptied_index_abstains_in_every_mode(ingested: Assistant, articles_dir: Path) -> None:
    ingested.remove(str(articles_dir))
    assert ingested.store.counts()["chunks"] == 0
    for mode in ("hybrid", "dense", "keyword"):
        answer = ingested.variant(retrieval=mode).ask("Who won the Northfield chess championship?")
        assert answer.text == CANNOT_ANSWER and answer.passages == [], mode


def test_the_index_serves_lcel_chains_as_a_langchain_retriever(ingested: Assistant) -> None:
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import RunnableLambda

    question = "Who won the Northfield chess championship?"
    retriever = ingested.as_retriever(k=2)
    assert isinstance(retriever, BaseRetriever)
    chain = retriever | RunnableLambda(lambda docs: [d.metadata["source"] for d in docs])
    sources = chain.invoke(question)
    assert len(sources) <= 2 and any("chess-title.md" in s for s in sources)
    # Each Document is the stored chunk, located in its article by offsets.
    doc = retriever.invoke(question)[0]
    article_id = doc.metadata["article_id"]
    article = ingested.store.get_articles([article_id])[article_id]
    assert article.text[doc.metadata["start"] : doc.metadata["end"]] == doc.page_content
    # Filters apply as they do to `ask`; a bad k is refused at once.
    found = retriever.invoke(question)
    chess = next(d.metadata["article_id"] for d in found if "chess" in d.metadata["source"])
    only = ingested.as_retriever(filters=Filters(articles=(chess,))).invoke("bridge harbour")
    assert only and {d.metadata["article_id"] for d in only} == {chess}
    with pytest.raises(ValueError, match="k must be > 0"):
        ingested.as_retriever(k=0)
