"""The atomic cycle as a saga, against the simulated venues and loan and a real SQLite journal.

Every unwind path is driven by a fault the simulated venues inject on request; the journal and
the metrics are read back the way a user would read them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.domain.market import Book, OrderRequest, OrderState, OrderStatus
from bot.journal import Journal
from bot.journal.records import CycleStatus
from bot.loans.simulated import SimulatedFlashLoan
from bot.markets.faults import LOAN_FAULTS, FaultPlan
from bot.markets.model import MarketParams
from bot.metrics import BotMetrics
from bot.orchestrator.cycle import Orchestrator
from bot.venues.base import Venue
from bot.venues.simulated import SimulatedFuturesVenue, SimulatedMarket, SimulatedPowerVenue

THURSDAY_NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class Rig:
    orchestrator: Orchestrator
    market: SimulatedMarket
    power: SimulatedPowerVenue
    futures: SimulatedFuturesVenue
    loan: SimulatedFlashLoan
    journal: Journal
    metrics: BotMetrics
    clock: Clock
    settings: Settings

    async def cycle(self):  # type: ignore[no-untyped-def]
        self.clock.advance(1)
        return await self.orchestrator.run_once()

    def metric(self, name: str, **labels: str) -> float:
        text = generate_latest(self.metrics.registry).decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        raise AssertionError(f"no sample {name}{labels}")


PAYING = MarketParams(basis_mean_gbp_mwh=6.0, basis_sd_gbp_mwh=0.01, dislocation_rate_per_s=0.0)


def build_rig(
    tmp_path: Path,
    *,
    params: MarketParams = PAYING,
    at: datetime = THURSDAY_NOON,
    journal: Journal | None = None,
    **env: str,
) -> Rig:
    settings = Settings.from_mapping(
        {
            "DATA_DIR": str(tmp_path),
            "TRADING_WINDOW_UTC": "05:00-21:00",
            "EXEC_LATENCY_MS": "0",
            "ORDER_TIMEOUT_SECS": "0.2",
            "ORDER_POLL_INTERVAL": "0.01",
            "KELLY_BANK_GBP": "0",
            **env,
        }
    )
    clock = Clock(at)
    market = SimulatedMarket(
        seed=3,
        clock=clock,
        params=params,
        exec_latency_ms=0,
        faults=FaultPlan(seed=3),
        book_levels=settings.book_levels,
        book_size_mwh=settings.book_size_mwh,
        rest_ms=settings.sim_rest_ms,
    )
    power, futures = SimulatedPowerVenue(market), SimulatedFuturesVenue(market)
    loan = SimulatedFlashLoan(
        limit_gbp=settings.loan_limit_gbp, fee_bp=settings.loan_fee_bp, faults=FaultPlan(names=LOAN_FAULTS)
    )
    journal = journal or Journal.open(settings.journal_url, migrate=True)
    metrics = BotMetrics()
    orchestrator = Orchestrator.from_settings(
        settings,
        power=power,
        futures=futures,
        loan=loan,
        journal=journal,
        metrics=metrics,
        clock=clock,
    )
    orchestrator.load_state()
    return Rig(orchestrator, market, power, futures, loan, journal, metrics, clock, settings)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = build_rig(tmp_path)
    yield r
    r.journal.close()


def positions(rig: Rig, cycle_id: str) -> tuple[D, D]:
    """Net MWh per leg from the journalled orders of one cycle."""
    cycle = rig.journal.cycle(cycle_id)
    assert cycle is not None
    net = {"power": D(0), "futures": D(0)}
    for order in cycle.orders:
        net[order.leg] += order.filled_mwh if order.side == "BUY" else -order.filled_mwh
    return net["power"], net["futures"]


async def test_a_paying_spread_trades_both_legs_and_repays_the_loan(rig: Rig, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    result = await rig.cycle()
    assert result.outcome == "traded", result
    cycle = rig.journal.cycle(result.cycle.cycle_id)
    assert cycle.status is CycleStatus.TRADED and cycle.trade is not None
    power, futures = positions(rig, cycle.cycle_id)
    assert power > 0 and futures == -power  # hedged: power bought against futures sold
    assert rig.loan.outstanding() == {}
    trade = cycle.trade
    assert trade.net_gbp == trade.gross_gbp - trade.costs.total_gbp
    assert trade.net_gbp > 0 and cycle.realised_gbp == trade.net_gbp
    assert rig.metric("trades_executed_total") == 1
    assert rig.metric("profit_positive_total") == pytest.approx(float(trade.net_gbp))
    assert any(r.getMessage() == "trade executed" for r in caplog.records)


async def test_order_ids_are_deterministic_per_cycle(rig: Rig) -> None:
    first = await rig.cycle()
    second = await rig.cycle()
    ids = {o.client_order_id for o in rig.journal.cycle(first.cycle.cycle_id).orders}
    assert ids == {"flash-green-000000001-power-entry", "flash-green-000000001-futures-exit"}
    assert second.cycle.cycle_id == "flash-green-000000002"


async def test_a_refused_loan_sends_no_order(rig: Rig) -> None:
    rig.loan.faults.force("loan_refuse")
    result = await rig.cycle()
    assert (result.outcome, result.reason) == ("unwound", "loan_refused")
    cycle = rig.journal.cycle(result.cycle.cycle_id)
    assert all(o.status is OrderStatus.NEW for o in cycle.orders)  # planned, never sent
    assert cycle.realised_gbp == 0 and rig.power.open_orders() == []
    assert rig.metric("trades_blocked_total", reason="loan_refused") == 1


async def test_a_rejected_power_leg_repays_the_loan_and_leaves_nothing_open(rig: Rig) -> None:
    rig.market.faults.force("power_reject", leg="power")
    result = await rig.cycle()
    assert (result.outcome, result.reason) == ("unwound", "power_rejected")
    assert rig.loan.outstanding() == {}
    assert positions(rig, result.cycle.cycle_id) == (0, 0)
    cycle = rig.journal.cycle(result.cycle.cycle_id)
    # nothing filled, so the cycle cost only the loan fee and gas
    assert cycle.realised_gbp <= 0
    assert rig.metric("trades_blocked_total", reason="power_rejected") == 1


async def test_a_rejected_futures_leg_sells_the_power_back(rig: Rig) -> None:
    rig.market.faults.force("futures_reject", leg="futures")
    result = await rig.cycle()
    assert (result.outcome, result.reason) == ("unwound", "futures_rejected")
    cycle = rig.journal.cycle(result.cycle.cycle_id)
    assert {o.purpose for o in cycle.orders} == {"entry", "exit", "unwind"}
    assert positions(rig, cycle.cycle_id) == (0, 0)
    assert cycle.trade is None and cycle.realised_gbp < 0  # an unwind is never profit
    assert rig.loan.outstanding() == {}
    assert rig.metric("profit_negative_total") == pytest.approx(float(-cycle.realised_gbp))
    assert rig.orchestrator.daily_loss == -cycle.realised_gbp


async def test_a_partial_futures_fill_is_hedged_and_the_rest_of_the_power_sold_back(rig: Rig) -> None:
    rig.market.faults.force("partial_fill", leg="futures")
    result = await rig.cycle()
    assert (result.outcome, result.reason) == ("traded", "partial_fill")
    cycle = rig.journal.cycle(result.cycle.cycle_id)
    power, futures = positions(rig, cycle.cycle_id)
    assert futures < 0 and power == -futures  # only the hedged quantity stays
    entry = next(o for o in cycle.orders if o.purpose == "entry")
    assert cycle.trade.quantity_mwh == -futures < entry.filled_mwh
    assert rig.metric("trade_partial_failures_total") == 1


async def test_the_futures_leg_hedges_the_power_actually_filled(rig: Rig) -> None:
    rig.market.faults.force("partial_fill", leg="power")
    result = await rig.cycle()
    cycle = rig.journal.cycle(result.cycle.cycle_id)
    entry = next(o for o in cycle.orders if o.purpose == "entry")
    exit_ = next(o for o in cycle.orders if o.purpose == "exit")
    assert entry.filled_mwh < entry.quantity_mwh
    assert exit_.quantity_mwh == entry.filled_mwh  # sized to the fill, not to the request
    assert result.outcome == "traded"


async def test_an_order_that_never_fills_is_cancelled_at_the_timeout_and_unwound(rig: Rig) -> None:
    rig.market.faults.force("order_timeout", leg="futures")
    result = await rig.cycle()
    assert (result.outcome, result.reason) == ("unwound", "order_timeout")
    cycle = rig.journal.cycle(result.cycle.cycle_id)
    exit_ = next(o for o in cycle.orders if o.purpose == "exit")
    assert exit_.status is OrderStatus.CANCELLED
    assert positions(rig, cycle.cycle_id) == (0, 0)
    assert rig.futures.open_orders() == []


async def test_a_failed_repayment_is_retried_then_reported_as_failed(rig: Rig) -> None:
    rig.loan.faults.force("repay_fail", times=3)
    result = await rig.cycle()
    assert (result.outcome, result.reason) == ("failed", "repay_failed")
    assert rig.journal.cycle(result.cycle.cycle_id).status is CycleStatus.FAILED
    assert rig.metric("trades_blocked_total", reason="repay_failed") == 1
    assert rig.metric("trades_executed_total") == 0  # a failed cycle is never a trade


async def test_a_repayment_that_succeeds_on_retry_keeps_the_trade(rig: Rig) -> None:
    rig.loan.faults.force("repay_fail", times=1)
    result = await rig.cycle()
    assert result.outcome == "traded" and rig.loan.outstanding() == {}


async def test_a_refused_settlement_unwinds_both_legs_and_repays_the_loan(rig: Rig) -> None:
    # given a lender that will refuse to settle the hedged cycle (on chain: the transaction reverts)
    rig.loan.faults.force("settle_refuse")
    # when a cycle trades both legs
    result = await rig.cycle()
    # then nothing is recorded as a trade: both legs are back to flat and the loan is repaid
    assert (result.outcome, result.reason) == ("unwound", "loan_refused:settle_refused")
    cycle = rig.journal.cycle(result.cycle.cycle_id)
    assert cycle.status is CycleStatus.UNWOUND and cycle.trade is None
    assert positions(rig, cycle.cycle_id) == (0, 0)
    assert rig.loan.outstanding() == {}
    # and the refusal is counted under its family; the journal keeps the lender's reason
    assert rig.metric("trades_blocked_total", reason="loan_refused") == 1


async def test_a_settled_cycle_settles_what_the_journal_records(rig: Rig) -> None:
    # given a cycle that trades
    result = await rig.cycle()
    assert result.outcome == "traded", result
    trade = rig.journal.cycle(result.cycle.cycle_id).trade
    assert trade is not None
    # then the simulated lender carries no transaction, and the loan fee is the one drawn
    assert (trade.loan_tx, trade.loan_block, trade.loan_gas_used) == (None, None, None)
    assert trade.costs.loan_fee_gbp > 0


async def test_negative_power_is_bought_without_a_loan_and_pays(tmp_path: Path) -> None:
    negative = MarketParams(
        mean_gbp_mwh=-25.0,
        weekend_discount_gbp_mwh=0.0,
        deviation_sd_gbp_mwh=0.5,
        basis_mean_gbp_mwh=6.0,
        basis_sd_gbp_mwh=0.01,
        dislocation_rate_per_s=0.0,
        negative_start_night=0.0,
        negative_start_midday=0.0,
        negative_start_other=0.0,
        spike_start_evening=0.0,
        spike_start_morning=0.0,
        spike_start_other=0.0,
    )
    rig = build_rig(tmp_path, params=negative)
    try:
        result = await rig.cycle()
        assert result.outcome == "traded", result
        trade = rig.journal.cycle(result.cycle.cycle_id).trade
        assert trade.power_price_gbp < 0
        assert trade.loan_amount_gbp == 0 and trade.costs.loan_fee_gbp == 0
        assert trade.net_gbp > 0
    finally:
        rig.journal.close()


@pytest.mark.parametrize(
    ("at", "env", "reason"),
    [
        (THURSDAY_NOON.replace(hour=3), {}, "outside_window"),
        (datetime(2026, 11, 28, 12, tzinfo=UTC), {}, "weekend"),
        (THURSDAY_NOON, {"TRADING_ENABLED": "0"}, "trading_disabled"),
    ],
)
async def test_guards_block_before_any_market_data_is_read(tmp_path: Path, at, env, reason) -> None:
    rig = build_rig(tmp_path, at=at, **env)
    try:
        await rig.power.close()  # any book read would now fail as venue_unavailable
        result = await rig.cycle()
        assert (result.outcome, result.reason) == ("blocked", reason)
        assert rig.metric("trades_blocked_total", reason=reason) == 1
        # and the gauge the "no trade while market open" alert reads agrees: the market is closed
        assert rig.metric("trading_window_open") == 0
    finally:
        rig.journal.close()


async def test_the_market_open_gauge_is_1_when_a_cycle_may_trade(rig: Rig) -> None:
    await rig.cycle()
    assert rig.metric("trading_window_open") == 1


async def test_an_overnight_window_trades_at_night(tmp_path: Path) -> None:
    rig = build_rig(tmp_path, at=THURSDAY_NOON.replace(hour=23), TRADING_WINDOW_UTC="22:00-06:00")
    try:
        assert (await rig.cycle()).outcome == "traded"
    finally:
        rig.journal.close()


async def test_stale_quotes_are_rejected(rig: Rig) -> None:
    rig.market.faults.force("stale_book")
    result = await rig.cycle()
    assert (result.outcome, result.reason) == ("blocked", "stale_quote")


async def test_a_venue_that_cannot_give_its_book_blocks_the_cycle_as_venue_unavailable(rig: Rig) -> None:
    await rig.futures.close()
    result = await rig.cycle()
    assert (result.outcome, result.reason) == ("blocked", "venue_unavailable")
    assert rig.metric("trades_blocked_total", reason="venue_unavailable") == 1


async def test_the_daily_loss_limit_survives_a_restart(tmp_path: Path) -> None:
    rig = build_rig(tmp_path, MAX_DAILY_LOSS_GBP="0.01")
    rig.market.faults.force("futures_reject", leg="futures")
    lost = await rig.cycle()
    assert lost.outcome == "unwound" and lost.cycle.realised_gbp < 0
    assert (await rig.cycle()).reason == "daily_loss_limit"
    rig.journal.close()

    restarted = build_rig(tmp_path, MAX_DAILY_LOSS_GBP="0.01", at=rig.clock.at)
    try:
        assert restarted.orchestrator.daily_loss == -lost.cycle.realised_gbp
        assert (await restarted.cycle()).reason == "daily_loss_limit"
        # the next UTC day starts afresh
        restarted.clock.advance(24 * 3600)
        assert (await restarted.cycle()).outcome == "traded"
    finally:
        restarted.journal.close()


async def test_a_restart_continues_the_cycle_sequence(tmp_path: Path) -> None:
    rig = build_rig(tmp_path)
    first = await rig.cycle()
    rig.journal.close()
    again = build_rig(tmp_path, at=rig.clock.at)
    try:
        second = await again.cycle()
        assert first.cycle.seq == 1 and second.cycle.seq == 2  # no order id is ever reused
    finally:
        again.journal.close()


async def test_blocked_cycles_are_counted_per_reason_not_journalled_one_by_one(tmp_path: Path) -> None:
    rig = build_rig(tmp_path, at=THURSDAY_NOON.replace(hour=2))
    try:
        for _ in range(5):
            await rig.cycle()
        rig.orchestrator.flush_skipped(force=True)
        counts = rig.journal.skipped_counts(rig.clock.at.date())
        assert counts[("blocked", "outside_window")] == 5
        assert rig.journal.next_cycle_seq() == 1  # no cycle rows were written
    finally:
        rig.journal.close()


async def test_pnl_is_exact_decimal_to_the_penny(rig: Rig) -> None:
    for _ in range(3):
        await rig.cycle()
    trades = rig.journal.trades(limit=10)
    assert trades
    for trade in trades:
        for value in (trade.net_gbp, trade.gross_gbp, trade.costs.total_gbp):
            assert isinstance(value, D) and value == value.quantize(D("0.01"))
    day = rig.journal.daily_pnl(rig.clock.at.date())
    assert day.realised_gbp == sum((t.net_gbp for t in trades), D(0))


# -- every order is written ahead -------------------------------------------------------------


class WriteAheadWitness:
    """A venue in front of a simulated one that reads the journal at each call, as a crash would.

    At each `place()` it records whether the order is already journalled with the side, quantity
    and limit being sent; at each later call, whether the previous answer is journalled.
    """

    def __init__(self, venue: Venue, journal: Journal) -> None:
        self.venue, self.journal = venue, journal
        self.name, self.leg = venue.name, venue.leg
        self.unjournalled: list[str] = []  # what a kill at that moment would have lost
        self._answer: OrderState | None = None

    def _journalled(self, client_order_id: str):  # type: ignore[no-untyped-def]
        cycle_id = client_order_id.split(f"-{self.leg}-")[0]
        cycle = self.journal.cycle(cycle_id)
        return (
            next((o for o in cycle.orders if o.client_order_id == client_order_id), None) if cycle else None
        )

    def _check_answer(self) -> None:
        answer, self._answer = self._answer, None
        if answer is None:
            return
        found = self._journalled(answer.client_order_id)
        if found is None or (found.status, found.filled_mwh) != (answer.status, answer.filled_quantity):
            self.unjournalled.append(f"answer to {answer.client_order_id}")

    def _heard(self, state: OrderState) -> OrderState:
        self._answer = state
        return state

    async def book(self) -> Book:
        self._check_answer()
        return await self.venue.book()

    async def place(self, order: OrderRequest) -> OrderState:
        self._check_answer()
        found = self._journalled(order.client_order_id)
        sent = (order.side, order.quantity, order.limit_price)
        if found is None or (found.side, found.quantity_mwh, found.limit_price_gbp) != sent:
            self.unjournalled.append(f"request {order.client_order_id}")
        return self._heard(await self.venue.place(order))

    async def status(self, client_order_id: str) -> OrderState:
        self._check_answer()
        return self._heard(await self.venue.status(client_order_id))

    async def cancel(self, client_order_id: str) -> OrderState:
        self._check_answer()
        return self._heard(await self.venue.cancel(client_order_id))

    async def ping(self) -> None:
        await self.venue.ping()

    async def close(self) -> None:
        await self.venue.close()


@pytest.mark.parametrize(
    ("fault", "leg", "times"),
    [
        ("futures_reject", "futures", 1),  # the power leg is sold back: power-unwind
        ("partial_fill", "futures", 1),  # the unhedged rest of the power is sold back
        ("partial_fill", "power", 3),  # entry, then two unwind attempts fill half: power-unwind-2, -3
        ("order_timeout", "futures", 1),  # the hedge is cancelled at its deadline, the power sold back
    ],
)
async def test_every_order_and_every_answer_is_journalled_before_the_next_step(
    tmp_path: Path, fault: str, leg: str, times: int
) -> None:
    # given venues that check the journal as a crash at that instant would find it
    rig = build_rig(tmp_path)
    power = WriteAheadWitness(rig.power, rig.journal)
    futures = WriteAheadWitness(rig.futures, rig.journal)
    rig.orchestrator.power = rig.orchestrator.steps.power = power
    rig.orchestrator.futures = rig.orchestrator.steps.futures = futures
    rig.market.faults.force(fault, times, leg=leg)
    if fault == "partial_fill":  # an unhedged rest to sell back
        rig.market.faults.force("partial_fill", leg="futures")
    try:
        # when a cycle goes down an unwind path
        result = await rig.cycle()
        cycle = rig.journal.cycle(result.cycle.cycle_id)
        assert any(o.purpose == "unwind" for o in cycle.orders), cycle.orders
        # then no order left before the journal held it, and every answer was journalled at once
        assert power.unjournalled == [] and futures.unjournalled == []
    finally:
        rig.journal.close()


# -- a stop stops new cycles, not orders in flight ---------------------------------------------


async def until(predicate: Callable[[], object], what: str) -> None:
    """Let the cycle run until `predicate` holds (a bounded number of scheduler turns)."""
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


async def test_a_stop_lets_a_resting_hedge_work_to_its_fill_and_starts_no_new_cycle(tmp_path: Path) -> None:
    # given venues where each order rests a second on the book, and a long order deadline
    rig = build_rig(tmp_path, SIM_REST_MS="1000", ORDER_TIMEOUT_SECS="600")
    try:
        running = asyncio.create_task(rig.cycle())
        await until(rig.power.open_orders, "the power leg resting")
        rig.clock.advance(1)  # the power leg is matched at its next poll
        await until(rig.futures.open_orders, "the hedge resting")
        # when a stop is requested while the hedge rests
        rig.orchestrator.stopping.set()
        await asyncio.sleep(0.2)  # twenty poll intervals: a stop that cancelled would have by now
        # then the hedge is still working, and fills when the venue matches it
        assert rig.futures.open_orders(), "the stop cancelled the hedge in flight"
        rig.clock.advance(1)
        result = await running
        assert result.outcome == "traded", result
        exit_ = next(o for o in result.cycle.orders if o.purpose == "exit")
        assert exit_.status is OrderStatus.FILLED
        assert positions(rig, result.cycle.cycle_id)[0] == -positions(rig, result.cycle.cycle_id)[1] > 0
        # and no further cycle starts
        await rig.orchestrator.run(0)
        assert rig.journal.next_cycle_seq() == result.cycle.seq + 1
    finally:
        rig.journal.close()
