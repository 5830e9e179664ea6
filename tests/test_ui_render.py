"""What the chat page renders, checked without a browser."""

from datetime import date

import pytest

from askdocs.types import CANNOT_ANSWER, Answer, Chunk, Citation, Claim, Passage
from askdocs.ui import (
    escape_text,
    parse_day,
    render_answer,
    render_passage,
    render_sources,
    safe_upload_name,
)

ARTICLE = "Title\nFirst sentence. The <b>cited</b> [1](http://x) sentence. Last one.\nNext line."


def make_answer(abstained: bool = False) -> Answer:
    quote = "The <b>cited</b> [1](http://x) sentence."
    start = ARTICLE.index(quote)
    citation = Citation(1, "a", "Title <i>", "/x/a.txt", start, start + len(quote), quote, "a-c")
    passage = Passage(Chunk("a-c", "a", 0, ARTICLE[6:], 6, len(ARTICLE)), 0.71, "Title", "/x/a.txt")
    return Answer(
        question="q?",
        text=CANNOT_ANSWER if abstained else f"{quote} [1]",
        abstained=abstained,
        citations=[] if abstained else [citation],
        passages=[passage],
        standalone_question="earlier q? q?",
        settings_hash="h",
        claims=[] if abstained else [Claim(quote, [1], True), Claim("A guess.", [], False)],
    )


def test_article_text_cannot_inject_html_or_links() -> None:
    escaped = escape_text('<script>alert(1)</script> [x](http://evil) **b** & "q"')
    for active in ("<", ">", "[", "]", "(", ")", "*", '"'):
        assert active not in escaped
    rendered = render_answer(make_answer(), turn=0)
    assert "<b>" not in rendered and "](http" not in rendered
    assert 'class="askdocs-cite askdocs-ref-0-1"' in rendered
    assert '<span class="askdocs-unverified">A guess.</span>' in rendered


def test_sources_panel_lists_citations_and_the_standalone_question() -> None:
    html = render_sources(make_answer(), turn=2, show_scores=True)
    assert "askdocs-ref-2-1" in html
    assert "Searched for: <q>earlier q? q?</q>" in html
    assert "score 0.71" in html
    assert "Title &#60;i&#62;" in html
    assert "score" not in render_sources(make_answer(), turn=2, show_scores=False)


def test_abstention_offers_related_passages() -> None:
    answer = make_answer(abstained=True)
    assert "askdocs-abstained" in render_answer(answer, 0)
    assert "Related, but not answering" in render_sources(answer, 0, show_scores=False)


def test_passage_highlights_exactly_the_cited_sentence_in_context() -> None:
    answer = make_answer()
    html = render_passage(answer.citations[0], ARTICLE, {"outlet": "Herald", "file": "a.txt"})
    marked = html.split("<mark>")[1].split("</mark>")[0]
    assert marked == escape_text(answer.citations[0].quote)
    assert "First sentence." in html and "Last one." in html
    assert "Herald · a.txt" in html


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("--rm -rf.md", "rm_-rf.md"),
        ("résumé du jour.HTML", "r_sum_du_jour.html"),
        ("...", "upload"),
        (".hidden.json", "hidden.json"),
    ],
)
def test_upload_names_are_sanitised(name: str, safe: str) -> None:
    assert safe_upload_name(name) == safe


def test_dates_are_parsed_or_refused() -> None:
    assert parse_day("2024-05-01") == date(2024, 5, 1)
    assert parse_day(" ") is None
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day("May 1")


def test_short_answer_opens_the_message_in_bold_and_escaped() -> None:
    from dataclasses import replace

    answer = replace(make_answer(), short_answer="<i>Anna</i> Berg")
    rendered = render_answer(answer, turn=0)
    assert rendered.startswith('<b class="askdocs-short">')
    assert "<i>" not in rendered and "Berg</b> — " in rendered
    assert not render_answer(make_answer(), turn=0).startswith("<b")
