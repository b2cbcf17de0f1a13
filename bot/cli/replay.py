"""`flash-green replay | simulate-ticks`: backtest recorded books through the trading cycle; make a sample.

Exit codes: 0 done; 1 a file cannot be read (the message names file, line, column and what was
expected); 2 a usage or settings problem (as every `flash-green` command); 130 interrupted. In
every failing case the output directory does not appear.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.cli.options import EXIT_USAGE

EXIT_BAD_FILE = 1
EXIT_INTERRUPTED = 130


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    from bot.replay.ticks import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise click.BadParameter(f"expected an ISO 8601 UTC time, got {value!r}", param_hint=option) from None


def _fail(message: str, code: int) -> click.exceptions.Exit:
    click.echo(f"flash-green replay: {message}", err=True)
    return click.exceptions.Exit(code)


@click.command(short_help="replay recorded books through the trading cycle; report as JSON and HTML")
@click.argument("prices", type=click.Path(path_type=Path))
@click.option(
    "--futures", type=click.Path(path_type=Path), help="daily futures feed, beside a spot feed as PRICES"
)
@click.option(
    "--from", "since", metavar="TIME", help="first change replayed (ISO 8601 UTC); earlier rows set the books"
)
@click.option("--to", "until", metavar="TIME", help="last change replayed (ISO 8601 UTC)")
@click.option(
    "--set", "sets", multiple=True, metavar="NAME=VALUE", help="a setting for the replay (repeatable)"
)
@click.option(
    "--sweep",
    "sweeps",
    multiple=True,
    metavar="NAME=V1,V2",
    help="one run per value (repeatable: all combinations)",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="output directory (must not exist) [default: replay-<UTC time>]",
)
def replay(
    prices: Path,
    futures: Path | None,
    since: str | None,
    until: str | None,
    sets: tuple[str, ...],
    sweeps: tuple[str, ...],
    out: Path | None,
) -> None:
    """Replay PRICES (a tick file, CSV or Parquet, or a spot feed with --futures) through the cycle.

    Same guards, sizing, costs, loan and journal code as the orchestrator; orders filled at the
    recorded books. Writes report.json, report.html and journal.db to --out (docs/replay.md).
    """
    from bot.config import ConfigError
    from bot.replay.backtest import (
        ReplayRequest,
        config_message,
        parse_assignment,
        parse_sweep,
        run_replay,
        total_rows,
    )
    from bot.replay.errors import ReplayError, TickFileError
    from bot.replay.runner import ReplayCancelled

    try:
        request = ReplayRequest(
            prices=prices,
            futures=futures,
            since=_time(since, "--from"),
            until=_time(until, "--to"),
            sets=dict(parse_assignment(s) for s in sets),
            sweep=[parse_sweep(s) for s in sweeps],
            out=out or Path(f"replay-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"),
        )
    except ReplayError as exc:
        raise _fail(str(exc), EXIT_USAGE) from exc
    cancel = threading.Event()
    try:
        with _progress(total_rows(request), max(1, len(_runs(request)))) as hear:
            report = run_replay(request, progress=hear, cancel=cancel)
    except ConfigError as exc:
        raise _fail(config_message(exc), EXIT_USAGE) from exc
    except TickFileError as exc:
        raise _fail(str(exc), EXIT_BAD_FILE) from exc
    except (ReplayCancelled, KeyboardInterrupt) as exc:
        raise _fail("interrupted; nothing written", EXIT_INTERRUPTED) from exc
    except ReplayError as exc:
        raise _fail(str(exc), EXIT_USAGE) from exc
    _echo_summary(report, request.out)


def _runs(request: object) -> list[dict[str, str]]:
    from bot.replay.backtest import ReplayRequest, combinations

    assert isinstance(request, ReplayRequest)
    return combinations(request)


class _progress:
    """A rich progress bar on a terminal (rows read, per run); silent when stderr is not one."""

    def __init__(self, total: int | None, runs: int) -> None:
        self.total = None if total is None else total * runs
        self.bar: object = None
        self.done_before = 0

    def __enter__(self) -> Callable[[int, int], None] | None:
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )  # fmt: skip
        bar.start()
        task = bar.add_task("rows", total=self.total)
        self.bar = bar
        runs_done: dict[int, int] = {}

        def hear(run: int, rows: int) -> None:
            runs_done[run] = rows
            bar.update(task, completed=sum(runs_done.values()))

        return hear

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()  # type: ignore[attr-defined]


def _echo_summary(report: dict[str, object], out: Path) -> None:
    runs = report.get("sweep")
    if isinstance(runs, list):
        for run in runs:
            s = run["report"]["summary"]
            click.echo(f"{run['label']}: {s['trades']} trades, PnL {s['pnl_gbp']} GBP")
    else:
        s = report["summary"]
        assert isinstance(s, dict)
        click.echo(
            f"{s['trades']} trades, PnL {s['pnl_gbp']} GBP, hit rate {s['hit_rate']}, "
            f"max drawdown {s['max_drawdown_gbp']} GBP"
        )
    click.echo(f"report: {out / 'report.html'}")


@click.command(
    name="simulate-ticks", short_help="write a sample tick file from the simulated markets (seeded)"
)
@click.option(
    "--days", type=click.FloatRange(min=0, min_open=True), required=True, help="how many days of books"
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="the file: .csv or .parquet")
@click.option("--seed", type=int, default=7, show_default=True, help="the simulated market's seed")
@click.option(
    "--interval-ms",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="one book read per leg this often",
)
@click.option(
    "--start", metavar="TIME", help="first book's time, ISO 8601 UTC [default: 2026-01-05T00:00:00Z]"
)
def simulate_ticks(days: float, out: Path, seed: int, interval_ms: int, start: str | None) -> None:
    """Write DAYS of book changes from the simulated markets to --out (the same seed, the same file)."""
    from bot.config import Settings
    from bot.replay.simulate import DEFAULT_START
    from bot.replay.simulate import simulate_ticks as write

    at = _time(start, "--start") or DEFAULT_START
    partial = out.with_name(f".{out.stem}.partial{out.suffix}")  # the suffix picks the format
    try:
        rows = write(
            partial, Settings.from_mapping({}), days=days, interval_ms=interval_ms, seed=seed, start=at
        )
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    click.echo(f"{rows} book changes written to {out}")
