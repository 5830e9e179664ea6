from datetime import date
from pathlib import Path

from askdocs.loaders import discover, load_file, load_paths
from conftest import DATA

LIMIT = 10_000_000


def test_plain_text_title_and_dateline() -> None:
    [article] = load_file(DATA / "harbour-bridge.txt", LIMIT).articles
    assert article.title == "Harbourton council approves new harbour bridge"
    assert article.metadata["place"] == "Harbourton"
    assert article.metadata["outlet"] == "Coastal Herald"
    assert article.metadata["dateline_date"] == "Mar 3, 2024"
    assert article.published == date(2024, 3, 3)
    assert article.text == (DATA / "harbour-bridge.txt").read_text()


def test_dateline_without_year_keeps_text_date_but_no_published_date(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Title\nWashington, Dec 20 (NationPress) Someone said something.\n")
    [article] = load_file(path, LIMIT).articles
    assert article.metadata == {
        "place": "Washington", "dateline_date": "Dec 20", "outlet": "NationPress",
    }  # fmt: skip
    assert article.published is None


def test_markdown_title_drops_heading_marks() -> None:
    [article] = load_file(DATA / "chess-title.md", LIMIT).articles
    assert article.title == "Teenager wins regional chess title"


def test_html_keeps_visible_text_only() -> None:
    [article] = load_file(DATA / "orchard-harvest.html", LIMIT).articles
    assert article.title == "Apple harvest hits record"
    assert "warm spring weather & fewer frosts" in article.text
    assert "script" not in article.text and "color" not in article.text
    assert "Orchard news" not in article.text  # <title> is metadata, not body text


def test_json_object_fields() -> None:
    [article] = load_file(DATA / "lighthouse.json", LIMIT).articles
    assert article.title == "Lighthouse keeper retires after 40 years"
    assert article.published == date(2023, 11, 2)
    assert article.metadata["outlet"] == "Coastal Herald"


def test_jsonl_keeps_good_lines_and_reports_bad_ones() -> None:
    loaded = load_file(DATA / "wire.jsonl", LIMIT)
    assert [a.title for a in loaded.articles] == [
        "Rail strike called off",
        "Museum reopens after flood",
    ]
    assert loaded.articles[0].metadata["url"] == "https://example.org/rail-strike"
    assert loaded.articles[1].source.endswith("wire.jsonl#3")
    assert any("line 2" in w and "malformed JSON" in w for w in loaded.warnings)
    assert any("line 4" in w and "no non-empty text" in w for w in loaded.warnings)


def test_article_ids_are_stable_and_distinct() -> None:
    first = [a.id for f in load_paths([DATA]) for a in f.articles]
    second = [a.id for f in load_paths([DATA]) for a in f.articles]
    assert first == second and len(set(first)) == len(first) == 6


def test_latin1_file_is_decoded_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("Café society\nThe café served crème brûlée for £3.\n".encode("cp1252"))
    loaded = load_file(path, LIMIT)
    assert loaded.error is None
    assert "crème brûlée for £3" in loaded.articles[0].text
    assert "not valid UTF-8" in loaded.warnings[0]


def test_bad_files_get_reasons(tmp_path: Path) -> None:
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.md").write_text("  \n\n\t\n")
    (tmp_path / "broken.json").write_text('{"title": "x", "text": ')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "notext.json").write_text('{"title": "only a title"}')
    (tmp_path / "huge.txt").write_bytes(b"word " * 4_000_000)  # 20 MB
    reasons = {Path(f.source).name: f.error for f in load_paths([tmp_path], max_bytes=LIMIT)}
    assert reasons["binary.txt"].startswith("binary file")
    assert reasons["empty.txt"] == "empty file"
    assert reasons["blank.md"] == "empty file"
    assert reasons["broken.json"].startswith("malformed JSON at line 1")
    assert "expected a JSON object" in reasons["list.json"]
    assert "no non-empty text field" in reasons["notext.json"]
    assert "20.0 MB, above the 10 MB limit" in reasons["huge.txt"]


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "folder.txt"
    path.mkdir()
    assert load_file(path, LIMIT).error == "not a file"


def test_discover_recurses_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.txt").write_text("Deep\ntext")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.txt").write_text("Hidden\ntext")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "UPPER.TXT").write_text("Upper\ntext")
    assert [p.name for p in discover([tmp_path])] == ["UPPER.TXT", "deep.txt"]


def test_explicit_unsupported_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG")
    [loaded] = load_paths([path])
    assert loaded.error.startswith("unsupported file type .png")
