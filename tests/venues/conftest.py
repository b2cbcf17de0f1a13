"""Fixtures of tests/venues: the REST venues' loopback servers (`rest_fixtures.py`) and the
binance-format stand-in the CCXT tests share (`tests/fixtures/binance.py`).

The REST fixtures are re-exported here so pytest finds them.
"""

from collections.abc import AsyncIterator

import pytest

from tests.fixtures.binance import BinanceStub, VenueFactory, running_stub, venue_factory
from tests.venues.rest_fixtures import fmt, http_server, loopback, make_venue  # noqa: F401


@pytest.fixture
async def binance() -> AsyncIterator[BinanceStub]:
    """The loopback server speaking binance spot's JSON (and its depth stream)."""
    async with running_stub() as stub:
        yield stub


@pytest.fixture
async def open_venue() -> AsyncIterator[VenueFactory]:
    """Builds CCXT venues pointed at the stand-in; closes each at the end of the test."""
    async with venue_factory() as make:
        yield make
