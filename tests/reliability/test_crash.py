"""Kill -9 an ingest at random moments, resume it, and compare with a clean run's index."""

from __future__ import annotations

import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from askdocs.api import Assistant
from conftest import FakeEmbeddings
from faults import Recorder, synthetic_corpus

CHILD = Path(__file__).with_name("ingest_child.py")
TRIALS = 20


def _ingest(index: Path, corpus: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(index), str(corpus), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _started(process: subprocess.Popen[str]) -> float:
    """Block until the child says its ingest began (imports and start-up are over)."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("ingesting"):
            return time.perf_counter()
    raise AssertionError(
        f"the ingest never began: {process.stderr.read() if process.stderr else ''}"
    )


def _until_file(process: subprocess.Popen[str], n: int) -> None:
    """Block until the child reports its n-th file done."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("file ") and int(line.split()[1]) >= n:
            return
    raise AssertionError(f"the ingest ended before file {n}")


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
        "sentence_rows": len(store.stored_sentence_counts()),
        "problems": assistant.check(),
    }


def test_kill_minus_nine_at_random_points_then_resume(tmp_path: Path, record: Recorder) -> None:
    corpus = synthetic_corpus(tmp_path / "corpus", articles=400)
    reference_index = tmp_path / "reference"
    clean = _ingest(reference_index, corpus)
    began = _started(clean)
    assert clean.wait(timeout=300) == 0, clean.stderr.read() if clean.stderr else ""
    ingest_seconds = time.perf_counter() - began  # the ingest alone, not interpreter start
    reference = _state(reference_index)
    assert reference["problems"] == [] and reference["duplicate_chunks"] == 0
    assert reference["keyword_ids"] == reference["chunks"]
    total = len(reference["articles"])  # type: ignore[arg-type]

    rng = random.Random(7)
    outcomes, progress, missed = [], [], []
    for trial in range(TRIALS):
        index = tmp_path / f"trial-{trial}"
        kills = 1 if trial % 2 == 0 else 2  # odd trials are killed again while resuming
        for _ in range(kills):
            process = _ingest(index, corpus)
            # Killed as it reports a file done, the file drawn at random: certainly mid-work
            # (interpreter start-up is over, the ingest has not finished), wherever it is.
            target = rng.randint(1, total - 1)
            _until_file(process, target)
            process.send_signal(signal.SIGKILL)
            output, _ = process.communicate(timeout=60)
            if process.returncode != -signal.SIGKILL or "done" in output:
                missed.append((trial, process.returncode))  # the kill landed on nothing
            progress.append(target)
        resumed = _ingest(index, corpus)
        assert resumed.wait(timeout=300) == 0, resumed.stderr.read() if resumed.stderr else ""
        state = _state(index)
        lost = set(reference["articles"]) - set(state["articles"])  # type: ignore[arg-type]
        same = all(state[key] == reference[key] for key in reference)
        outcomes.append((trial, len(lost), state["duplicate_chunks"], same, state["problems"]))
    failures = [o for o in outcomes if not o[3]]
    lost_articles = sum(o[1] for o in outcomes)
    duplicates = sum(o[2] for o in outcomes)  # type: ignore[misc]
    record(
        "crash safety", "kill -9 during ingest, then resume", trials=TRIALS,
        failures=len(failures) + len(missed),
        detail=f"{len(progress)} kills, each of a running ingest (SIGKILL status), as it "
        f"reported file {min(progress)}-{max(progress)} of {total} done "
        f"(median {statistics.median(progress):.0f}); "
        f"{lost_articles} lost articles, {duplicates} duplicated chunks; clean ingest "
        f"{ingest_seconds:.1f} s, {len(reference['chunks'])} chunks",  # type: ignore[arg-type]
    )  # fmt: skip
    assert not missed, f"kills that hit no running ingest: {missed}"
    assert not failures, failures
    # The kills spread over the work: some early, some late, not all at one point.
    assert min(progress) < total // 4 and max(progress) > total // 2, progress


def _as_from_a_shell() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])


def test_ctrl_c_stops_cleanly_and_says_how_far(tmp_path: Path, record: Recorder) -> None:
    corpus = synthetic_corpus(tmp_path / "corpus", articles=2000)
    # The child starts as from a shell: SIGINT with its default action and not blocked. Both
    # an ignored and a blocked SIGINT are inherited across exec, and what ran earlier in this
    # process (Chroma, servers in threads) can leave it so; in the full suite the child was
    # then deaf to Ctrl-C and indexed everything (a run alone passed).
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    process = subprocess.Popen(
        [sys.executable, "-m", "askdocs.cli", "--index", str(tmp_path / "ix"), "ingest",
         str(corpus)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_as_from_a_shell,
    )  # fmt: skip
    print("SIGINT here:", signal.getsignal(signal.SIGINT), "blocked:", sorted(blocked))
    # Mid-ingest, whatever the machine's speed: the index exists (the ingest has begun), then
    # long enough for the model to load and articles to be written; 2,000 articles take the
    # real model far longer than that.
    deadline = time.monotonic() + 120
    while not (tmp_path / "ix" / "chroma.sqlite3").exists() and process.poll() is None:
        assert time.monotonic() < deadline, "the ingest never began"
        time.sleep(0.1)
    time.sleep(10)
    still_running = process.poll() is None
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        output += "\n[the ingest went on for 120 s after Ctrl-C]"
    interrupted = "interrupted" in output
    ok = still_running and interrupted and process.returncode == 130
    record(
        "crash safety", "Ctrl-C during a running ingest", trials=1, failures=0 if ok else 1,
        detail=f"exit {process.returncode}; says what is indexed: {interrupted}",
    )  # fmt: skip
    assert still_running, "the ingest ended before Ctrl-C: nothing was interrupted"
    assert interrupted, output
    assert process.returncode == 130  # documented: Ctrl-C exits 130 after keeping what was written
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
