"""Fixtures and helpers of the REST venue tests (imported by each test module, not a conftest:
tests/venues is shared with the CCXT adapter's tests)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from bot.domain.market import OrderRequest, OrderState, Side
from bot.venues.base import Venue
from bot.venues.http import VenueOptions
from tests.venues.rest_loopback import FORMATS, FakeTime, LoopbackVenue, ServerFormat, fast_policy

MakeVenue = Callable[..., Venue]


@pytest.fixture(params=FORMATS, ids=lambda fmt: fmt.name)
def fmt(request: pytest.FixtureRequest) -> ServerFormat:
    return request.param


@pytest.fixture(scope="module")
def http_server() -> Iterator[HTTPServer]:
    """One threaded loopback server for the module (stopping one takes half a second)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.stop()


def serve(fmt: ServerFormat, server: HTTPServer) -> LoopbackVenue:
    server.clear()
    return LoopbackVenue(fmt, server)


@pytest.fixture
def loopback(
    fmt: ServerFormat, http_server: HTTPServer, isolated_config_env: pytest.MonkeyPatch
) -> LoopbackVenue:
    return serve(fmt, http_server)


@pytest.fixture
async def make_venue(loopback: LoopbackVenue) -> AsyncIterator[MakeVenue]:
    """Builds adapters against the loopback venue and closes them after the test."""
    made: list[Venue] = []

    def make(**options: Any) -> Venue:
        made.append(loopback.venue(**options))
        return made[-1]

    yield make
    for venue in made:
        await venue.close()


def order(fmt: ServerFormat, cid: str = "cyc-1-leg", side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(
        cid, "power" if fmt.leg == "power" else "futures", side, Decimal("10.5"), Decimal("81.25")
    )


def assert_no_secret(fmt: ServerFormat, error: BaseException | OrderState) -> None:
    text = str(error) if isinstance(error, BaseException) else repr(error)
    for secret in fmt.secrets:
        assert secret not in text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def options(time: FakeTime) -> VenueOptions:
    return VenueOptions(policy=fast_policy(read_attempts=1), clock=time.monotonic, sleep=time.sleep)
