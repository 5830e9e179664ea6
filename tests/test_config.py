from pathlib import Path

import pytest
from pydantic import ValidationError

from askdocs.config import Settings, load_settings


def test_defaults_work_offline() -> None:
    settings = Settings()
    assert settings.index_dir == Path("index")
    assert settings.chroma_url is None
    assert settings.llm == "extractive"


def test_precedence_file_then_env_then_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "askdocs.toml"
    config.write_text('k = 7\nmmr = true\nindex_dir = "from-file"\n')
    assert load_settings(config).k == 7
    monkeypatch.setenv("ASKDOCS_K", "9")
    assert load_settings(config).k == 9
    assert load_settings(config, k=11).k == 11
    assert load_settings(config).mmr is True
    monkeypatch.setenv("ASKDOCS_INDEX", "from-env")
    assert load_settings(config).index_dir == Path("from-env")


def test_config_file_in_working_folder_is_picked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "askdocs.toml").write_text("k = 4\n")
    assert load_settings().k == 4


def test_unknown_keys_and_bad_values_are_rejected(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("top_k = 3\n")
    with pytest.raises(ValidationError, match="top_k"):
        load_settings(config)
    with pytest.raises(ValidationError, match="greater than 0"):
        load_settings(k=0)
    with pytest.raises(ValidationError, match="must be smaller than chunk_tokens"):
        load_settings(chunk_tokens=50, chunk_overlap_tokens=50)
    with pytest.raises(ValidationError, match="unknown answer backend"):
        load_settings(llm="gpt-17")
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")


def test_settings_hash_ignores_location_but_not_behaviour() -> None:
    base = Settings().settings_hash()
    assert Settings(index_dir=Path("elsewhere")).settings_hash() == base
    assert Settings(k=9).settings_hash() != base


def test_overrides_of_given_settings_are_validated_like_any_others(tmp_path: Path) -> None:
    # Assistant(settings=s, k=3) used to drop index_dir (TypeError later) and k=0 passed:
    # model_copy(update=...) skips validation.
    from askdocs.api import Assistant

    base = load_settings(index_dir=tmp_path)
    assistant = Assistant(settings=base, k=3)
    assert assistant.settings.k == 3 and assistant.settings.index_dir == base.index_dir
    assert assistant.variant(mmr=True).settings.mmr and assistant.variant().settings == (
        assistant.settings
    )
    for bad in ({"k": 0}, {"chunk_overlap_tokens": 10_000}, {"no_such_setting": 1}):
        with pytest.raises(ValidationError):
            Assistant(settings=base, **bad)
        with pytest.raises(ValidationError):
            Assistant(index_dir=tmp_path, **bad)
        with pytest.raises(ValidationError):
            assistant.variant(**bad)
