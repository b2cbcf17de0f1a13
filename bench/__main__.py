"""`make bench`: run every benchmark, print figures, write bench/results.json.

`python -m bench bench_loan bench_replay` runs only those and updates their figures in
bench/results.json, keeping the others' (the operator's 200-bot run alone takes a quarter of an
hour on the development VM). A figure whose code is not built is left out, never invented.
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


def main(argv: list[str] | None = None) -> int:
    chosen = [f"bench.{name.removeprefix('bench.')}" for name in (sys.argv[1:] if argv is None else argv)]
    unknown = [name for name in chosen if name not in MODULES]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(MODULES)}", file=sys.stderr
        )
        return 2
    results: list[dict[str, object]] = []
    failed = []
    for name in chosen or MODULES:
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(name)
            results += module.run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            print(f"{name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    out = Path(__file__).with_name("results.json")
    if chosen and out.exists():  # a partial run replaces its own figures and keeps the rest
        fresh = {figure["name"] for figure in results}
        kept = [figure for figure in json.loads(out.read_text()) if figure["name"] not in fresh]
        results = kept + results
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {len(results)} figures to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
