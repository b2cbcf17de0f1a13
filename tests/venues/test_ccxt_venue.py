"""The CCXT venue against a loopback binance spot: markets, books, precision, orders, client ids.

Real async ccxt parses the stand-in's binance JSON (tests/fixtures/binance.py); nothing is patched.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.config import Settings
from bot.domain.market import OrderRequest, OrderStatus, Side
from bot.venues.base import Venue, VenueError
from bot.venues.ccxt import build_ccxt_venue
from bot.venues.ccxt.exchange import build_exchange
from tests.fixtures.binance import (
    API_KEY,
    BinanceStub,
    VenueFactory,
    venue_settings,
)


def sell(cid: str, quantity: str, limit: str) -> OrderRequest:
    return OrderRequest(cid, "futures", Side.SELL, Decimal(quantity), Decimal(limit))


def buy(cid: str, quantity: str, limit: str) -> OrderRequest:
    return OrderRequest(cid, "futures", Side.BUY, Decimal(quantity), Decimal(limit))


# -- construction ----------------------------------------------------------------------------


def test_the_venue_implements_the_venue_protocol() -> None:
    venue = build_ccxt_venue(Settings.from_mapping(venue_settings(None)))
    assert isinstance(venue, Venue)
    assert (venue.name, venue.leg) == ("ccxt-binance", "futures")


def test_live_api_url_rewrites_every_rest_section_and_keeps_paths() -> None:
    exchange = build_exchange(
        "binance",
        "MWH/GBP",
        api_key="k",
        api_secret="s",
        api_url="http://127.0.0.1:9/",
        sandbox=False,
        streaming=True,
    )
    api = exchange.urls["api"]
    rest = {key: url for key, url in api.items() if isinstance(url, str)}
    assert rest and all(url.startswith("http://127.0.0.1:9/") for url in rest.values())
    assert rest["public"] == "http://127.0.0.1:9/api/v3"
    assert rest["sapi"] == "http://127.0.0.1:9/sapi/v1"
    assert api["ws"]["spot"].startswith("wss://stream.binance.com")  # websockets are not REST


def test_sandbox_switches_to_ccxt_test_endpoints() -> None:
    exchange = build_exchange(
        "binance", "MWH/GBP", api_key="k", api_secret="s", api_url=None, sandbox=True, streaming=False
    )
    assert "testnet" in exchange.urls["api"]["public"]


def test_sandbox_and_api_url_together_are_refused() -> None:
    env = venue_settings(None, LIVE_SANDBOX="1", LIVE_API_URL="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="LIVE_SANDBOX=1 and LIVE_API_URL are exclusive"):
        build_ccxt_venue(Settings.from_mapping(env))


def test_an_unknown_exchange_id_is_refused_with_the_setting_named() -> None:
    with pytest.raises(ValueError, match="LIVE_EXCHANGE='nosuchex'"):
        build_ccxt_venue(Settings.from_mapping(venue_settings(None, LIVE_EXCHANGE="nosuchex")))


# -- markets and books -----------------------------------------------------------------------


async def test_markets_load_once_from_one_exchange_info_request(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance)
    await venue.book()
    await venue.book()
    await venue.place(sell("m-1", "1", "60"))
    await venue.ping()
    assert binance.count("GET", "/api/v3/exchangeInfo") == 1
    assert binance.unknown == []


async def test_book_is_exact_decimals_best_first_cut_to_book_levels(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance, BOOK_LEVELS="1")
    book = await venue.book()
    assert book.bids == ((Decimal("49.50"), Decimal("10")),)
    assert book.asks == ((Decimal("50.50"), Decimal("10")),)
    assert all(type(v) is Decimal for level in book.bids + book.asks for v in level)
    assert book.at.tzinfo is not None and book.symbol == "MWH/GBP"


async def test_an_unknown_symbol_is_not_found_and_names_the_setting(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance, LIVE_SYMBOL="BTC/USDT")
    with pytest.raises(VenueError, match="LIVE_SYMBOL=BTC/USDT") as caught:
        await venue.book()
    assert caught.value.kind == "not_found"


# -- orders ----------------------------------------------------------------------------------


async def test_a_marketable_order_fills_and_carries_our_client_id_and_key(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance)
    state = await venue.place(sell("fill-1", "3", "49.50"))
    assert state.status is OrderStatus.FILLED
    assert (state.filled_quantity, state.average_price) == (Decimal("3"), Decimal("49.5"))
    assert state.client_order_id == "fill-1" and state.venue_order_id == "1"
    [post] = [
        params for method, path, params in binance.requests if (method, path) == ("POST", "/api/v3/order")
    ]
    assert post["newClientOrderId"] == "fill-1"
    assert (post["side"], post["type"], post["quantity"], post["price"]) == ("SELL", "LIMIT", "3", "49.5")
    assert binance.api_keys_seen == [API_KEY]


async def test_a_partial_fill_rests_and_its_cancel_keeps_the_filled_part(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance)
    state = await venue.place(sell("part-1", "15", "49.50"))  # 10 bid at 49.50, then 49.00 is too low
    assert state.status is OrderStatus.PARTIALLY_FILLED
    assert state.filled_quantity == Decimal("10")
    cancelled = await venue.cancel("part-1")
    assert cancelled.status is OrderStatus.CANCELLED
    assert (cancelled.filled_quantity, cancelled.average_price) == (Decimal("10"), Decimal("49.5"))


async def test_a_resting_order_is_found_by_client_id_and_cancelled(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance)
    assert (await venue.place(sell("rest-1", "2", "60"))).status is OrderStatus.OPEN
    assert (await venue.status("rest-1")).status is OrderStatus.OPEN
    cancelled = await venue.cancel("rest-1")
    assert (cancelled.status, cancelled.filled_quantity) == (OrderStatus.CANCELLED, Decimal(0))
    lookups = [p for m, path, p in binance.requests if path == "/api/v3/order" and m in ("GET", "DELETE")]
    assert [p["origClientOrderId"] for p in lookups] == ["rest-1", "rest-1"]


async def test_cancelling_a_filled_order_answers_with_its_fill(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance)
    await venue.place(sell("done-1", "2", "49.50"))
    state = await venue.cancel("done-1")  # binance: -2011 "Unknown order sent."
    assert (state.status, state.filled_quantity) == (OrderStatus.FILLED, Decimal("2"))


async def test_a_restarted_bot_asks_by_client_id_about_an_order_it_did_not_place(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    await open_venue(binance).place(sell("old-1", "2", "60"))
    state = await open_venue(binance).status("old-1", venue_order_id="1")
    assert (state.status, state.venue_order_id) == (OrderStatus.OPEN, "1")


async def test_amount_is_truncated_to_the_step_and_the_limit_never_moves_against_us(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance)
    await venue.place(buy("grid-buy", "1.23456", "40.005"))  # nearest tick 40.01 would pay more
    await venue.place(sell("grid-sell", "1.0009", "60.004"))  # nearest tick 60.00 would sell cheaper
    posts = {p["newClientOrderId"]: p for m, path, p in binance.requests if m == "POST"}
    assert (posts["grid-buy"]["quantity"], posts["grid-buy"]["price"]) == ("1.234", "40")
    assert (posts["grid-sell"]["quantity"], posts["grid-sell"]["price"]) == ("1", "60.01")


@pytest.mark.parametrize(
    ("quantity", "limit", "why"),
    [
        ("0.005", "49.50", "below MWH/GBP's minimum amount 0.01"),
        ("0.0004", "49.50", "rounds to 0"),
        ("0.05", "49.50", "notional 2.475 is below MWH/GBP's minimum 5"),
        ("0", "49.50", "is not positive"),
    ],
)
async def test_an_order_below_the_exchange_minimums_is_refused_before_sending(
    binance: BinanceStub, open_venue: VenueFactory, quantity: str, limit: str, why: str
) -> None:
    venue = open_venue(binance)
    with pytest.raises(VenueError, match=why) as caught:
        await venue.place(sell("tiny-1", quantity, limit))
    assert caught.value.kind == "rejected"
    assert binance.count("POST", "/api/v3/order") == 0


async def test_placing_the_same_client_id_twice_sends_one_order(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance)
    first = await venue.place(sell("twice-1", "2", "49.50"))
    again = await venue.place(sell("twice-1", "2", "49.50"))
    assert again == first
    assert binance.count("POST", "/api/v3/order") == 1


async def test_a_duplicate_client_id_at_the_venue_is_answered_by_the_existing_order(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    await open_venue(binance).place(sell("dup-1", "2", "60"))  # a previous process sent it
    state = await open_venue(binance).place(sell("dup-1", "2", "60"))  # binance -2010 "Duplicate order sent."
    assert (state.status, state.venue_order_id) == (OrderStatus.OPEN, "1")
    assert binance.count("POST", "/api/v3/order") == 2 and len(binance.orders) == 1


async def test_an_order_for_the_other_leg_is_refused(binance: BinanceStub, open_venue: VenueFactory) -> None:
    venue = open_venue(binance)
    with pytest.raises(VenueError, match="futures leg") as caught:
        await venue.place(OrderRequest("leg-1", "power", Side.BUY, Decimal(1), Decimal(50)))
    assert caught.value.kind == "rejected"
