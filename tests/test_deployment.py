"""One index, many machines, tested as deployed: a real `chroma run` on 127.0.0.1 and askdocs
processes in separate working folders (as on separate machines: nothing shared but the Chroma
server). A writer ingests and removes; a long-running `askdocs serve` with keyword-only
retrieval must find what was ingested and stop finding what was removed within 5 s; a process
started afterwards in an empty folder answers at once with sentence-level evidence; a writer
killed by SIGKILL mid-ingest keeps other machines out (named) until its writer lease expires,
then another process finishes its work and the index checks clean."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, free_port, wait_until_serving
from faults import synthetic_corpus

pytestmark = pytest.mark.slow

CATCH_UP_SECONDS = 5.0  # issue #13: a long-running process sees another's write within 5 s
FIRST_ANSWER_SECONDS = 3.0  # issue #13: a new machine's first answer, after its imports
# (from process start, 2.6-2.9 s in all on 2 cores: `import askdocs.api` ~1.1 s, chromadb ~0.8 s)
NEW_STORY = (
    "Ferry pilots strike in Quillonport\n\n"
    "Ferry pilots in Quillonport walked out on Monday over rosters. "
    "Their union leader, Tamsin Okonjo-Reyes, said the strike would last a week."
)
LEASE_SECONDS = 10.0  # a dead writer's lease: long enough for the next machine to start
# within it (about 4 s on 2 cores) and be refused, short enough to wait out
RUBIO_SENTENCE = "US Secretary of State Marco Rubio has accused the Venezuelan government"


def _env(chroma_url: str, folder: Path, **extra: str) -> dict[str, str]:
    """A process of its own "machine": its own working folder and local index folder."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASKDOCS_")}
    return env | {
        "ASKDOCS_CHROMA_URL": chroma_url, "ASKDOCS_INDEX": str(folder / "index"), **extra,
    }  # fmt: skip


def _askdocs(env: dict[str, str], cwd: Path, *args: str) -> str:
    askdocs = Path(sys.executable).with_name("askdocs")
    done = subprocess.run(
        [str(askdocs), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _search(url: str, query: str) -> list[dict]:
    request = urllib.request.Request(
        f"{url}/v1/search",
        data=json.dumps({"query": query, "k": 5}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["passages"]


def _seconds_until(condition, limit: float) -> float:  # type: ignore[no-untyped-def]
    """Poll condition every 0.2 s; the seconds it took, or fail after `limit`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            raise AssertionError(f"not within {limit} s")
        time.sleep(0.2)
    return time.monotonic() - started


def test_processes_on_separate_folders_share_one_chroma_server(
    chroma_server: str, tmp_path: Path
) -> None:
    writer = _env(chroma_server, tmp_path / "writer")
    _askdocs(writer, tmp_path / "writer", "ingest", str(REPO / "examples" / "articles"))

    reader_folder = tmp_path / "reader"
    port = free_port()
    reader = subprocess.Popen(
        [str(Path(sys.executable).with_name("askdocs")), "serve", "--port", str(port)],
        env=_env(chroma_server, reader_folder, ASKDOCS_RETRIEVAL="keyword"),
        cwd=reader_folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/healthz", reader, 120, "askdocs serve")
        query = "Tamsin Okonjo-Reyes ferry pilots strike"
        assert _search(url, "Rubio Venezuela")  # it answers from the server's articles
        assert not any("Okonjo-Reyes" in p["text"] for p in _search(url, query))

        story = tmp_path / "writer" / "new" / "ferry.txt"
        story.parent.mkdir()
        story.write_text(NEW_STORY, encoding="utf-8")
        _askdocs(writer, tmp_path / "writer", "ingest", str(story.parent))
        found = _seconds_until(
            lambda: any("Okonjo-Reyes" in p["text"] for p in _search(url, query)),
            CATCH_UP_SECONDS,
        )
        _askdocs(writer, tmp_path / "writer", "remove", str(story))
        gone = _seconds_until(
            lambda: not any("Okonjo-Reyes" in p["text"] for p in _search(url, query)),
            CATCH_UP_SECONDS,
        )
        assert reader.poll() is None  # the same long-running process throughout
    finally:
        reader.send_signal(signal.SIGINT)
        reader.wait(timeout=30)
    print(f"keyword-only reader: found after {found:.1f} s, gone after {gone:.1f} s")

    # A new machine: empty folder, first question. Its embedder must not embed a single
    # sentence of the articles: the sentence vectors come from Chroma.
    fresh = tmp_path / "fresh"
    code = (
        "import json, sys, time\n"
        "from askdocs.api import Assistant\n"
        "import chromadb\n"  # imports are the interpreter's start-up, not the first answer
        "started = time.monotonic()\n"
        "a = Assistant()\n"
        "embedded = []\n"
        "real = a.embedder.embed_documents\n"
        "a.embedder.embed_documents = lambda texts: embedded.extend(texts) or real(texts)\n"
        "answer = a.ask('Who did Rubio accuse?')\n"
        "print(json.dumps({'quote': answer.citations[0].quote if answer.citations else '',"
        " 'embedded': len(embedded), 'seconds': time.monotonic() - started}))\n"
    )
    process_started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(chroma_server, fresh), cwd=fresh,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    whole_process = time.monotonic() - process_started
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert RUBIO_SENTENCE in result["quote"]
    assert result["embedded"] == 0
    print(f"new machine: first answer {result['seconds']:.2f} s, {whole_process:.2f} s process")
    assert result["seconds"] < FIRST_ANSWER_SECONDS


def test_a_writer_killed_mid_ingest_is_finished_by_another_process(
    chroma_server: str, tmp_path: Path
) -> None:
    corpus = synthetic_corpus(tmp_path / "corpus", articles=300)
    child = REPO / "tests" / "reliability" / "ingest_child.py"
    run = {"ASKDOCS_COLLECTION": "crash", "ASKDOCS_WRITER_LEASE_SECONDS": str(LEASE_SECONDS)}

    def ingest(folder: Path) -> subprocess.Popen[str]:
        env = _env(chroma_server, folder, **run)
        return subprocess.Popen(
            [sys.executable, str(child), str(folder / "index"), str(corpus)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    first = ingest(tmp_path / "machine-a")
    assert first.stdout is not None
    for line in first.stdout:
        if line.startswith("file ") and int(line.split()[1]) >= 120:
            break
    first.kill()
    assert first.wait(timeout=30) == -signal.SIGKILL  # it died mid-work, by the kill
    killed_at = time.monotonic()
    # Another machine is refused, by name, while the dead writer's lease lasts ...
    second = ingest(tmp_path / "machine-b")
    out, err = second.communicate(timeout=600)
    assert time.monotonic() - killed_at < LEASE_SECONDS, "started too late to meet the lease"
    assert second.returncode != 0 and f"pid {first.pid} (ingest_child.py)" in err, err
    # ... and finishes the work once the lease has expired.
    while True:
        second = ingest(tmp_path / "machine-b")
        out, err = second.communicate(timeout=600)
        if second.returncode == 0 or time.monotonic() - killed_at > LEASE_SECONDS + 30:
            break
        assert "another writer holds" in err, err
    assert second.returncode == 0, err
    assert "done" in out

    from askdocs.api import Assistant
    from conftest import FakeEmbeddings

    env = _env(chroma_server, tmp_path / "machine-c", **run)
    checker = Assistant(
        index_dir=env["ASKDOCS_INDEX"], chroma_url=chroma_server, collection="crash",
        embedder=FakeEmbeddings(),
    )  # fmt: skip
    assert checker.stats()["articles"] == 300
    assert checker.check() == []
