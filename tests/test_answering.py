"""Extractive answering, citations and follow-ups, on the fake embedder."""

import json
from datetime import date
from pathlib import Path

import pytest

from askdocs.answer.follow_ups import standalone_question
from askdocs.answer.question import answer_kind
from askdocs.api import Assistant
from askdocs.citations import CitationError, make_citation
from askdocs.index.keywords import content_terms
from askdocs.types import CANNOT_ANSWER, Article, Chunk, Filters, Passage


def test_answer_quotes_and_cites_the_supporting_sentence(ingested: Assistant) -> None:
    answer = ingested.ask("How much will the new Harbourton bridge cost?")
    assert not answer.abstained
    assert "£12 million" in answer.text
    first = answer.citations[0]
    assert first.key == 1 and "[1]" in answer.text
    assert (
        first.quote
        == "The bridge will cost £12 million and is due to open in 2026, the council said."
    )
    assert Path(first.source).read_text()[first.start : first.end] == first.quote
    assert first.title == "Harbourton council approves new harbour bridge"


def test_a_comparison_cites_the_sentence_about_each_option(ingested: Assistant) -> None:
    # The two facts decide the comparison; the answerer quotes both and does not choose.
    answer = ingested.ask("Who was older: Mayor Elena Varga or councillor Tom Reyes?")
    quotes = [c.quote for c in answer.citations]
    assert any("Elena Varga" in q for q in quotes) and any("Tom Reyes" in q for q in quotes)
    assert answer.short_answer is None


def test_a_question_in_the_article_is_never_quoted_as_the_answer(
    assistant: Assistant, articles_dir: Path
) -> None:
    # The article's own question is the sentence most like the reader's and names two people;
    # it states nothing, so the sentence that does must be the one cited.
    (articles_dir / "ferry.md").write_text(
        "# Who will run the Skerry Point ferry?\n\n"
        "Will Ian Dow or Marta Quell run the Skerry Point ferry next year?\n\n"
        "The council said Marta Quell will run it from next year.\n"
    )
    assistant.ingest([articles_dir])
    answer = assistant.ask("Who will run the Skerry Point ferry next year?")
    assert answer.citations
    assert not any(c.quote.rstrip().endswith("?") for c in answer.citations)
    assert "Marta Quell" in answer.citations[0].quote


def test_a_sentence_two_copies_of_a_story_hold_is_said_once_and_cites_both(
    assistant: Assistant, articles_dir: Path
) -> None:
    # The same story filed twice (syndicated, re-headlined): every sentence comes twice with
    # almost the same score. The answer had quoted each sentence twice; now it says each once,
    # with one citation per copy.
    story = (articles_dir / "harbour-bridge.txt").read_text().split("\n", 1)[1]
    (articles_dir / "harbour-bridge-refiled.txt").write_text(f"Bridge vote in Harbourton\n{story}")
    assistant.ingest([articles_dir])
    cost = "The bridge will cost £12 million and is due to open in 2026, the council said."
    answer = assistant.ask("How much will the new Harbourton bridge cost?")
    assert answer.text.count(cost) == 1
    first = answer.claims[0]
    assert first.text == cost and len(first.citations) == 2
    cited = [c for c in answer.citations if c.key in first.citations]
    assert {c.title for c in cited} == {
        "Harbourton council approves new harbour bridge",
        "Bridge vote in Harbourton",
    }
    for citation in cited:
        assert citation.quote == cost
        assert Path(citation.source).read_text()[citation.start : citation.end] == cost
    assert len({claim.text for claim in answer.claims}) == len(answer.claims)


def test_every_citation_is_an_exact_substring_of_its_article(ingested: Assistant) -> None:
    for question in (
        "Who did Priya Nair beat in the final round?",
        "What share of the museum archive was saved?",
        "Who replaces the lighthouse keeper at Skerry Point?",
    ):
        answer = ingested.ask(question)
        assert answer.citations, question
        articles = ingested.store.get_articles(c.article_id for c in answer.citations)
        for citation in answer.citations:
            assert (
                articles[citation.article_id].text[citation.start : citation.end] == citation.quote
            )
            assert f"[{citation.key}]" in answer.text


def test_filters_restrict_the_passages(ingested: Assistant) -> None:
    only_wire = ingested.ask(
        "What was called off or reopened?", filters=Filters(sources=("Wire Service",))
    )
    assert {p.title for p in only_wire.passages} <= {
        "Rail strike called off",
        "Museum reopens after flood",
    }
    dated = ingested.ask(
        "What was called off or reopened?",
        filters=Filters(date_from=date(2024, 5, 1), date_to=date(2024, 5, 31)),
    )
    assert {p.title for p in dated.passages} == {"Rail strike called off"}
    # Filters that match nothing are an abstention, not an error (this raised in the fusion).
    nothing = ingested.ask("What was called off?", filters=Filters(sources=("No Such Outlet",)))
    assert nothing.abstained and nothing.passages == []


def test_k_limits_passages(ingested: Assistant) -> None:
    assert len(ingested.ask("harbour bridge", k=2).passages) == 2
    with pytest.raises(ValueError, match="k must be > 0"):
        ingested.ask("harbour bridge", k=-1)


def test_mmr_spreads_passages_over_articles(
    tmp_path: Path, articles_dir: Path, fake_embedder
) -> None:
    assistant = Assistant(index_dir=tmp_path / "i", embedder=fake_embedder, mmr=True, fetch_k=10)
    assistant.ingest([articles_dir])
    passages = assistant.ask("council harbour bridge museum flood", k=3).passages
    assert len({p.chunk.article_id for p in passages}) >= 2


def test_empty_question_is_an_abstention_with_its_reason(ingested: Assistant) -> None:
    answer = ingested.ask("   ")
    assert answer.abstained and answer.text == CANNOT_ANSWER
    assert answer.abstain_reason == "the question is empty"


def test_stream_yields_text_then_the_answer(ingested: Assistant) -> None:
    pieces = list(ingested.stream("How much will the new Harbourton bridge cost?"))
    answer = pieces[-1]
    assert "".join(pieces[:-1]) == answer.text
    assert answer.settings_hash == ingested.settings.settings_hash()


def test_follow_up_uses_the_conversation(ingested: Assistant) -> None:
    first = ingested.ask("Who won the Northfield regional chess championship?")
    assert "Priya Nair" in first.text
    history = [("user", first.question), ("assistant", first.text)]
    answer = ingested.ask("Where will she play in the national finals?", history=history)
    assert "chess" in answer.standalone_question
    assert "Leeds" in answer.text


def test_standalone_question_leaves_self_contained_questions_alone() -> None:
    history = [{"role": "user", "content": "Who won the chess title?"}]
    assert standalone_question("How much did the Harbourton bridge cost?", history) == (
        "How much did the Harbourton bridge cost?"
    )
    assert standalone_question("And the runner-up?", history) == (
        "Who won the chess title? And the runner-up?"
    )
    assert standalone_question("And the runner-up?", None) == "And the runner-up?"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many people watched?", "number"),
        ("How much did it cost?", "number"),
        ("When did the bridge open?", "date"),
        ("In which year was it founded?", "date"),
        ("Who beat Henin?", "person"),
        ("Whose killing is the film about?", "person"),
        ("Where was the show held?", "place"),
        ("In which town did he skip lessons?", "place"),
        ("Which club is he expected to stay with?", "name"),
        ("Why did he miss the match?", "reason"),
        ("What reason did the council give?", "reason"),
        ("What did the report show?", "any"),
        ("What subject does he plan to study?", "name"),
        ("Were more games sold in Japan or in the US?", "any"),
    ],
)
def test_answer_kind(question: str, kind: str) -> None:
    assert answer_kind(question) == kind


def test_content_terms_drop_stop_words_and_stem() -> None:
    assert content_terms("Who did the councillors accuse of spending £12,000?") == [
        "councillor", "accuse", "spend", "£12000",
    ]  # fmt: skip


def test_citation_outside_its_passage_is_refused() -> None:
    article = Article(id="a", title="T", text="One. Two. Three.", source="s")
    passage = Passage(Chunk("c", "a", 0, "One. Two.", 0, 9), 0.9, "T", "s")
    assert make_citation(1, passage, article, 5, 9).quote == "Two."
    with pytest.raises(CitationError, match="outside passage"):
        make_citation(1, passage, article, 10, 16)


def _weights(folder: Path, sign: float, threshold: float, **more: object) -> Path:
    """Weights ranking by +/- sim_question alone; the answer's probability is 1 / (1 + e^-2)."""
    from askdocs.answer.combiner import QUESTION_FEATURES, weights_document
    from askdocs.answer.features import FEATURES

    n, m = len(FEATURES), len(QUESTION_FEATURES)
    ranker = ([0.0] * n, [1.0] * n, [sign * (f == "sim_question") for f in FEATURES])
    data = weights_document(ranker, ([0.0] * m, [1.0] * m, [0.0] * m, 2.0), threshold, 0.0, 1.01)
    data.update(more)
    folder.mkdir(exist_ok=True)
    path = folder / "weights.json"
    path.write_text(json.dumps(data))
    return path


def test_the_answering_model_chooses_the_quote_and_the_first_model_the_refusal(
    tmp_path: Path, fake_embedder, articles_dir: Path
) -> None:
    question = "How much will the new Harbourton bridge cost?"

    def ask(weights: Path) -> object:
        assistant = Assistant(
            index_dir=tmp_path / "index", embedder=fake_embedder, answer_weights=str(weights)
        )
        assistant.ingest([articles_dir])
        return assistant.ask(question)

    # Alone, the sentence most like the question and the one least like it.
    most = ask(_weights(tmp_path / "most", 1.0, 0.5))
    least_file = _weights(tmp_path / "least", -1.0, 0.5)
    least = ask(least_file)
    assert most.citations[0].quote != least.citations[0].quote
    answering = json.loads(least_file.read_text())
    # Together: the first model lets the answer through, the answering model chooses it.
    both = ask(_weights(tmp_path / "both", 1.0, 0.5, answering=answering))
    assert [c.quote for c in both.citations] == [c.quote for c in least.citations]
    # The first model's refusal holds whatever the answering model would quote.
    refused = ask(_weights(tmp_path / "refused", 1.0, 0.99, answering=answering))
    assert refused.abstained and refused.text == CANNOT_ANSWER
