"""The shared REST transport's pieces on their own: Retry-After, the breaker, exact decoding."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime

import pytest

from bot.venues.base import VenueError
from bot.venues.http import CircuitBreaker
from bot.venues.http.transport import retry_after_seconds
from bot.venues.http.wire import decode_json, wire_decimal


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_retry_after_reads_seconds_and_http_dates() -> None:
    at = datetime(2025, 3, 1, 10, 0, 30, tzinfo=UTC)
    now = datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC).timestamp()

    assert retry_after_seconds("7") == 7
    assert retry_after_seconds(format_datetime(at, usegmt=True), now=now) == 30
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_breaker_reopens_when_its_probe_fails() -> None:
    clock = Clock()
    breaker = CircuitBreaker("ice", failure_threshold=2, cool_down_s=10, clock=clock)
    breaker.record_failure()
    breaker.record_failure()

    with pytest.raises(VenueError) as caught:
        breaker.before_call()
    clock.now = 10
    breaker.before_call()  # the probe
    with pytest.raises(VenueError):
        breaker.before_call()  # a second caller while the probe is out
    breaker.record_failure()

    assert caught.value.kind == "venue_unavailable"
    assert breaker.state == "open"
    clock.now = 20
    assert breaker.state == "half_open"


def test_breaker_lets_the_next_call_probe_when_a_probe_is_cancelled() -> None:
    clock = Clock()
    breaker = CircuitBreaker("ice", failure_threshold=1, cool_down_s=1, clock=clock)
    breaker.record_failure()
    clock.now = 1
    breaker.before_call()

    breaker.abandon_probe()

    assert breaker.state == "half_open"


def test_json_numbers_become_exact_decimals_and_nan_is_refused() -> None:
    assert decode_json('{"p": 0.1234567890123456789}')["p"] == Decimal("0.1234567890123456789")
    with pytest.raises(ValueError):
        decode_json('{"p": NaN}')
    assert wire_decimal(Decimal("1E+2")) == "100"
