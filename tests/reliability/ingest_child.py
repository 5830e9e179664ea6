"""Run one ingest in its own process (so the fault suite can kill it): INDEX CORPUS."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from askdocs.api import Assistant
from conftest import FakeEmbeddings

if __name__ == "__main__":
    report = Assistant(index_dir=sys.argv[1], embedder=FakeEmbeddings()).ingest([sys.argv[2]])
    print(f"done {report.added} {report.updated} {report.unchanged}", flush=True)
