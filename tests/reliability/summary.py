"""Print the fault suite's summary table from test-output/reliability/results.jsonl, and keep
it as benchmarks/results/reliability.md (the README's Reliability table is written from that
file by scripts/readme_numbers.py)."""

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).parents[2] / "test-output" / "reliability" / "results.jsonl"
KEPT = Path(__file__).parents[2] / "benchmarks" / "results" / "reliability.md"


def main() -> int:
    if not RESULTS.is_file():
        print(f"no results at {RESULTS}; run `make reliability`", file=sys.stderr)
        return 1
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    lines = [
        "| area | case | trials | failures | detail |",
        "|---|---|---:|---:|---|",
        *(
            f"| {r['area']} | {r['case']} | {r['trials']:,} | {r['failures']} | {r['detail']} |"
            for r in rows
        ),
    ]
    table = "\n".join(lines)
    print(table)
    (RESULTS.parent / "summary.md").write_text(table + "\n")
    KEPT.write_text(table + "\n")
    return 1 if any(r["failures"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
