"""Run one ingest in its own process (so the fault suite can kill it or measure its memory):
INDEX CORPUS [MAX_FILE_MB].

Prints "ingesting" when the ingest itself begins (interpreter start and imports are over),
"file N" as each file is done, and at the end "done ADDED UPDATED UNCHANGED" and
"peak_rss_kb N" (this process's own peak memory).
"""

import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from askdocs.api import Assistant
from conftest import FakeEmbeddings


def peak_rss_kb() -> int:
    """This process's own peak memory. VmHWM belongs to the address space exec made, while
    ru_maxrss survives exec and would report the parent's peak (a pytest process of 1.6 GB)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    overrides = {"max_file_mb": float(sys.argv[3])} if len(sys.argv) > 3 else {}
    assistant = Assistant(index_dir=sys.argv[1], embedder=FakeEmbeddings(), **overrides)
    print("ingesting", flush=True)
    report = assistant.ingest(
        [sys.argv[2]], progress=lambda done, total, _: print(f"file {done}", flush=True)
    )
    print(f"done {report.added} {report.updated} {report.unchanged}", flush=True)
    print(f"peak_rss_kb {peak_rss_kb()}", flush=True)
