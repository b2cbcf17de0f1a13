"""The CCXT venue's fault matrix: each fault a real loopback binance spot (or no server) produces.

Errors reach the bot as `VenueError` kinds; reads are retried, `create_order` never is; an order
whose outcome is unknown is looked up by client id. No timing is asserted: request counts are.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain.market import OrderRequest, OrderStatus, Side
from bot.venues.base import VenueError
from tests.fixtures.binance import (
    API_KEY,
    API_SECRET,
    BinanceStub,
    Fault,
    VenueFactory,
    free_port,
)

DEPTH = ("GET", "/api/v3/depth")
ORDER = ("POST", "/api/v3/order")
SLOW = Fault(delay_s=1.0)  # longer than the venue's 0.2 s request timeout


def sell(cid: str, quantity: str = "2", limit: str = "49.50") -> OrderRequest:
    return OrderRequest(cid, "futures", Side.SELL, Decimal(quantity), Decimal(limit))


def assert_safe(error: VenueError) -> None:
    """A venue error's message carries no credential, signature, URL or response body."""
    text = str(error)
    for secret in (API_KEY, API_SECRET, "signature", "http://", "127.0.0.1", "<html"):
        assert secret not in text


# -- reads: retried, then mapped -----------------------------------------------------------------


async def test_a_500_once_is_retried_and_the_book_read(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    binance.fail_next(*DEPTH, Fault(500, "<html>oops</html>"))
    book = await open_venue(binance).book()
    assert book.bids[0].price == Decimal("49.50")
    assert binance.count(*DEPTH) == 2


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault(500, "<html>Internal Server Error</html>"), "server_error"),
        (Fault(502, "Bad Gateway"), "server_error"),
        (Fault(503, "Service Unavailable"), "venue_unavailable"),
        (Fault(200, '{"lastUpdateId": 1, "bids": [['), "malformed"),
        (Fault(200, '{"lastUpdateId": 1, "bids": [["x", "1"]], "asks": []}'), "malformed"),
        (SLOW, "timeout"),
    ],
    ids=["500", "502", "503", "truncated-json", "non-numeric-price", "timeout"],
)
async def test_a_read_failing_every_time_raises_its_kind(
    binance: BinanceStub, open_venue: VenueFactory, fault: Fault, kind: str
) -> None:
    venue = open_venue(binance)
    await venue.market()
    binance.fail_next(*DEPTH, fault, times=3)
    with pytest.raises(VenueError) as caught:
        await venue.book()
    assert caught.value.kind == kind
    assert_safe(caught.value)
    retried = kind in ("server_error", "timeout")
    assert binance.count(*DEPTH) == (3 if retried else 1)


async def test_connection_refused_is_unreachable(open_venue: VenueFactory) -> None:
    venue = open_venue(None, LIVE_API_URL=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(VenueError) as caught:
        await venue.ping()
    assert caught.value.kind == "unreachable"
    assert_safe(caught.value)


async def test_a_wrong_api_key_is_unauthorized_and_not_retried(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance, LIVE_API_KEY="wrong-key")
    with pytest.raises(VenueError, match="code -2015") as caught:
        await venue.status("any-1")
    assert caught.value.kind == "unauthorized"
    assert binance.count("GET", "/api/v3/order") == 1
    assert binance.api_keys_seen == ["wrong-key"]


async def test_a_429_with_a_short_retry_after_is_waited_out(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    binance.fail_next(*DEPTH, Fault(429, '{"code":-1003,"msg":"Too many requests."}', {"Retry-After": "0"}))
    await open_venue(binance).book()
    assert binance.count(*DEPTH) == 2


@pytest.mark.parametrize("status", [418, 429])
async def test_a_long_retry_after_stops_every_call_until_it_has_passed(
    binance: BinanceStub, open_venue: VenueFactory, status: int
) -> None:
    venue = open_venue(binance)
    await venue.market()
    binance.fail_next(
        *DEPTH,
        Fault(status, '{"code":-1003,"msg":"Way too many requests; IP banned."}', {"Retry-After": "120"}),
    )
    with pytest.raises(VenueError) as caught:
        await venue.book()
    assert (caught.value.kind, caught.value.retry_after) == ("rate_limited", 120)
    with pytest.raises(VenueError, match="not sent") as again:
        await venue.status("any-1")  # binance escalates bans of clients that keep calling
    assert again.value.kind == "rate_limited" and again.value.retry_after is not None
    assert binance.count(*DEPTH) == 1 and binance.count("GET", "/api/v3/order") == 0


# -- orders: never retried blindly ------------------------------------------------------------------


async def test_a_rejected_order_is_rejected_with_the_exchange_reason(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    binance.fail_next(
        *ORDER, Fault(400, '{"code":-2010,"msg":"Account has insufficient balance for requested action."}')
    )
    with pytest.raises(VenueError, match="code -2010: Account has insufficient balance") as caught:
        await open_venue(binance).place(sell("poor-1"))
    assert caught.value.kind == "rejected"
    assert binance.count(*ORDER) == 1


async def test_a_rate_limited_order_is_not_resent(binance: BinanceStub, open_venue: VenueFactory) -> None:
    binance.fail_next(*ORDER, Fault(429, '{"code":-1015,"msg":"Too many new orders."}', {"Retry-After": "0"}))
    with pytest.raises(VenueError) as caught:
        await open_venue(binance).place(sell("busy-1"))
    assert caught.value.kind == "rate_limited"
    assert binance.count(*ORDER) == 1 and binance.orders == {}


@pytest.mark.parametrize(
    "fault",
    [Fault(delay_s=1.0, after=True), Fault(drop=True, after=True), Fault(500, "oops", after=True)],
    ids=["timeout", "dropped", "500"],
)
async def test_an_order_accepted_without_an_answer_is_found_by_client_id(
    binance: BinanceStub, open_venue: VenueFactory, fault: Fault
) -> None:
    binance.fail_next(*ORDER, fault)
    state = await open_venue(binance).place(sell("lost-1"))
    assert (state.status, state.filled_quantity, state.venue_order_id) == (
        OrderStatus.FILLED,
        Decimal(2),
        "1",
    )
    assert binance.count(*ORDER) == 1 and len(binance.orders) == 1
    assert binance.requests[-1][2]["origClientOrderId"] == "lost-1"


async def test_an_order_lost_before_the_venue_saw_it_stays_new_then_cancels_locally(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance)
    binance.fail_next(*ORDER, SLOW)  # times out before the order takes effect
    state = await venue.place(sell("gone-1"))
    assert state.status is OrderStatus.NEW and "unconfirmed" in (state.reason or "")
    assert (await venue.status("gone-1")).status is OrderStatus.NEW
    cancelled = await venue.cancel("gone-1")
    assert cancelled.status is OrderStatus.REJECTED and cancelled.filled_quantity == 0
    assert binance.count(*ORDER) == 1 and binance.orders == {}


async def test_an_order_refused_at_connect_was_never_sent_and_may_be_sent_again(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance)
    await venue.market()
    await binance.stop()
    with pytest.raises(VenueError) as caught:
        await venue.place(sell("later-1"))
    assert caught.value.kind == "unreachable"
    await binance.start()
    assert (await venue.place(sell("later-1"))).status is OrderStatus.FILLED


async def test_every_request_is_reported_to_the_observer(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    seen: list[tuple[str, str, str]] = []
    venue = open_venue(
        binance, observer=lambda venue, endpoint, _s, outcome: seen.append((venue, endpoint, outcome))
    )
    binance.fail_next(*DEPTH, Fault(500, "oops"))
    await venue.book()
    assert seen == [
        ("ccxt-binance", "load_markets", "ok"),
        ("ccxt-binance", "fetch_order_book", "server_error"),
        ("ccxt-binance", "fetch_order_book", "ok"),
    ]
