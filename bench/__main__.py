"""`make bench`: run every benchmark, print figures, write bench/results.json.

A figure whose code is not built is left out, never invented.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

MODULES = (
    "bench.bench_core",
    "bench.bench_tick",
    "bench.bench_replay",
    "bench.bench_api",
    "bench.bench_operator",
    "bench.bench_loan",
)


def main() -> int:
    results: list[dict[str, object]] = []
    failed = []
    for name in MODULES:
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(name)
            results += module.run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            print(f"{name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {len(results)} figures to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
