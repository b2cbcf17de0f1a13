"""The fault matrix of the three REST venues, each test once per venue against a loopback server.

500, timeouts, a refused connection, malformed replies, 401, 429 with Retry-After, the venue
going away mid-sequence and the circuit breaker. Each asserts what a user would notice: the
error kind or order state, no credential in any message, no second order sent. Time is fake (the
adapter's clock and retry sleep are injected); only a deliberately late reply waits, briefly.
"""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from bot.domain.market import OrderStatus
from bot.venues.base import VenueError
from tests.venues.rest_fixtures import MakeVenue, assert_no_secret, free_port, options, order, serve
from tests.venues.rest_loopback import (
    FakeTime,
    LoopbackVenue,
    ServerFormat,
    fast_policy,
    json_reply,
)

# -- faults -----------------------------------------------------------------------------------------


async def test_server_error_on_a_read_is_retried_with_backoff(loopback: LoopbackVenue) -> None:
    time = FakeTime()
    loopback.fault(loopback.fmt.book_path, "GET", json_reply({"error": "boom"}, 500))
    venue = loopback.venue(clock=time)

    book = await venue.book()
    await venue.close()

    assert book.bids
    assert len(time.sleeps) == 1 and 0 < time.sleeps[0] <= 0.06  # backoff with jitter, capped


async def test_server_error_that_persists_raises_server_error(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    for _ in range(3):
        loopback.fault(loopback.fmt.book_path, "GET", json_reply({"error": "boom"}, 500))

    with pytest.raises(VenueError) as caught:
        await make_venue().book()

    assert caught.value.kind == "server_error"


async def test_server_error_on_place_is_never_resent(loopback: LoopbackVenue, make_venue: MakeVenue) -> None:
    loopback.fault("/orders", "POST", json_reply({"error": "boom"}, 500))

    state = await make_venue().place(order(loopback.fmt))

    assert len(loopback.posts) == 0  # the fault answered; nothing was resent to the venue
    assert state.status is OrderStatus.UNKNOWN  # the venue may have taken it: the cycle unwinds


async def test_timeout_on_a_read_raises_timeout(loopback: LoopbackVenue, make_venue: MakeVenue) -> None:
    for _ in range(2):
        loopback.fault(loopback.fmt.book_path, "GET", loopback.slow(0.3))

    with pytest.raises(VenueError) as caught:
        await make_venue(policy=fast_policy(read_timeout_s=0.05, read_attempts=2)).book()

    assert caught.value.kind == "timeout"


async def test_timeout_on_place_is_looked_up_or_reported_unknown(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    loopback.fault("/orders", "POST", loopback.slow(0.3))  # the venue takes the order, answers late

    state = await make_venue(policy=fast_policy(read_timeout_s=0.05)).place(order(loopback.fmt))

    assert len(loopback.posts) == 1  # never sent twice
    if loopback.fmt.lookup:  # ICE finds it by client order id
        assert state.status is OrderStatus.FILLED and state.venue_order_id == "ice-1"
    else:
        assert state.status is OrderStatus.UNKNOWN and "may or may not exist" in (state.reason or "")


async def test_connection_refused_raises_unreachable_on_read_and_place(loopback: LoopbackVenue) -> None:
    settings = loopback.settings(f"http://127.0.0.1:{free_port()}")
    venue = loopback.fmt.build(settings, options(FakeTime()))

    with pytest.raises(VenueError) as book_error:
        await venue.book()
    with pytest.raises(VenueError) as place_error:
        await venue.place(order(loopback.fmt))
    await venue.close()

    assert book_error.value.kind == place_error.value.kind == "unreachable"


async def test_malformed_book_raises_malformed(loopback: LoopbackVenue, make_venue: MakeVenue) -> None:
    loopback.fault(loopback.fmt.book_path, "GET", Response("{not json", content_type="application/json"))

    with pytest.raises(VenueError) as caught:
        await make_venue().book()

    assert caught.value.kind == "malformed"


async def test_accepted_order_with_an_unreadable_reply_is_unknown_not_resent(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    loopback.fault("/orders", "POST", json_reply({"order_id": "x-1", "status": "teleported"}, 201))
    heard: list[str] = []
    venue = make_venue(observer=lambda v, endpoint, seconds, outcome: heard.append(outcome))

    state = await venue.place(order(loopback.fmt))

    assert state.status is OrderStatus.UNKNOWN  # the venue took something: the cycle unwinds
    assert heard[0] == "malformed"
    assert [method for method, _ in loopback.seen].count("POST") == 1


async def test_unauthorized_names_the_kind_and_never_the_credential(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    for secret in loopback.fmt.secrets:  # the venue refuses and echoes what it was sent
        loopback.fault(
            loopback.fmt.book_path,
            "GET",
            json_reply({"error": "unauthorized", "message": f"bad {secret}"}, 401),
        )

    with pytest.raises(VenueError) as caught:
        await make_venue().book()

    assert caught.value.kind == "unauthorized"
    assert "HTTP 401" in str(caught.value)
    assert_no_secret(loopback.fmt, caught.value)


async def test_rate_limited_read_waits_for_retry_after(loopback: LoopbackVenue) -> None:
    time = FakeTime()
    loopback.fault(loopback.fmt.book_path, "GET", json_reply({}, 429, {"Retry-After": "2"}))
    venue = loopback.venue(clock=time)

    book = await venue.book()
    await venue.close()

    assert book.asks
    assert time.sleeps and time.sleeps[0] >= 2


async def test_rate_limited_place_is_not_resent_before_retry_after(
    loopback: LoopbackVenue, make_venue: MakeVenue
) -> None:
    loopback.fault("/orders", "POST", json_reply({}, 429, {"Retry-After": "30"}))
    venue = make_venue()

    with pytest.raises(VenueError) as first:
        await venue.place(order(loopback.fmt))
    with pytest.raises(VenueError) as second:
        await venue.place(order(loopback.fmt))

    assert first.value.kind == second.value.kind == "rate_limited"
    assert first.value.retry_after == 30
    assert [method for method, _ in loopback.seen].count("POST") == 1


async def test_venue_going_away_mid_sequence(
    fmt: ServerFormat, isolated_config_env: pytest.MonkeyPatch
) -> None:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)  # its own: this test stops it
    server.start()
    loopback = serve(fmt, server)
    loopback.mode = "rest"
    venue = loopback.venue()
    placed = await venue.place(order(fmt))

    server.stop()
    with pytest.raises(VenueError) as status_error:
        await venue.status("cyc-1-leg")
    with pytest.raises(VenueError) as cancel_error:
        await venue.cancel("cyc-1-leg")
    await venue.close()

    assert placed.status is OrderStatus.OPEN
    assert status_error.value.kind == cancel_error.value.kind == "unreachable"
    assert_no_secret(loopback.fmt, status_error.value)
    assert len(loopback.posts) == 1


async def test_breaker_opens_fails_fast_and_closes_after_a_probe(loopback: LoopbackVenue) -> None:
    time = FakeTime()
    for _ in range(2):
        loopback.fault(loopback.fmt.book_path, "GET", json_reply({}, 502))
    venue = loopback.venue(
        clock=time, policy=fast_policy(read_attempts=1, breaker_failures=2, breaker_cool_down_s=5)
    )

    kinds = []
    for _ in range(3):
        with pytest.raises(VenueError) as caught:
            await venue.book()
        kinds.append(caught.value.kind)
    sent_while_open = len(loopback.seen)
    time.now += 5  # the cool-down passes: the next call is a probe
    probe = await venue.book()
    after = await venue.book()
    await venue.close()

    assert kinds == ["server_error", "server_error", "venue_unavailable"]
    assert sent_while_open == 2  # the third call never reached the venue
    assert probe.bids and after.bids


async def test_observer_hears_every_request_with_its_outcome(loopback: LoopbackVenue) -> None:
    heard: list[tuple[str, str, str]] = []
    loopback.fault(loopback.fmt.book_path, "GET", json_reply({}, 500))
    venue = loopback.venue(
        observer=lambda v, endpoint, seconds, outcome: heard.append((v, endpoint, outcome))
    )

    await venue.book()
    await venue.place(order(loopback.fmt))
    await venue.close()

    name = loopback.fmt.name
    assert heard == [(name, "orderbook", "server_error"), (name, "orderbook", "ok"), (name, "place", "ok")]
