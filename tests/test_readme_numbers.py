"""The README's tables of measured numbers are the ones the measuring commands recorded under
benchmarks/results/ (scripts/readme_numbers.py writes them; here nothing is written)."""

import importlib.util
import re

from conftest import REPO

README = REPO / "README.md"


def _script():
    spec = importlib.util.spec_from_file_location(
        "readme_numbers", REPO / "scripts" / "readme_numbers.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_are_the_recorded_numbers() -> None:
    numbers = _script()
    text = README.read_text(encoding="utf-8")
    blocks = set(re.findall(r"<!-- numbers:([\w-]+) -->", text))
    assert blocks == set(numbers.RENDERERS), "a README block without a renderer, or the reverse"
    assert numbers.render(text) == text, "stale README numbers: run scripts/readme_numbers.py"


def test_an_edited_number_is_caught() -> None:
    # The check compares whole tables: one figure typed by hand makes it fail.
    numbers = _script()
    text = README.read_text(encoding="utf-8")
    body = numbers.BLOCK.search(text)
    assert body is not None
    figure = re.search(r"\d\.\d{3}", body["body"])
    assert figure is not None
    tampered = (
        text[: body.start("body") + figure.start()]
        + "9.999"
        + text[body.start("body") + figure.end() :]
    )
    assert numbers.render(tampered) != tampered
