"""The three REST venues (Powerledger, ICE, the repo venue) against loopback servers: books and orders.

Every test runs once per venue: real httpx, a real HTTP server on 127.0.0.1 speaking that venue's
format (`rest_loopback.py`). Each asserts what a desk would notice: the book, the order state, no
second order at the venue. The faults are in `test_rest_venue_faults.py`.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer

from bot.config import Settings
from bot.domain.market import Level, OrderStatus
from bot.venues.base import VenueError
from tests.venues.rest_fixtures import MakeVenue, options, order
from tests.venues.rest_loopback import (
    EXACT,
    POWERLEDGER,
    FakeTime,
    LoopbackVenue,
    ServerFormat,
    fast_policy,
    json_reply,
)

# -- books ------------------------------------------------------------------------------------------


async def test_book_is_read_exactly_best_levels_first(loopback: LoopbackVenue, make_venue: MakeVenue) -> None:
    book = await make_venue().book()

    assert book.venue == loopback.fmt.name
    assert book.bids == (Level(Decimal("80.25"), Decimal("7")), Level(Decimal("80.10"), Decimal("12.5")))
    assert book.asks == (Level(Decimal("-1.50"), Decimal("4")), Level(Decimal(EXACT), Decimal("3")))
    assert book.at.tzinfo is not None and book.at.isoformat() == "2025-03-01T10:00:00+00:00"


async def test_book_falls_back_to_the_price_when_the_orderbook_is_missing(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    loopback.fault(loopback.fmt.book_path, "GET", json_reply({"error": "not_found"}, 404))
    venue = make_venue()

    if loopback.fmt.price_path is None:  # the repo venue has no price endpoint
        with pytest.raises(VenueError) as caught:
            await venue.book()
        assert caught.value.kind == "not_found"
        return
    book = await venue.book()

    size = Decimal("100")  # BOOK_SIZE_MWH
    assert len(book.bids) == len(book.asks) == 1
    assert book.bids[0].quantity == book.asks[0].quantity == size
    assert {book.bids[0].price, book.asks[0].price} <= {Decimal("-5.25"), Decimal("81.40"), Decimal("81.60")}


async def test_ping_makes_one_authenticated_read(loopback: LoopbackVenue, make_venue: MakeVenue) -> None:
    loopback.fault(loopback.fmt.book_path, "GET", json_reply({}, 503))
    venue = make_venue()

    with pytest.raises(VenueError) as caught:
        await venue.ping()
    await venue.ping()  # the next one meets the healthy venue

    assert caught.value.kind == "server_error"
    book_reads = [path for _, path in loopback.seen if path == loopback.fmt.book_path]
    assert len(book_reads) == 2  # no retry behind a ping


# -- orders -----------------------------------------------------------------------------------------


async def test_filled_order_reports_fill_and_sends_the_documented_body(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    state = await make_venue().place(order(loopback.fmt))

    assert state.status is OrderStatus.FILLED
    assert state.filled_quantity == Decimal("10.5") and state.average_price == Decimal("81.25")
    assert state.venue_order_id == f"{loopback.fmt.name}-1"
    [body] = loopback.posts
    assert body["client_order_id"] == "cyc-1-leg" and body["side"] == "BUY"
    assert body[loopback.fmt.quantity_key] == "10.5"  # decimal strings, never floats
    assert body[loopback.fmt.price_key(body)] == "81.25"


async def test_partial_fill_reports_what_filled(loopback: LoopbackVenue, make_venue: MakeVenue) -> None:
    loopback.mode = "partial"

    state = await make_venue().place(order(loopback.fmt))

    assert state.status is OrderStatus.PARTIALLY_FILLED
    assert state.filled_quantity == Decimal("5.25")


async def test_rejected_order_is_final_and_rejected(loopback: LoopbackVenue, make_venue: MakeVenue) -> None:
    loopback.mode = "reject"

    state = await make_venue().place(order(loopback.fmt))

    assert state.status is OrderStatus.REJECTED and state.status.is_final
    assert state.filled_quantity == 0


async def test_order_refused_with_an_error_reply_raises_rejected(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    loopback.fault(
        "/orders", "POST", json_reply({"error": "limit_breached", "message": "over the limit"}, 422)
    )

    with pytest.raises(VenueError) as caught:
        await make_venue().place(order(loopback.fmt))

    assert caught.value.kind == "rejected"
    assert "limit_breached" in str(caught.value)


async def test_resting_order_is_polled_then_cancelled(loopback: LoopbackVenue, make_venue: MakeVenue) -> None:
    loopback.mode = "rest"
    venue = make_venue()

    placed = await venue.place(order(loopback.fmt))
    polled = await venue.status("cyc-1-leg")
    cancelled = await venue.cancel("cyc-1-leg")

    assert placed.status is OrderStatus.OPEN and polled.status is OrderStatus.OPEN
    assert cancelled.status is OrderStatus.CANCELLED
    assert [method for method, path in loopback.seen if path.startswith("/orders")] == [
        "POST",
        "GET",
        "DELETE",
    ]


async def test_cancelling_a_filled_order_returns_its_fill(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    venue = make_venue()
    await venue.place(order(loopback.fmt))

    state = await venue.cancel("cyc-1-leg")  # the venue refuses the DELETE: the order is final

    assert state.status is OrderStatus.FILLED and state.filled_quantity == Decimal("10.5")


async def test_placing_the_same_client_order_id_twice_sends_one_order(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    venue = make_venue()

    first = await venue.place(order(loopback.fmt))
    again = await venue.place(order(loopback.fmt))

    assert again == first
    assert len(loopback.posts) == 1


async def test_duplicate_client_order_id_after_a_restart_reads_the_existing_order(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    await make_venue().place(order(loopback.fmt))
    restarted = make_venue()  # a new process: it does not know the venue order id

    state = await restarted.place(order(loopback.fmt))

    assert state.status is OrderStatus.FILLED and state.venue_order_id == f"{loopback.fmt.name}-1"
    assert len(loopback.orders) == 1  # the venue refused the resend; one order exists


async def test_restarted_bot_reads_and_cancels_by_the_journalled_venue_order_id(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    loopback.mode = "rest"
    placed = await make_venue().place(order(loopback.fmt))
    restarted = make_venue()

    status = await restarted.status("cyc-1-leg", placed.venue_order_id)
    cancelled = await restarted.cancel("cyc-1-leg", placed.venue_order_id)

    assert status.status is OrderStatus.OPEN
    assert cancelled.status is OrderStatus.CANCELLED


async def test_duplicate_answer_naming_no_order_is_looked_up_or_unknown(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    await make_venue().place(order(loopback.fmt))
    bare = loopback.fmt.duplicate_reply("")  # the venue's duplicate error, without the order id
    bare.pop("order_id", None)
    if isinstance(bare.get("error"), dict):
        bare["error"].pop("order_id", None)
    loopback.fault("/orders", "POST", json_reply(bare, 400))

    state = await make_venue().place(order(loopback.fmt))

    assert len(loopback.orders) == 1
    if loopback.fmt.lookup:
        assert state.status is OrderStatus.FILLED and state.venue_order_id == "ice-1"
    else:
        assert state.status is OrderStatus.UNKNOWN


async def test_cancel_whose_answer_is_lost_is_settled_by_reading_the_order(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    loopback.mode = "rest"
    venue = make_venue(policy=fast_policy(read_timeout_s=0.05))
    placed = await venue.place(order(loopback.fmt))
    loopback.fault(f"/orders/{placed.venue_order_id}", "DELETE", loopback.slow(0.3))

    state = await venue.cancel("cyc-1-leg")

    assert state.status is OrderStatus.CANCELLED
    assert [method for method, _ in loopback.seen].count("DELETE") == 1  # never resent


async def test_status_of_an_order_never_seen_is_not_found(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    with pytest.raises(VenueError) as caught:
        await make_venue().status("cyc-unknown")

    assert caught.value.kind == "not_found"


# -- settings ---------------------------------------------------------------------------------------


def test_each_adapter_names_the_settings_it_misses(
    fmt: ServerFormat, isolated_config_env: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match=r"set .*_API_URL"):
        fmt.build(Settings(_env_file=None), options(FakeTime()))


@pytest.mark.parametrize("fmt", [POWERLEDGER], ids=["powerledger"])
async def test_powerledger_api_key_scheme_sends_the_token_as_x_pl_api_key(
    fmt: ServerFormat, http_server: HTTPServer, isolated_config_env: pytest.MonkeyPatch
) -> None:
    server = http_server
    server.clear()
    server.expect_request("/markets/uk-grid-24h-ahead/orderbook").respond_with_json(
        {"bids": [], "asks": [], "timestamp": "2025-03-01T10:00:00Z"}
    )
    settings = Settings(_env_file=None, powerledger_auth_scheme="api-key", **fmt.settings(server.url_for("")))
    venue = fmt.build(settings, options(FakeTime()))
    try:
        await venue.ping()
    finally:
        await venue.close()

    [request] = [r for r, _ in server.log if "X-PL-Org" in r.headers]
    assert request.headers["X-PL-API-Key"] == fmt.secrets[0]
    assert "Authorization" not in request.headers and request.headers["X-PL-Org"] == "desk-7"
