"""Tick-to-order latency: a book change published by the market → the first `place()` of its cycle.

The path measured is production's: the simulated market (zero latency, a basis that always pays)
publishes a new tick; the venues' `book_changes()` streams hear it; `CycleLoop` wakes and runs
`Orchestrator.run_once()`: guards, both books, `decide()`, the write-ahead journal entry (a real
durable SQLite journal in a temp dir, WAL), the loan drawn, then `place()` on the power leg, where
the clock stops. The market's clock (and the trigger's) moves one second per event, so the gap
(MIN_CYCLE_GAP_MS) never delays a measured cycle; each event waits for the previous cycle to end.

Floor: the write-ahead commit alone — the very entries the run wrote, written again one after
another to a fresh journal in the same directory (`Journal.begin_cycle`), nothing around them.

Run alone: `python -m bench.bench_tick` (`--profile` prints where the time goes).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.figures import figure, median, percentile

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EVENTS = 10_000
WARMUP = 200


class _MarketClock:
    """The market's clock, moved by the benchmark; also the trigger's monotonic clock."""

    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.at.timestamp()


class _TimedJournal:
    """The real journal, with the start and end of each write-ahead entry noted (and the entry kept)."""

    def __init__(self, journal: Any) -> None:
        self.journal = journal
        self.entries: list[Any] = []
        self.began_ns = 0
        self.committed_ns = 0

    def begin_cycle(self, cycle: Any) -> None:
        self.began_ns = time.perf_counter_ns()
        self.journal.begin_cycle(cycle)
        self.committed_ns = time.perf_counter_ns()
        self.entries.append(cycle)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.journal, name)


def _run(events: int, warmup: int, tmp: Path) -> dict[str, list[float]]:
    from bot.config import Settings
    from bot.journal import Journal
    from bot.loans.simulated import build_simulated_loan
    from bot.markets.model import MarketParams
    from bot.metrics import BotMetrics
    from bot.orchestrator.cycle import CycleResult, Orchestrator
    from bot.orchestrator.trigger import CycleLoop, CycleTrigger, book_streams
    from bot.venues.simulated import SimulatedFuturesVenue, SimulatedMarket, SimulatedPowerVenue

    class TimedPowerVenue(SimulatedPowerVenue):
        """The simulated power venue, noting when its first `place()` of a cycle is called."""

        placed_ns: int | None = None

        async def place(self, order: Any) -> Any:
            if self.placed_ns is None:
                self.placed_ns = time.perf_counter_ns()
            return await super().place(order)

    settings = Settings.from_mapping(
        {
            "DATA_DIR": str(tmp / "run"),
            "TRADING_WINDOW_UTC": "00:00-24:00",
            "EXEC_LATENCY_MS": "0",
            "MAX_DAILY_LOSS_GBP": "1000000000",
        }
    )
    paying = MarketParams(basis_mean_gbp_mwh=6.0, basis_sd_gbp_mwh=0.01, dislocation_rate_per_s=0.0)
    clock = _MarketClock()
    market = SimulatedMarket(seed=7, clock=clock, params=paying, exec_latency_ms=0)
    power, futures = TimedPowerVenue(market), SimulatedFuturesVenue(market)
    journal = _TimedJournal(Journal.open(settings.journal_url, migrate=True))  # WAL, synchronous=FULL
    orch = Orchestrator.from_settings(
        settings,
        power=power,
        futures=futures,
        loan=build_simulated_loan(settings),
        journal=journal,
        metrics=BotMetrics(),
        clock=clock,
    )
    orch.load_state()
    done = asyncio.Event()
    outcomes: list[str] = []

    def finished(result: CycleResult) -> None:
        outcomes.append(result.outcome)
        done.set()

    # the interval (an hour) never elapses between events: every measured cycle is the stream's
    trigger = CycleTrigger(interval_s=3600, min_gap_s=settings.min_cycle_gap_ms / 1000)
    loop = CycleLoop(orch, trigger, book_streams((power, futures)), clock=clock.monotonic, on_cycle=finished)
    out: dict[str, list[float]] = {"tick_to_order": [], "to_write_ahead": [], "commit": [], "to_place": []}

    async def drive() -> None:
        task = asyncio.create_task(loop.run())
        await done.wait()  # the loop's first cycle, at start
        for i in range(events + warmup):
            clock.at += timedelta(seconds=1)
            done.clear()
            power.placed_ns = None
            t0 = time.perf_counter_ns()
            market.refresh()  # the new tick is published to the streams
            await done.wait()
            placed = power.placed_ns
            if placed is None or i < warmup:
                continue
            out["tick_to_order"].append((placed - t0) / 1e6)
            out["to_write_ahead"].append((journal.began_ns - t0) / 1e6)
            out["commit"].append((journal.committed_ns - journal.began_ns) / 1e6)
            out["to_place"].append((placed - journal.committed_ns) / 1e6)
        orch.stopping.set()
        await task

    try:
        asyncio.run(drive())
    finally:
        journal.journal.close()
    floor_journal = Journal.open(
        Settings.from_mapping({"DATA_DIR": str(tmp / "floor")}).journal_url, migrate=True
    )
    try:
        floor: list[float] = []
        for entry in journal.entries:
            t0 = time.perf_counter_ns()
            floor_journal.begin_cycle(entry)
            floor.append((time.perf_counter_ns() - t0) / 1e6)
    finally:
        floor_journal.close()
    out["floor"] = floor[warmup:] or floor
    out["other"] = [float(outcomes.count(o)) for o in ("no_trade", "blocked", "unwound", "failed")]
    return out


def bench_tick(events: int = EVENTS, warmup: int = WARMUP) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        run = _run(events, warmup, Path(tmp))
    samples, floor = run["tick_to_order"], run["floor"]
    if not samples:
        print("tick to order: no cycle placed an order; figure left out", file=sys.stderr)
        return []
    p50, p99, f50, f99 = median(samples), percentile(samples, 99), median(floor), percentile(floor, 99)

    def spread(name: str) -> str:
        return f"{median(run[name]):.3f}/{percentile(run[name], 99):.3f}"

    print(
        f"tick to order: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {len(samples)} events; write-ahead "
        f"commit alone p50 {f50:.3f} ms, p99 {f99:.3f} ms (ratio p50 {p50 / f50:.2f}, p99 {p99 / f99:.2f}); "
        "budget p99 < 1 ms and <= 2x the commit"
    )
    print(
        f"  where it goes (p50/p99 ms): publish -> write-ahead {spread('to_write_ahead')}, "
        f"write-ahead commit {spread('commit')}, commit -> place() {spread('to_place')}; "
        f"cycles without an order: {int(sum(run['other']))}"
    )
    return [
        figure("tick_to_order_p50_ms", p50, "ms", f50),
        figure("tick_to_order_p99_ms", p99, "ms", f99),
    ]


def run() -> list[dict[str, object]]:
    return bench_tick()


def _profile(events: int) -> None:
    import cProfile
    import pstats

    with tempfile.TemporaryDirectory() as tmp:
        profiler = cProfile.Profile()
        profiler.runcall(_run, events, 100, Path(tmp))
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    if "--profile" in sys.argv:
        _profile(2000)
    else:
        for row in run():
            print(row)
