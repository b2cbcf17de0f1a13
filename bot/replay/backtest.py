"""A whole replay: inputs, settings (`--set`, `--sweep`), one run per combination, the output directory.

Settings start from the defaults, never the process environment or the live `.env`, so a replay
gives the same answer on any machine; `--set NAME=VALUE` changes one and `--sweep NAME=V1,V2`
runs once per value (the product of every sweep). Each combination is validated by `Settings`
before anything runs, so a bad value is the same configuration error the bot itself gives.

Nothing is half written: the runs go into a hidden directory beside `--out`, renamed to `--out`
once every report is written; a failure or a cancel removes it. Each run has its own SQLite
journal (`journal.db`) there, never the live one.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings
from bot.journal import Journal
from bot.replay.errors import ReplayError
from bot.replay.feeds import feed_batches, is_feed
from bot.replay.html import render_html
from bot.replay.report import build_report
from bot.replay.runner import Progress, ReplayRunner
from bot.replay.ticks import TickBatch, is_parquet, read_ticks

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
JOURNAL_FILE = "journal.db"
MAX_RUNS = 100  # combinations of one sweep


@dataclass
class ReplayRequest:
    """What `flash-green replay` (or the API) asked for."""

    prices: Path
    out: Path
    futures: Path | None = None
    since: datetime | None = None
    until: datetime | None = None
    sets: dict[str, str] = field(default_factory=dict)
    sweep: list[tuple[str, list[str]]] = field(default_factory=list)


def parse_assignment(text: str) -> tuple[str, str]:
    """`NAME=VALUE` → (NAME, VALUE) with NAME a known setting; `ReplayError` otherwise."""
    name, sep, value = text.partition("=")
    name = name.strip().upper()
    if not sep or not name:
        raise ReplayError(f"expected NAME=VALUE, got {text!r}")
    if name.lower() not in Settings.model_fields:
        raise ReplayError(f"unknown setting {name} (flash-green settings lists them)")
    return name, value.strip()


def parse_sweep(text: str) -> tuple[str, list[str]]:
    """`NAME=V1,V2,...` → (NAME, [V1, V2, ...])."""
    name, values = parse_assignment(text)
    listed = [v.strip() for v in values.split(",") if v.strip()]
    if not listed:
        raise ReplayError(f"--sweep {name} needs values, e.g. {name}=1,2,3")
    return name, listed


def combinations(request: ReplayRequest) -> list[dict[str, str]]:
    """The settings of each run: the `--set` values, then one value of each sweep (at most MAX_RUNS)."""
    runs = math.prod(len(values) for _, values in request.sweep)
    if runs > MAX_RUNS:
        raise ReplayError(f"the sweeps make {runs} runs; at most {MAX_RUNS} in one replay")
    names = [name for name, _ in request.sweep]
    return [
        {**request.sets, **dict(zip(names, values, strict=True))}
        for values in itertools.product(*(values for _, values in request.sweep))
    ]


def replay_settings(values: dict[str, str], data_dir: Path) -> Settings:
    """Settings of one run: defaults plus `values`; `ConfigError` exactly as the bot would give it."""
    return Settings.from_mapping({**values, "DATA_DIR": str(data_dir)})


def config_message(exc: ConfigError) -> str:
    """A configuration error on one line (the CLI's and the API's answer)."""
    return "invalid settings: " + "; ".join(exc.messages)


def input_batches(request: ReplayRequest, settings: Settings) -> Iterator[TickBatch]:
    """The book changes of the request's files: a tick file, or the original spot and futures feeds."""
    for path in (request.prices, request.futures):
        if path is not None and not path.is_file():
            raise ReplayError(f"{path}: no such file")
    if not is_parquet(request.prices) and is_feed(request.prices):
        if request.futures is None:
            raise ReplayError(
                f"{request.prices} is a spot price feed: give its futures feed with --futures FILE"
            )
        return feed_batches(
            request.prices,
            request.futures,
            levels=settings.book_levels,
            size_mwh=settings.book_size_mwh,
            use_depth=settings.use_depth_sim,
        )
    if request.futures is not None:
        raise ReplayError(
            "--futures goes with a spot price feed (timestamp_iso,price_gbp_per_mwh), not a tick file"
        )
    return read_ticks(request.prices)


def total_rows(request: ReplayRequest) -> int | None:
    """Rows in the input when cheap to know (Parquet's footer); None for CSV."""
    if is_parquet(request.prices) and request.prices.is_file():
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(str(request.prices)).metadata.num_rows)
        except Exception:  # the reader reports the file's problem with its line and column
            return None
    return None


def open_run_journal(run_dir: Path, bot: str) -> Journal:
    """The run's own journal (`journal.db` in `run_dir`), migrated to head.

    Not fsynced (`durable=False`): the run's directory is a staging one, renamed into place only
    when every run is complete, so a half-written journal is never kept. The statements and
    transactions are the live journal's, so what it records is the same.
    """
    return Journal.open(f"sqlite:///{run_dir / JOURNAL_FILE}", bot=bot, migrate=True, durable=False)


def _run_one(
    request: ReplayRequest,
    values: dict[str, str],
    settings: Settings,
    run_dir: Path,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> dict[str, Any]:
    run_dir.mkdir(parents=True, exist_ok=True)
    journal = open_run_journal(run_dir, settings.bot_name)
    try:
        runner = ReplayRunner(
            settings, journal, since=request.since, until=request.until, progress=progress, cancel=cancel
        )
        outcome = runner.replay(input_batches(request, settings))
    finally:
        journal.close()
    inputs = [str(p) for p in (request.prices, request.futures) if p is not None]
    report = build_report(outcome, inputs=inputs, settings=values)
    _write(run_dir, report)
    return report


def _write(directory: Path, report: dict[str, Any]) -> None:
    (directory / REPORT_JSON).write_text(json.dumps(report, indent=1), encoding="utf-8")
    (directory / REPORT_HTML).write_text(render_html(report), encoding="utf-8")


def run_replay(
    request: ReplayRequest,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Run every combination; the output directory appears only when complete. Returns the report.

    `progress(run, rows)` hears the rows read by each run (run counts from 0).
    """
    out = request.out
    if out.exists():
        raise ReplayError(f"{out} exists already: give --out a new directory")
    runs = combinations(request)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    settings = [replay_settings(values, staging) for values in runs]  # every problem before any run
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        reports = []
        for k, (values, run_settings) in enumerate(zip(runs, settings, strict=True)):
            run_dir = staging if not request.sweep else staging / "runs" / f"{k + 1:02d}"
            hear = None if progress is None else (lambda rows, k=k: progress(k, rows))
            reports.append(_run_one(request, values, run_settings, run_dir, hear, cancel))
        if request.sweep:
            report: dict[str, Any] = {
                "inputs": reports[0]["inputs"],
                "sweep": [
                    {
                        "label": ", ".join(f"{n}={values[n]}" for n, _ in request.sweep),
                        "settings": values,
                        "run": f"runs/{k + 1:02d}",
                        "report": run_report,
                    }
                    for k, (values, run_report) in enumerate(zip(runs, reports, strict=True))
                ],
            }
            _write(staging, report)
        else:
            report = reports[0]
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report
