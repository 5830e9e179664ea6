"""Kill -9 an ingest at random moments, resume it, and compare with a clean run's index."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from askdocs.api import Assistant
from conftest import FakeEmbeddings
from faults import Recorder, synthetic_corpus

CHILD = Path(__file__).with_name("ingest_child.py")
TRIALS = 20


def _ingest(index: Path, corpus: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(index), str(corpus)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _state(index: Path) -> dict[str, object]:
    """Everything a clean run determines, plus every way the index could disagree with itself."""
    assistant = Assistant(index_dir=index, embedder=FakeEmbeddings())
    store = assistant.store
    chunk_ids = store.chunks.get(include=[])["ids"]
    return {
        "articles": {a.id: a.version for a in store.indexed_articles().values()},
        "chunks": sorted(chunk_ids),
        "duplicate_chunks": len(chunk_ids) - len(set(chunk_ids)),
        "keyword_ids": sorted(store.keywords.chunk_ids()),
        "sentence_rows": len(store.sentences.get(chunk_ids)),
        "problems": assistant.check(),
    }


def test_kill_minus_nine_at_random_points_then_resume(tmp_path: Path, record: Recorder) -> None:
    corpus = synthetic_corpus(tmp_path / "corpus", articles=400)
    reference_index = tmp_path / "reference"
    started = time.perf_counter()
    clean = _ingest(reference_index, corpus)
    assert clean.wait(timeout=300) == 0, clean.stderr.read() if clean.stderr else ""
    clean_seconds = time.perf_counter() - started
    reference = _state(reference_index)
    assert reference["problems"] == [] and reference["duplicate_chunks"] == 0
    assert reference["keyword_ids"] == reference["chunks"]

    rng = random.Random(7)
    outcomes = []
    for trial in range(TRIALS):
        index = tmp_path / f"trial-{trial}"
        kills = 1 if trial % 2 == 0 else 2  # odd trials are killed again while resuming
        delays = []
        for _ in range(kills):
            process = _ingest(index, corpus)
            delay = rng.uniform(0.2, clean_seconds)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
            delays.append(round(delay, 2))
        resumed = _ingest(index, corpus)
        assert resumed.wait(timeout=300) == 0, resumed.stderr.read() if resumed.stderr else ""
        state = _state(index)
        lost = set(reference["articles"]) - set(state["articles"])  # type: ignore[arg-type]
        same = all(state[key] == reference[key] for key in reference)
        outcomes.append((delays, len(lost), state["duplicate_chunks"], same, state["problems"]))
    failures = [o for o in outcomes if not o[3]]
    lost_articles = sum(o[1] for o in outcomes)
    duplicates = sum(o[2] for o in outcomes)  # type: ignore[misc]
    record(
        "crash safety", "kill -9 during ingest, then resume", trials=TRIALS,
        failures=len(failures),
        detail=f"{lost_articles} lost articles, {duplicates} duplicated chunks; clean run "
        f"{clean_seconds:.1f} s, {len(reference['chunks'])} chunks",  # type: ignore[arg-type]
    )  # fmt: skip
    assert not failures, failures
    assert os.listdir(tmp_path)


def test_ctrl_c_stops_cleanly_and_says_how_far(tmp_path: Path, record: Recorder) -> None:
    corpus = synthetic_corpus(tmp_path / "corpus", articles=400)
    process = subprocess.Popen(
        [sys.executable, "-m", "askdocs.cli", "--index", str(tmp_path / "ix"), "ingest",
         str(corpus)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    time.sleep(8)  # model loaded, some articles written
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    interrupted = "interrupted" in output
    record(
        "crash safety", "Ctrl-C during ingest", trials=1, failures=0 if interrupted else 1,
        detail=f"exit {process.returncode}; says what is indexed: {interrupted}",
    )  # fmt: skip
    assert interrupted, output
    assert process.returncode != 0
    resumed = Assistant(index_dir=tmp_path / "ix")
    assert resumed.check() == []


def test_a_second_ingest_on_the_same_index_is_refused(tmp_path: Path, record: Recorder) -> None:
    corpus = synthetic_corpus(tmp_path / "corpus", articles=400)
    index = tmp_path / "ix"
    first = _ingest(index, corpus)
    time.sleep(1.5)  # the first one holds the lock by now
    second = _ingest(index, corpus)
    _, second_err = second.communicate(timeout=120)
    assert first.wait(timeout=300) == 0
    refused = second.returncode != 0 and "another ingest is running" in second_err
    state = _state(index)
    clean = state["problems"] == [] and state["duplicate_chunks"] == 0
    record(
        "crash safety", "two ingests on one index at once", trials=1,
        failures=0 if refused and clean else 1,
        detail="the second is refused at once with a message; the index checks clean",
    )  # fmt: skip
    assert refused, second_err
    assert clean
