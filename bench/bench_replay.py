"""Replay throughput: book changes per second through the trading cycle, beside reading the file alone.

A Parquet tick file of at least 1,000,000 book changes is written from the simulated markets
(`simulate-ticks`' own code: one read per leg each second from a Monday midnight, so the night's
closed window, quiet hours and paying dislocations are all in it). The floor is reading and decoding
that file alone (`read_ticks`, the replay's own reader, every value decoded); the figure is the
whole replay (`ReplayRunner`: the orchestrator, `decide()`, the saga, the simulated loan and a
SQLite journal) over the same file. Medians of `REPEATS` runs each. Budget: >= 50,000 ticks/s and
>= 0.3 of the floor.

Run alone: `python -m bench.bench_replay` (`--profile` prints where the time goes).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.figures import figure, median

ROWS = 1_000_000
REPEATS = 3


def _write(path: Path, rows: int) -> int:
    from itertools import islice

    from bot.config import Settings
    from bot.replay.simulate import DEFAULT_START, simulated_rows
    from bot.replay.ticks import write_parquet

    settings = Settings.from_mapping({"DATA_DIR": str(path.parent)})
    # a change is ~20 rows (5 levels, 2 sides, 2 legs); enough seconds for `rows`, cut at `rows`
    source = simulated_rows(
        settings, start=DEFAULT_START, duration=timedelta(seconds=rows // 10), interval_ms=1000, seed=7
    )
    return write_parquet(path, islice(source, rows))


def _floor(path: Path) -> float:
    from bot.replay.ticks import read_ticks

    started = time.perf_counter()
    n = sum(len(batch.prices) for batch in read_ticks(path))
    return n / (time.perf_counter() - started)


def _replay(path: Path, work: Path) -> tuple[float, Counter[tuple[str, str]]]:
    from bot.config import Settings
    from bot.replay.backtest import open_run_journal
    from bot.replay.runner import ReplayRunner
    from bot.replay.ticks import read_ticks

    work.mkdir()
    settings = Settings.from_mapping({"DATA_DIR": str(work)})
    journal = open_run_journal(work, settings.bot_name)  # as `flash-green replay` opens it
    try:
        runner = ReplayRunner(settings, journal)
        started = time.perf_counter()
        outcome = runner.replay(read_ticks(path))
        elapsed = time.perf_counter() - started
    finally:
        journal.close()
    return outcome.rows / elapsed, outcome.outcomes


def bench_replay(rows: int = ROWS, repeats: int = REPEATS) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ticks.parquet"
        written = _write(path, rows)
        floors, replays = [], []
        outcomes: Counter[tuple[str, str]] = Counter()
        for k in range(repeats):  # interleaved: both see the same machine noise
            floors.append(_floor(path))
            tps, outcomes = _replay(path, Path(tmp) / f"run{k}")
            replays.append(tps)
    floor, replay = median(floors), median(replays)
    kinds: Counter[str] = Counter()
    for (kind, _), n in outcomes.items():
        kinds[kind] += n
    print(
        f"replay: {replay:,.0f} ticks/s over {written:,} book changes ({sum(kinds.values()):,} cycles: "
        f"{dict(kinds)}); reading and decoding alone {floor:,.0f} ticks/s; ratio {replay / floor:.3f} "
        f"(medians of {repeats}); budget >= 50,000 ticks/s and >= 0.3 of the floor"
    )
    return [
        figure("replay_ticks_per_s", replay, "ticks/s", floor),
        figure("replay_floor_ratio", replay / floor, "ratio", 1.0),
    ]


def run() -> list[dict[str, object]]:
    return bench_replay()


def _profile(rows: int) -> Any:
    import cProfile
    import pstats

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ticks.parquet"
        _write(path, rows)
        profiler = cProfile.Profile()
        profiler.runcall(_replay, path, Path(tmp) / "run")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    if "--profile" in sys.argv:
        _profile(200_000)
    else:
        for row in run():
            print(row)
