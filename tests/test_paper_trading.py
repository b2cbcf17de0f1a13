"""Paper trading and the adapter wiring: which venue each toggle selects, and fills without sending."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.config import Settings
from bot.config.toggles import trading_mode
from bot.domain.market import Book, Level, OrderRequest, OrderState, OrderStatus, Side
from bot.orchestrator.wiring import build_adapters
from bot.venues.ccxt import CcxtVenue
from bot.venues.http import RestVenue
from bot.venues.paper import FeedVenue, PaperVenue
from bot.venues.sim_venue import SimulatedFuturesVenue, SimulatedPowerVenue
from bot.venues.simulated import SimulatedMarket
from tests.fixtures.secret_backends import FNALITY_SETTINGS, TOGGLE_SETTINGS

PL, ICE, FEED = (TOGGLE_SETTINGS[t] for t in ("USE_POWERLEDGER_LIVE", "USE_ICE_LIVE", "USE_LIVE_FEED"))


def _settings(**env: Any) -> Settings:
    return Settings.from_mapping(env)


class _Source(SimulatedPowerVenue):
    """A live venue stand-in: a fixed book; any order reaching it is a failure of the wrapper."""

    def __init__(self, book: Book) -> None:
        super().__init__(SimulatedMarket(seed=1))
        self.fixed = book
        self.placed: list[OrderRequest] = []

    async def book(self) -> Book:
        return self.fixed

    async def place(self, order: OrderRequest) -> OrderState:
        self.placed.append(order)
        raise AssertionError("a paper order reached the venue")


ASKS = (Level(Decimal("40"), Decimal("5")), Level(Decimal("41"), Decimal("5")))


def _book() -> Book:
    return Book("powerledger", "GB", (Level(Decimal("39"), Decimal("5")),), ASKS, datetime.now(UTC))


async def test_paper_order_walks_the_live_book_with_slippage_and_is_never_sent() -> None:
    # given a paper venue over a live book of two ask levels, 10 bp slippage
    source = _Source(_book())
    paper = PaperVenue(source, slippage_bp=Decimal("10"), exec_latency_ms=0)
    # when a buy of 7 MWh up to 42 is placed, then placed again with the same id
    order = OrderRequest("c-1-power-entry", "power", Side.BUY, Decimal("7"), Decimal("42"))
    state = await paper.place(order)
    again = await paper.place(order)
    # then it filled through both levels, slipped, as the simulator fills; nothing was sent
    assert state.status is OrderStatus.FILLED and state.filled_quantity == Decimal("7")
    assert state.average_price == Decimal("40.3260")  # (5 * 40.04 + 2 * 41.041) / 7
    assert again == state and source.placed == []
    assert await paper.status(order.client_order_id) == state


async def test_paper_orders_consume_the_same_book_until_the_venue_publishes_another() -> None:
    # given a paper venue over a 10 MWh ask side
    paper = PaperVenue(_Source(_book()), slippage_bp=Decimal("0"), exec_latency_ms=0)
    # when two orders of 6 MWh take from the same book
    first = await paper.place(OrderRequest("a", "power", Side.BUY, Decimal("6"), Decimal("50")))
    second = await paper.place(OrderRequest("b", "power", Side.BUY, Decimal("6"), Decimal("50")))
    # then the second gets what the first left (immediate or cancel)
    assert first.status is OrderStatus.FILLED
    assert second.status is OrderStatus.CANCELLED and second.filled_quantity == Decimal("4")


async def test_paper_order_beyond_its_limit_fills_nothing() -> None:
    paper = PaperVenue(_Source(_book()), slippage_bp=Decimal("0"), exec_latency_ms=0)
    state = await paper.place(OrderRequest("a", "power", Side.BUY, Decimal("1"), Decimal("39.99")))
    assert state.status is OrderStatus.CANCELLED and state.filled_quantity == 0
    assert "limit" in (state.reason or "")


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, "simulated"),
        ({"PAPER_TRADING": "1"}, "simulated"),
        ({"USE_POWERLEDGER_LIVE": "1", **PL, "USE_ICE_LIVE": "1", **ICE}, "live"),
        ({"USE_POWERLEDGER_LIVE": "1", **PL, "USE_ICE_LIVE": "1", **ICE, "PAPER_TRADING": "1"}, "paper"),
        ({"USE_LIVE_FEED": "1", **FEED}, "paper"),  # the feed alone reads, never orders
        ({"USE_POWERLEDGER_LIVE": "1", **PL}, "paper"),  # never one leg live against a simulated one
    ],
)
def test_trading_mode_says_live_paper_or_simulated(env: dict[str, str], mode: str) -> None:
    assert trading_mode(_settings(**env)) == mode


async def test_live_wiring_sends_power_to_powerledger_and_futures_to_ice_priced_by_the_feed() -> None:
    adapters = build_adapters(
        _settings(USE_POWERLEDGER_LIVE="1", **PL, USE_ICE_LIVE="1", **ICE, USE_LIVE_FEED="1", **FEED)
    )
    try:
        assert adapters.mode == "live" and not adapters.paper
        assert isinstance(adapters.power, RestVenue) and adapters.power.name == "powerledger"
        assert isinstance(adapters.futures, FeedVenue)
        assert isinstance(adapters.futures.source, CcxtVenue) and adapters.futures.name == "ice"
    finally:
        await adapters.close()


@pytest.mark.parametrize("adapter", ["fnality_repo", "ccxt"])
async def test_futures_live_adapter_selects_the_futures_venue(adapter: str) -> None:
    extra = FNALITY_SETTINGS if adapter == "fnality_repo" else FEED
    settings = _settings(
        USE_POWERLEDGER_LIVE="1", **PL, USE_ICE_LIVE="1", FUTURES_LIVE_ADAPTER=adapter, **extra
    )
    adapters = build_adapters(settings)
    try:
        expected = RestVenue if adapter == "fnality_repo" else CcxtVenue
        assert isinstance(adapters.futures, expected)
        if adapter == "fnality_repo":
            assert adapters.futures.name == "fnality-repo"
    finally:
        await adapters.close()


async def test_paper_wiring_wraps_every_live_leg_and_the_feed_alone_is_paper() -> None:
    paper = build_adapters(
        _settings(USE_POWERLEDGER_LIVE="1", **PL, USE_ICE_LIVE="1", **ICE, PAPER_TRADING="1")
    )
    feed_only = build_adapters(_settings(USE_LIVE_FEED="1", **FEED))
    try:
        assert paper.mode == "paper" and paper.paper
        assert isinstance(paper.power, PaperVenue) and isinstance(paper.power.source, RestVenue)
        assert isinstance(paper.futures, PaperVenue) and paper.futures.source.name == "ice"
        assert feed_only.mode == "paper"
        assert isinstance(feed_only.power, SimulatedPowerVenue)
        assert isinstance(feed_only.futures, PaperVenue) and isinstance(feed_only.futures.source, CcxtVenue)
    finally:
        await paper.close()
        await feed_only.close()


async def test_rest_venue_options_come_from_the_venue_settings() -> None:
    adapters = build_adapters(
        _settings(
            USE_POWERLEDGER_LIVE="1",
            **PL,
            USE_ICE_LIVE="1",
            **ICE,
            VENUE_READ_TIMEOUT_SECS="1.5",
            VENUE_READ_RETRIES="2",
            VENUE_BREAKER_FAILURES="7",
        )
    )
    try:
        assert isinstance(adapters.power, RestVenue)
        policy = adapters.power.transport.policy
        assert (policy.read_timeout_s, policy.read_attempts, policy.breaker_failures) == (1.5, 2, 7)
    finally:
        await adapters.close()


def test_simulated_default_is_unchanged() -> None:
    adapters = build_adapters(_settings())
    assert adapters.mode == "simulated"
    assert isinstance(adapters.power, SimulatedPowerVenue) and isinstance(
        adapters.futures, SimulatedFuturesVenue
    )
