"""The real embedding model with a real Chroma, embedded and as a server started by the test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from askdocs.answer.extractive import LACKS_ASKED
from askdocs.api import Assistant
from askdocs.embeddings import make_embedder
from askdocs.index.ingest import Ingester
from askdocs.loaders import load_file
from conftest import REPO, SHARED, free_port

EXAMPLES = REPO / "examples" / "articles"
RUBIO_SENTENCE = "US Secretary of State Marco Rubio has accused the Venezuelan government"


def check_rubio_answer(assistant: Assistant) -> None:
    answer = assistant.ask("Who did Rubio accuse?")
    assert not answer.abstained
    assert "Venezuelan government" in answer.text
    assert any(RUBIO_SENTENCE in c.quote for c in answer.citations)
    article_text = (EXAMPLES / "rubio-accuses-venezuela.txt").read_text()
    for citation in answer.citations:
        assert article_text[citation.start : citation.end] == citation.quote


@pytest.mark.slow
def test_real_model_and_persistent_chroma(tmp_path: Path) -> None:
    assistant = Assistant(index_dir=tmp_path / "index")
    report = assistant.ingest([EXAMPLES])
    assert report.added == 1 and report.texts_embedded > 1
    check_rubio_answer(assistant)
    # a second process-level object over the same folder sees the same index
    check_rubio_answer(Assistant(index_dir=tmp_path / "index"))
    assert Assistant(index_dir=tmp_path / "index").ingest([EXAMPLES]).texts_embedded == 0


@pytest.mark.slow
def test_real_tokenizer_keeps_every_chunk_within_the_model(tmp_path: Path) -> None:
    assistant = Assistant(index_dir=tmp_path / "index")
    files = (
        sorted((SHARED / "articles" / "bbc" / "business").glob("*.txt"))[:40]
        if SHARED.exists()
        else []
    )
    articles = [
        a
        for f in [*files, EXAMPLES / "rubio-accuses-venezuela.txt"]
        for a in load_file(f, 10**7).articles
    ]
    ingester = Ingester(assistant.settings, assistant.embedder, None)
    chunker = ingester.chunker()
    embedder = assistant.embedder
    for article in articles:
        chunks = chunker.split(article)
        texts = ingester.embedding_texts(article, chunks)
        assert max(embedder.count_tokens(texts)) + 2 <= embedder.max_tokens
        assert all(article.text[c.start : c.end] == c.text for c in chunks)


@pytest.mark.slow
def test_cli_entry_point_end_to_end(tmp_path: Path) -> None:
    askdocs = Path(sys.executable).parent / "askdocs"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    index = str(tmp_path / "index")
    subprocess.run([askdocs, "--index", index, "ingest", str(EXAMPLES)], check=True, env=env)
    out = subprocess.run(
        [askdocs, "--index", index, "ask", "Who did Rubio accuse?"],
        check=True, env=env, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert "Venezuelan government" in out and "Sources:" in out and RUBIO_SENTENCE in out


@pytest.mark.slow
def test_real_model_and_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    assistant = Assistant(chroma_url=chroma_server)
    assert assistant.ingest([EXAMPLES]).added == 1
    check_rubio_answer(assistant)
    assert Assistant(chroma_url=chroma_server).stats()["articles"] == 1


def test_unreachable_chroma_server_is_a_clear_error() -> None:
    from askdocs.index import StoreError

    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        Assistant(chroma_url=f"http://127.0.0.1:{free_port()}").stats()


def test_missing_local_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    from askdocs.config import load_settings
    from askdocs.embeddings import EmbedderError

    with pytest.raises(EmbedderError, match="never downloads"):
        make_embedder(load_settings(embedding_model=str(tmp_path / "nope")))


@pytest.fixture(scope="module")
def real_small(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The real model and the shipped answer weights over the tiny test articles."""
    folder = tmp_path_factory.mktemp("small")
    shutil.copytree(REPO / "tests" / "data", folder / "articles")
    shutil.copy(EXAMPLES / "rubio-accuses-venezuela.txt", folder / "articles")
    assistant = Assistant(index_dir=folder / "index")
    assistant.ingest([folder / "articles"])
    return assistant


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("Who won the Northfield regional chess championship?", "Priya Nair"),
        ("How much will the new Harbourton bridge cost?", "£12 million"),
    ],
)
def test_answers_open_with_the_short_answer_from_the_cited_sentence(
    real_small: Assistant, question: str, short: str
) -> None:
    answer = real_small.ask(question)
    assert not answer.abstained and answer.short_answer == short
    assert answer.text.startswith(f"**{short}** — ")
    assert short in answer.citations[0].quote  # cut from the first cited sentence


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "reason"),
    [
        # Words the articles use, about nothing they say: refused as off-topic.
        ("What is the boiling point of tungsten on the harbour?", "nothing in the articles"),
        ("How do I bake sourdough bread for the council?", "nothing in the articles"),
        # The right story, the wrong year: another season's result must not win.
        ("Who won the Northfield regional chess championship in 1998?", "do not mention 1998"),
    ],
)
def test_off_topic_and_wrong_year_questions_are_refused(
    real_small: Assistant, question: str, reason: str
) -> None:
    answer = real_small.ask(question)
    assert answer.abstained and reason in answer.abstain_reason


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lead", "name"),
    [
        ("A Georgia woman is suing Quillfax, saying its printer cartridges expire early.", None),
        ("Dana Merrow, a Georgia woman, is suing Quillfax over its printer cartridges.", "Dana"),
    ],
)
def test_a_name_the_story_never_gives_is_refused(
    tmp_path: Path, lead: str, name: str | None
) -> None:
    # Asked the name of someone the story brings in only as "a Georgia woman", the sentence
    # most like the question has no name to give: the shipped weights' refusal rule ("named")
    # says the articles lack it, and answers when the story does name her.
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "lawsuit.txt").write_text(
        f"Quillfax sued over printer cartridges\n\n{lead} The lawsuit says the cartridges "
        "stop working on a set date even when they still hold ink.\n\n"
        "Quillfax, the world's biggest printer firm, declined to comment on the lawsuit.\n"
    )
    assistant = Assistant(index_dir=tmp_path / "index")
    assistant.ingest([folder])
    answer = assistant.ask("What is the name of the Georgia woman suing Quillfax?")
    if name is None:
        assert answer.abstained and answer.abstain_reason == LACKS_ASKED
    else:
        assert not answer.abstained and name in answer.text


@pytest.mark.slow
def test_web_pages_feeds_pdf_and_word_answer_with_exact_citations(tmp_path: Path) -> None:
    """Every new kind of source, through the real model and the default answerer: the story
    sentences answer, citations are exact against the indexed text, a PDF's names its page."""
    import docx

    from news_site import NewsSite
    from test_web_sources import REPORT_PAGES, _pdf

    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "harbour-report.pdf").write_bytes(_pdf(REPORT_PAGES, title="Harbour report"))
    document = docx.Document()
    document.add_paragraph("Council budget briefing")
    document.add_paragraph(
        "The council will spend 3.2 million pounds on road repairs in 2025, finance chief "
        "Amir Haddad said."
    )
    document.save(folder / "budget.docx")
    assistant = Assistant(index_dir=tmp_path / "index", fetch_allow_private=True)
    with NewsSite() as site:
        report = assistant.ingest([folder, site.url("/feeds/rss.xml")])
    assert report.added == 5 and not report.failed, report.to_json()
    cases = {
        "How many steel cables were replaced on the Kestrel Harbour bridge?": "312",
        "How much did Ashcombe parents raise to keep the school open?": "180,000",
        "Who was appointed harbour master?": "Ingrid Solberg",
        "How much will the council spend on road repairs?": "3.2 million",
    }
    for question, expected in cases.items():
        answer = assistant.ask(question)
        assert expected in answer.text, (question, answer.text)
        articles = assistant.store.get_articles([c.article_id for c in answer.citations])
        for citation in answer.citations:
            assert articles[citation.article_id].text[citation.start : citation.end] == (
                citation.quote
            )
    answer = assistant.ask("Who was appointed harbour master?")
    assert answer.citations[0].page == 2
