"""The simulated power and futures venues: books, fills, slippage, latency, idempotency and faults."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from bot.config import Settings
from bot.domain.market import Book, OrderRequest, OrderState, OrderStatus, Side
from bot.markets.faults import FaultPlan
from bot.markets.model import MarketParams, daily_shape
from bot.venues.base import Venue, VenueError
from bot.venues.simulated import (
    DEEP_BOOK_MWH,
    SimulatedFuturesVenue,
    SimulatedMarket,
    SimulatedPowerVenue,
    build_simulated_venues,
)

THURSDAY_NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FOURTH = Decimal("0.0001")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime = THURSDAY_NOON) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def venues(clock: Clock, **env: str) -> tuple[SimulatedPowerVenue, SimulatedFuturesVenue]:
    """Both venues from settings, with no latency unless asked."""
    settings = Settings.from_mapping({"EXEC_LATENCY_MS": "0", **env})
    return build_simulated_venues(settings, clock=clock)


def order(cid: str, leg: str, side: Side, quantity: str, limit: Decimal) -> OrderRequest:
    return OrderRequest(cid, leg, side, Decimal(quantity), limit)  # type: ignore[arg-type]


def quiet_params(mid: float) -> MarketParams:
    """A calm market whose noon power and futures mids are `mid` (no regimes, no dislocations)."""
    noon_shape = daily_shape(False)[24]
    return MarketParams(
        mean_gbp_mwh=mid - noon_shape,
        deviation_sd_gbp_mwh=0.0001,
        basis_mean_gbp_mwh=0.0,
        basis_sd_gbp_mwh=0.0001,
        dislocation_rate_per_s=0.0,
        negative_start_night=0.0,
        negative_start_midday=0.0,
        negative_start_other=0.0,
        spike_start_evening=0.0,
        spike_start_morning=0.0,
        spike_start_other=0.0,
    )


def weighted_average(levels: list[tuple[Decimal, Decimal]]) -> Decimal:
    notional = sum((p * q for p, q in levels), Decimal(0))
    quantity = sum((q for _, q in levels), Decimal(0))
    return (notional / quantity).quantize(FOURTH, ROUND_HALF_UP)


# -- identity and books ----------------------------------------------------------------------


async def test_the_simulated_venues_are_venues_of_their_leg_over_one_market() -> None:
    power, futures = venues(Clock())
    assert isinstance(power, Venue) and isinstance(futures, Venue)
    assert (power.name, power.leg) == ("sim-power", "power")
    assert (futures.name, futures.leg) == ("sim-futures", "futures")
    assert power.market is futures.market
    await power.ping()
    assert (await power.book()).venue == "sim-power"


async def test_books_have_the_configured_levels_and_sizes() -> None:
    # given BOOK_LEVELS=3 and BOOK_SIZE_MWH=40
    power, futures = venues(Clock(), BOOK_LEVELS="3", BOOK_SIZE_MWH="40")
    for venue in (power, futures):
        # when the book is read
        book = await venue.book()
        # then each side has three levels of 40 MWh +/- 25%, best first, a tick-spaced ladder
        assert len(book.bids) == len(book.asks) == 3
        assert all(Decimal(30) <= lvl.quantity <= Decimal(50) for lvl in book.bids + book.asks)
        assert [b.price for b in book.bids] == sorted((b.price for b in book.bids), reverse=True)
        assert [a.price for a in book.asks] == sorted(a.price for a in book.asks)
        assert book.bids[0].price < book.asks[0].price
        steps = {book.asks[i + 1].price - book.asks[i].price for i in range(2)}
        assert steps == {Decimal("0.05")}


async def test_without_depth_simulation_a_book_is_one_deep_level() -> None:
    power, _ = venues(Clock(), USE_DEPTH_SIM="0", BOOK_LEVELS="5")
    book = await power.book()
    assert len(book.bids) == len(book.asks) == 1
    assert book.asks[0].quantity == DEEP_BOOK_MWH


async def test_books_are_stamped_with_the_market_time_of_the_injected_clock() -> None:
    clock = Clock()
    power, _ = venues(clock)
    clock.advance(2.25)
    book = await power.book()
    assert book.at == THURSDAY_NOON + timedelta(seconds=2.2)  # the 100 ms tick it was drawn on
    assert book.at.tzinfo is not None


async def test_the_same_seed_and_clock_give_the_same_books() -> None:
    first, second = venues(Clock()), venues(Clock())
    assert await first[0].book() == await second[0].book()
    assert await first[1].book() == await second[1].book()


# -- execution -------------------------------------------------------------------------------


async def test_a_buy_walks_the_asks_and_fills_partially_when_depth_runs_out() -> None:
    # given a three-level power book and no slippage
    power, _ = venues(Clock(), BOOK_LEVELS="3", BOOK_SIZE_MWH="10", SLIPPAGE_BP="0")
    asks = [(lvl.price, lvl.quantity) for lvl in (await power.book()).asks]
    depth = sum(q for _, q in asks)
    # when buying more than the book holds, limit far above it
    state = await power.place(order("c1-power-entry", "power", Side.BUY, str(depth + 5), Decimal(1000)))
    # then every level is taken at its own price and the rest is cancelled (immediate-or-cancel)
    assert state.status is OrderStatus.CANCELLED
    assert state.filled_quantity == depth
    assert state.average_price == weighted_average(asks)
    assert "depth ran out" in (state.reason or "")
    assert (await power.book()).asks == ()  # consumed until the market moves


async def test_a_buy_stops_at_its_limit_price() -> None:
    power, _ = venues(Clock(), BOOK_LEVELS="3", BOOK_SIZE_MWH="10", SLIPPAGE_BP="0")
    asks = [(lvl.price, lvl.quantity) for lvl in (await power.book()).asks]
    limit = asks[1][0]
    state = await power.place(order("c1-power-entry", "power", Side.BUY, "100", limit))
    assert state.filled_quantity == asks[0][1] + asks[1][1]
    assert state.average_price == weighted_average(asks[:2])
    assert state.average_price <= limit
    assert "limit" in (state.reason or "")


async def test_an_order_that_fits_the_first_level_fills_at_the_best_price() -> None:
    power, futures = venues(Clock(), SLIPPAGE_BP="0")
    ask = (await power.book()).asks[0].price
    bid = (await futures.book()).bids[0].price
    bought = await power.place(order("c1-power-entry", "power", Side.BUY, "10", ask))
    sold = await futures.place(order("c1-futures-exit", "futures", Side.SELL, "10", bid))
    assert (bought.status, bought.filled_quantity, bought.average_price) == (OrderStatus.FILLED, 10, ask)
    assert (sold.status, sold.filled_quantity, sold.average_price) == (OrderStatus.FILLED, 10, bid)
    assert bought.venue_order_id and bought.reason is None


async def test_a_limit_short_of_the_book_fills_nothing() -> None:
    _, futures = venues(Clock())
    bid = (await futures.book()).bids[0].price
    state = await futures.place(order("c1-futures-exit", "futures", Side.SELL, "10", bid + 1))
    assert (state.status, state.filled_quantity, state.average_price) == (OrderStatus.CANCELLED, 0, None)


async def test_slippage_moves_every_fill_price_against_the_order() -> None:
    # given SLIPPAGE_BP=10
    power, futures = venues(Clock(), SLIPPAGE_BP="10")
    ask = (await power.book()).asks[0].price
    bid = (await futures.book()).bids[0].price
    # when one lot is bought at the ask and one sold at the bid, limits allowing for slippage
    bought = await power.place(order("c1-power-entry", "power", Side.BUY, "1", ask + 1))
    sold = await futures.place(order("c1-futures-exit", "futures", Side.SELL, "1", bid - 1))
    # then the buy pays 10 bp more and the sell receives 10 bp less
    assert bought.average_price == (ask + abs(ask) * Decimal("0.001")).quantize(FOURTH, ROUND_HALF_UP)
    assert sold.average_price == (bid - abs(bid) * Decimal("0.001")).quantize(FOURTH, ROUND_HALF_UP)
    assert bought.average_price > ask and sold.average_price < bid


async def test_slippage_never_fills_beyond_the_limit() -> None:
    power, _ = venues(Clock(), SLIPPAGE_BP="10")
    ask = (await power.book()).asks[0].price
    state = await power.place(order("c1-power-entry", "power", Side.BUY, "1", ask))
    assert state.filled_quantity == 0  # the slipped price is above a limit at the ask


async def test_unwind_orders_sell_power_at_the_bids_and_buy_futures_at_the_asks() -> None:
    power, futures = venues(Clock(), SLIPPAGE_BP="0")
    power_bid = (await power.book()).bids[0].price
    futures_ask = (await futures.book()).asks[0].price
    sold = await power.place(order("c1-power-unwind", "power", Side.SELL, "5", power_bid))
    bought = await futures.place(order("c1-futures-unwind", "futures", Side.BUY, "5", futures_ask))
    assert (sold.status, sold.average_price) == (OrderStatus.FILLED, power_bid)
    assert (bought.status, bought.average_price) == (OrderStatus.FILLED, futures_ask)


async def test_a_fill_consumes_the_book_until_the_market_moves() -> None:
    # given a power book and a 10 MWh buy at the best ask
    clock = Clock()
    power, _ = venues(clock, BOOK_LEVELS="2")
    before = (await power.book()).asks
    await power.place(order("c1-power-entry", "power", Side.BUY, "10", before[0].price + 1))
    # then the next read shows 10 MWh less at the best ask
    after = (await power.book()).asks
    assert after[0].price == before[0].price and after[0].quantity == before[0].quantity - 10
    assert after[1] == before[1]
    # and once the market ticks, the book is drawn afresh around the new mid
    await power.place(order("c2-power-entry", "power", Side.BUY, "1000", before[0].price + 5))
    assert (await power.book()).asks == ()
    clock.advance(0.1)
    assert len((await power.book()).asks) == 2


async def test_placing_the_same_client_order_id_twice_fills_once() -> None:
    power, _ = venues(Clock(), SLIPPAGE_BP="0")
    best = (await power.book()).asks[0]
    request = order("c1-power-entry", "power", Side.BUY, "5", best.price)
    first = await power.place(request)
    again = await power.place(request)
    assert again == first
    assert (await power.book()).asks[0].quantity == best.quantity - 5  # taken once, not twice
    assert await power.status("c1-power-entry") == first


async def test_zero_and_negative_prices_flow_through_books_and_fills() -> None:
    # given a calm market whose power mid sits at 5p, so the best bid is exactly zero
    clock = Clock()
    market = SimulatedMarket(seed=1, clock=clock, params=quiet_params(0.05), book_size_mwh=Decimal(10))
    power = SimulatedPowerVenue(market)
    book = await power.book()
    assert book.bids[0].price == 0 and book.bids[1].price < 0
    # when selling through the zero level into negative bids
    sold = await power.place(order("c1-power-unwind", "power", Side.SELL, "15", Decimal(-1)))
    # then it fills at zero and below, slippage still adverse, and the average is negative
    assert sold.filled_quantity == 15
    assert sold.average_price is not None and sold.average_price < 0

    # given a market at -30 GBP/MWh
    cheap = SimulatedMarket(seed=1, clock=clock, params=quiet_params(-30.0))
    buy_venue = SimulatedPowerVenue(cheap)
    ask = (await buy_venue.book()).asks[0].price
    # when buying at the ask
    bought = await buy_venue.place(order("c2-power-entry", "power", Side.BUY, "10", ask + 1))
    # then the fill is negative (the buyer is paid), made slightly less negative by slippage
    assert ask < 0 and bought.status is OrderStatus.FILLED
    assert ask < bought.average_price < 0


async def test_each_order_waits_the_execution_latency() -> None:
    power, _ = venues(Clock(), EXEC_LATENCY_MS="50")
    ask = (await power.book()).asks[0].price
    started = time.monotonic()
    await power.place(order("c1-power-entry", "power", Side.BUY, "1", ask + 1))
    assert time.monotonic() - started >= 0.045


async def test_status_and_cancel_of_an_unknown_order_are_venue_errors() -> None:
    power, _ = venues(Clock())
    with pytest.raises(VenueError, match="no order nope"):
        await power.status("nope")
    with pytest.raises(VenueError, match="no order nope"):
        await power.cancel("nope")


async def test_cancelling_a_final_order_returns_it_unchanged() -> None:
    power, _ = venues(Clock())
    ask = (await power.book()).asks[0].price
    filled = await power.place(order("c1-power-entry", "power", Side.BUY, "1", ask + 1))
    assert await power.cancel("c1-power-entry") == filled


async def test_an_order_for_the_other_leg_is_refused() -> None:
    power, _ = venues(Clock())
    with pytest.raises(VenueError, match="trades the power leg"):
        await power.place(order("c1-futures-exit", "futures", Side.SELL, "1", Decimal(0)))


async def test_a_non_positive_quantity_is_rejected() -> None:
    power, _ = venues(Clock())
    state = await power.place(order("c1-power-entry", "power", Side.BUY, "0", Decimal(100)))
    assert state.status is OrderStatus.REJECTED and state.reason == "quantity must be positive"


async def test_a_closed_venue_answers_nothing() -> None:
    power, _ = venues(Clock())
    await power.close()
    with pytest.raises(VenueError, match="closed"):
        await power.book()
    with pytest.raises(VenueError, match="closed"):
        await power.ping()


# -- faults ----------------------------------------------------------------------------------


async def buy_power(power: SimulatedPowerVenue, cid: str) -> OrderState:
    ask = (await power.book()).asks[0].price
    return await power.place(order(cid, "power", Side.BUY, "10", ask + 1))


async def sell_futures(futures: SimulatedFuturesVenue, cid: str) -> OrderState:
    bid = (await futures.book()).bids[0].price
    return await futures.place(order(cid, "futures", Side.SELL, "10", bid - 1))


async def test_a_forced_power_rejection_rejects_one_order() -> None:
    power, _ = venues(Clock())
    power.faults.force("reject")
    rejected = await buy_power(power, "c1-power-entry")
    assert rejected.status is OrderStatus.REJECTED and "power_reject" in (rejected.reason or "")
    assert (await buy_power(power, "c2-power-entry")).status is OrderStatus.FILLED


async def test_a_forced_futures_rejection_rejects_one_order_of_the_futures_leg_only() -> None:
    power, futures = venues(Clock())
    futures.faults.force("reject")
    assert (await buy_power(power, "c1-power-entry")).status is OrderStatus.FILLED
    assert (await sell_futures(futures, "c1-futures-exit")).status is OrderStatus.REJECTED
    assert (await sell_futures(futures, "c2-futures-exit")).status is OrderStatus.FILLED


async def test_a_forced_partial_fill_fills_half_and_cancels_the_rest() -> None:
    _, futures = venues(Clock())
    futures.faults.force("partial_fill")
    state = await sell_futures(futures, "c1-futures-exit")
    assert (state.status, state.filled_quantity) == (OrderStatus.CANCELLED, Decimal(5))
    assert "partial_fill" in (state.reason or "")
    assert (await sell_futures(futures, "c2-futures-exit")).filled_quantity == 10


async def test_a_forced_timeout_leaves_the_order_open_until_cancelled() -> None:
    # given an order_timeout forced on the power venue
    clock = Clock()
    power, _ = venues(clock)
    power.faults.force("timeout")
    # when an order is placed and time passes
    state = await buy_power(power, "c1-power-entry")
    clock.advance(60)
    # then it rests OPEN with nothing filled, until cancelled
    assert state.status is OrderStatus.OPEN
    assert (await power.status("c1-power-entry")).status is OrderStatus.OPEN
    assert power.open_orders() == [state]
    cancelled = await power.cancel("c1-power-entry")
    assert (cancelled.status, cancelled.filled_quantity) == (OrderStatus.CANCELLED, 0)
    assert power.open_orders() == []
    assert (await buy_power(power, "c2-power-entry")).status is OrderStatus.FILLED


async def test_a_forced_stale_book_is_older_than_the_quote_age_limit() -> None:
    clock = Clock()
    power, _ = venues(clock, MAX_QUOTE_AGE_MS="2000")
    power.faults.force("stale_book")
    stale: Book = await power.book()
    fresh: Book = await power.book()
    assert clock() - stale.at > timedelta(milliseconds=2000)
    assert clock() - fresh.at < timedelta(milliseconds=2000)
    assert stale.asks == fresh.asks


async def test_faults_forced_on_the_market_hit_the_next_matching_call() -> None:
    power, futures = venues(Clock())
    power.market.faults.force("partial_fill")  # no leg: whichever venue places next
    assert (await sell_futures(futures, "c1-futures-exit")).filled_quantity == 5
    assert (await buy_power(power, "c1-power-entry")).filled_quantity == 10


async def test_sim_faults_set_how_often_each_venue_fault_fires() -> None:
    # given SIM_FAULTS with a certain futures rejection and a coin-flip partial fill
    clock = Clock()
    power, futures = venues(clock, SIM_FAULTS="futures_reject=1,partial_fill=0.5")
    # then every futures order is rejected, and about half the power orders fill partly
    for i in range(5):
        assert (await sell_futures(futures, f"c{i}-futures-exit")).status is OrderStatus.REJECTED
    partial = 0
    for i in range(200):
        clock.advance(1)  # a fresh book each cycle
        state = await buy_power(power, f"c{i}-power-entry")
        partial += state.filled_quantity < 10
    assert 70 <= partial <= 130


async def test_a_fault_of_the_other_venue_or_of_the_loan_is_refused_on_a_venue() -> None:
    power, _ = venues(Clock())
    with pytest.raises(ValueError, match="does not apply to the power side"):
        power.faults.force("futures_reject")
    with pytest.raises(ValueError, match="does not apply to the power side"):
        power.faults.force("loan_refuse")
    with pytest.raises(ValueError, match="unknown fault 'explode'"):
        power.faults.force("explode")


def test_a_market_from_a_plan_of_its_own_uses_that_plan() -> None:
    plan = FaultPlan({"stale_book": 1.0}, seed=2)
    market = SimulatedMarket(clock=Clock(), faults=plan)
    assert market.faults is plan
    assert THURSDAY_NOON - market.book("power").at > timedelta(seconds=2)
