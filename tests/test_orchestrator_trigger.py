"""When cycles start: a streamed book change at once (gap kept, one in flight, changes coalesced),
the interval for legs that only poll.

The rule (`CycleTrigger`) is driven by a fake clock; the loop (`CycleLoop`) runs real cycles on
the simulated venues, whose market publishes each new tick, with a real SQLite journal. Waits are
bounded so a broken loop fails instead of hanging; no duration is asserted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.config import Settings
from bot.domain.market import Book, OrderRequest, OrderState
from bot.journal import Journal
from bot.loans.simulated import SimulatedFlashLoan
from bot.markets.faults import LOAN_FAULTS, FaultPlan
from bot.metrics import BotMetrics
from bot.orchestrator.cycle import CycleResult, Orchestrator
from bot.orchestrator.trigger import CycleLoop, CycleTrigger, book_streams
from bot.venues.base import BookStream, Venue
from bot.venues.simulated import SimulatedFuturesVenue, SimulatedMarket, SimulatedPowerVenue
from tests.test_orchestrator_cycle import PAYING, THURSDAY_NOON, Clock

BOUND_S = 10.0  # the longest a test waits for something that should happen at once

# -- the rule, on a fake clock ------------------------------------------------------------------


def ran_once(trigger: CycleTrigger, at: float, ends: float) -> str:
    cause = trigger.start(at)
    trigger.finish(ends)
    return cause


def test_the_first_cycle_is_due_at_once() -> None:
    trigger = CycleTrigger(interval_s=60, min_gap_s=0.05)
    assert trigger.wait_s(100.0) == 0
    assert trigger.start(100.0) == "start"


def test_a_book_change_makes_a_cycle_due_after_the_gap_not_the_interval() -> None:
    # given a cycle that ended at t=10, a minute's interval and a 50 ms gap
    trigger = CycleTrigger(interval_s=60, min_gap_s=0.05)
    ran_once(trigger, 9.0, 10.0)
    # when a book changes right after it
    trigger.book_changed()
    # then the next cycle waits for the gap only, and not a moment less
    assert trigger.wait_s(10.0) == pytest.approx(0.05)
    assert trigger.wait_s(10.03) == pytest.approx(0.02)
    with pytest.raises(RuntimeError, match="no cycle is due"):
        trigger.start(10.03)
    assert trigger.wait_s(10.05) == 0
    assert trigger.start(10.05) == "book_change"


def test_a_change_long_after_the_last_cycle_is_due_at_once() -> None:
    trigger = CycleTrigger(interval_s=60, min_gap_s=0.05)
    ran_once(trigger, 9.0, 10.0)
    trigger.book_changed()
    assert trigger.wait_s(12.0) == 0


def test_the_gap_counts_from_the_end_of_the_last_cycle() -> None:
    # given a cycle that started at t=10 and ran 30 ms
    trigger = CycleTrigger(interval_s=60, min_gap_s=0.05)
    ran_once(trigger, 10.0, 10.03)
    trigger.book_changed()
    # then the next one starts 50 ms after it ended, not after it started
    assert trigger.wait_s(10.05) == pytest.approx(0.03)
    assert trigger.wait_s(10.08) == 0


def test_nothing_is_due_while_a_cycle_is_in_flight() -> None:
    trigger = CycleTrigger(interval_s=0, min_gap_s=0)
    trigger.start(1.0)
    trigger.book_changed()
    assert trigger.running and trigger.wait_s(1000.0) is None
    with pytest.raises(RuntimeError, match="already in flight"):
        trigger.start(1000.0)


def test_the_rule_coalesces_changes_during_a_cycle_into_one_more_cycle() -> None:
    # given a cycle in flight
    trigger = CycleTrigger(interval_s=60, min_gap_s=0.05)
    trigger.start(1.0)
    # when three books change before it ends
    for _ in range(3):
        trigger.book_changed()
    trigger.finish(2.0)
    # then one cycle is owed for all three, and after it only the interval
    assert ran_once(trigger, 2.05, 2.1) == "book_change"
    assert not trigger.pending
    assert trigger.wait_s(2.1) == pytest.approx(60)


def test_without_changes_cycles_come_on_the_interval() -> None:
    # given legs that only poll: nothing ever reports a change
    trigger = CycleTrigger(interval_s=2, min_gap_s=0.05)
    ran_once(trigger, 0.0, 0.5)
    # then the next cycle comes the interval after the last one ended
    assert trigger.wait_s(1.0) == pytest.approx(1.5)
    assert trigger.wait_s(2.5) == 0
    assert trigger.start(2.5) == "interval"


def test_a_gap_longer_than_the_interval_never_delays_the_interval() -> None:
    trigger = CycleTrigger(interval_s=0.5, min_gap_s=2)
    ran_once(trigger, 0.0, 1.0)
    trigger.book_changed()
    assert trigger.wait_s(1.0) == pytest.approx(0.5)


def test_the_trigger_reads_cycle_interval_secs_and_min_cycle_gap_ms(tmp_path: Path) -> None:
    settings = Settings.from_mapping(
        {"DATA_DIR": str(tmp_path), "CYCLE_INTERVAL_SECS": "60", "MIN_CYCLE_GAP_MS": "250"}
    )
    trigger = CycleTrigger.from_settings(settings)
    assert (trigger.interval_s, trigger.min_gap_s) == (60.0, 0.25)


# -- the loop, on the simulated venues ----------------------------------------------------------


class PolledVenue:
    """A real simulated venue reached only by polling (no `book_changes`), whose book reads can be
    held at a gate; it counts how many reads (so cycles) are in flight at once."""

    def __init__(self, inner: Venue) -> None:
        self.inner = inner
        self.name, self.leg = inner.name, inner.leg
        self.gate = asyncio.Event()
        self.gate.set()
        self.held = asyncio.Event()  # a read is waiting at the closed gate
        self.reads = 0
        self.in_flight = 0
        self.most_in_flight = 0

    async def book(self) -> Book:
        self.reads += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if not self.gate.is_set():
                self.held.set()
                await self.gate.wait()
            return await self.inner.book()
        finally:
            self.in_flight -= 1

    async def place(self, order: OrderRequest) -> OrderState:
        return await self.inner.place(order)

    async def status(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        return await self.inner.status(client_order_id, venue_order_id)

    async def cancel(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        return await self.inner.cancel(client_order_id, venue_order_id)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()


@dataclass
class LoopRig:
    market: SimulatedMarket
    clock: Clock
    power: PolledVenue
    sim_power: SimulatedPowerVenue
    sim_futures: SimulatedFuturesVenue
    orchestrator: Orchestrator
    journal: Journal
    results: list[CycleResult] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def publish_tick(self) -> None:
        """The market's clock reaches its next tick and the market publishes the new books."""
        self.clock.advance(1)
        self.market.refresh()

    def start(self, trigger: CycleTrigger, streams: list[BookStream]) -> CycleLoop:
        loop = CycleLoop(self.orchestrator, trigger, streams, on_cycle=self.results.append)
        self.task = asyncio.create_task(loop.run())
        return loop

    async def stop(self) -> None:
        self.orchestrator.stopping.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, BOUND_S)


def build_loop_rig(tmp_path: Path) -> LoopRig:
    settings = Settings.from_mapping(
        {
            "DATA_DIR": str(tmp_path),
            "TRADING_WINDOW_UTC": "05:00-21:00",
            "EXEC_LATENCY_MS": "0",
            "ORDER_TIMEOUT_SECS": "5",
            "ORDER_POLL_INTERVAL": "0.01",
            "KELLY_BANK_GBP": "0",
        }
    )
    clock = Clock(THURSDAY_NOON)
    market = SimulatedMarket(seed=3, clock=clock, params=PAYING, exec_latency_ms=0, faults=FaultPlan(seed=3))
    sim_power, sim_futures = SimulatedPowerVenue(market), SimulatedFuturesVenue(market)
    power = PolledVenue(sim_power)
    journal = Journal.open(settings.journal_url, migrate=True)
    orchestrator = Orchestrator.from_settings(
        settings,
        power=power,
        futures=sim_futures,
        loan=SimulatedFlashLoan(
            limit_gbp=settings.loan_limit_gbp,
            fee_bp=settings.loan_fee_bp,
            faults=FaultPlan(names=LOAN_FAULTS),
        ),
        journal=journal,
        metrics=BotMetrics(),
        clock=clock,
    )
    orchestrator.load_state()
    return LoopRig(market, clock, power, sim_power, sim_futures, orchestrator, journal)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[LoopRig]:
    r = build_loop_rig(tmp_path)
    yield r
    await r.stop()
    r.journal.close()


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.002)

    await asyncio.wait_for(poll(), BOUND_S)


async def settle() -> None:
    """Give the event loop a few turns: what is due now runs, nothing waits for a timer."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_book_change_on_the_simulated_market_starts_a_cycle_without_waiting_for_the_interval(
    rig: LoopRig,
) -> None:
    # given a loop whose interval is a minute, listening to both simulated legs, after its first cycle
    rig.start(CycleTrigger(interval_s=60, min_gap_s=0.05), book_streams((rig.sim_power, rig.sim_futures)))
    await until(lambda: len(rig.results) == 1)
    # when the simulated market moves to its next tick and publishes it
    rig.publish_tick()
    # then a second cycle runs, long before the minute is up, on the new tick's books
    await until(lambda: len(rig.results) == 2)
    second = rig.results[1]
    assert second.outcome == "traded" and second.cycle is not None
    assert second.cycle.started_at == rig.clock.at


async def test_only_one_cycle_is_in_flight_whatever_the_stream_says(rig: LoopRig) -> None:
    # given a first cycle held while it reads its books
    rig.power.gate.clear()
    rig.start(CycleTrigger(interval_s=60, min_gap_s=0), book_streams((rig.sim_power, rig.sim_futures)))
    await until(rig.power.held.is_set)
    # when the market publishes three ticks meanwhile
    for _ in range(3):
        rig.publish_tick()
        await settle()
    # then no second cycle starts beside it
    assert rig.power.reads == 1 and rig.results == []
    rig.power.gate.set()
    await until(lambda: len(rig.results) == 2)
    assert rig.power.most_in_flight == 1


async def test_changes_during_a_simulated_cycle_coalesce_into_one_more_cycle(rig: LoopRig) -> None:
    # given a first cycle held in flight, and three ticks published meanwhile
    rig.power.gate.clear()
    rig.start(CycleTrigger(interval_s=60, min_gap_s=0), book_streams((rig.sim_power, rig.sim_futures)))
    await until(rig.power.held.is_set)
    for _ in range(3):
        rig.publish_tick()
        await settle()
    # when the first cycle finishes
    rig.power.gate.set()
    # then exactly one more cycle runs for the three changes, on the latest books
    await until(lambda: len(rig.results) == 2)
    await settle()
    await asyncio.sleep(0.05)  # room for a wrong third cycle to show (the interval is a minute)
    assert len(rig.results) == 2 and rig.power.reads == 2
    assert rig.results[1].cycle is not None and rig.results[1].cycle.started_at == rig.clock.at


async def test_a_polling_only_venue_keeps_the_timer(rig: LoopRig) -> None:
    # given legs that only poll (no venue streams its book) and a short interval
    streams = book_streams((rig.power, PolledVenue(rig.sim_futures)))
    assert streams == []
    rig.start(CycleTrigger(interval_s=0.01, min_gap_s=0), streams)
    # then cycles keep coming on the interval with no change published
    await until(lambda: len(rig.results) >= 3)


async def test_a_change_on_a_polled_leg_starts_nothing_until_the_interval(rig: LoopRig) -> None:
    # given a loop that listens to no stream, its interval a minute, after its first cycle
    rig.start(CycleTrigger(interval_s=60, min_gap_s=0), [])
    await until(lambda: len(rig.results) == 1)
    # when the market publishes a tick
    rig.publish_tick()
    await settle()
    await asyncio.sleep(0.05)
    # then no cycle runs: a polled leg is read on the interval only
    assert len(rig.results) == 1


async def test_a_stop_ends_the_loop_and_no_cycle_starts_after_it(rig: LoopRig) -> None:
    # given a loop streaming the simulated legs, after its first cycle
    rig.start(CycleTrigger(interval_s=60, min_gap_s=0), book_streams((rig.sim_power, rig.sim_futures)))
    await until(lambda: len(rig.results) == 1)
    # when the bot is told to stop, then the market ticks
    rig.orchestrator.stopping.set()
    assert rig.task is not None
    await asyncio.wait_for(rig.task, BOUND_S)
    rig.publish_tick()
    await settle()
    # then the loop has ended and no cycle followed the stop
    assert len(rig.results) == 1


async def test_a_stop_lets_the_cycle_in_flight_finish(rig: LoopRig) -> None:
    # given a cycle held in flight
    rig.power.gate.clear()
    rig.start(CycleTrigger(interval_s=60, min_gap_s=0), book_streams((rig.sim_power, rig.sim_futures)))
    await until(rig.power.held.is_set)
    # when a stop comes, and only then the cycle goes on
    rig.orchestrator.stopping.set()
    await settle()
    rig.power.gate.set()
    assert rig.task is not None
    await asyncio.wait_for(rig.task, BOUND_S)
    # then it ended as a cycle does (nothing sent after the stop) and the loop ended after it
    assert [r.reason for r in rig.results] == ["stopping"]


def test_the_simulated_venues_stream_and_a_plain_venue_does_not(tmp_path: Path) -> None:
    market = SimulatedMarket(seed=3, clock=Clock(THURSDAY_NOON))
    power, futures = SimulatedPowerVenue(market), SimulatedFuturesVenue(market)
    assert book_streams((power, futures, power)) == [power, futures]
    assert book_streams((PolledVenue(power),)) == []
