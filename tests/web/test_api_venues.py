"""`/readyz` names each venue with its health: up, last latency, circuit breaker.

The API runs under uvicorn on loopback; its readiness probes a real Powerledger REST adapter
pointed at a loopback venue (ApiOptions.venue_probes), so the breaker opens for real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from bot.config import Settings
from bot.web.context import ApiOptions
from bot.web.readiness import VenueProbes, venue_probes
from tests.fixtures.api_server import RunningApi
from tests.venues.rest_fixtures import http_server
from tests.venues.rest_loopback import PL_TOKEN, POWERLEDGER, FakeTime, LoopbackVenue, fast_policy, json_reply

__all__ = ["http_server"]


@pytest.fixture
def loopback(http_server: HTTPServer, isolated_config_env: pytest.MonkeyPatch) -> Iterator[LoopbackVenue]:
    http_server.clear()
    yield LoopbackVenue(POWERLEDGER, http_server)


def probes_of(loopback: LoopbackVenue) -> Callable[[Settings], VenueProbes]:
    """Readiness probes of one Powerledger adapter whose breaker opens at the first failure."""

    def build(settings: Settings) -> VenueProbes:
        venue = loopback.venue(policy=fast_policy(read_attempts=1, breaker_failures=1), clock=FakeTime())
        return venue_probes([venue])

    return build


def ready(api: RunningApi) -> httpx.Response:
    return httpx.get(f"{api.base_url}/readyz", timeout=10)


def test_readyz_lists_each_venue_with_its_breaker_and_latency(
    api_server: Callable[..., RunningApi], loopback: LoopbackVenue
) -> None:
    options = ApiOptions(echo_orchestrator_output=False, venue_probes=probes_of(loopback), readiness_ttl_s=0)
    api = api_server(options=options)

    answer = ready(api)

    assert answer.status_code == 200
    body = answer.json()
    assert body["ready"] is True
    (venue,) = body["venues"]
    assert (venue["venue"], venue["leg"], venue["up"], venue["breaker"]) == (
        "powerledger",
        "power",
        True,
        "closed",
    )
    assert venue["last_outcome"] == "ok" and venue["last_latency_ms"] >= 0
    assert {"name": "power:powerledger", "status": "ok", "detail": "reachable"} in body["checks"]


def test_a_venue_that_fails_keeps_the_bot_not_ready_with_its_breaker_open(
    api_server: Callable[..., RunningApi], loopback: LoopbackVenue
) -> None:
    options = ApiOptions(echo_orchestrator_output=False, venue_probes=probes_of(loopback), readiness_ttl_s=0)
    api = api_server(options=options)
    loopback.fault(POWERLEDGER.book_path, "GET", json_reply({"error": "down", "message": PL_TOKEN}, 503))

    failing = ready(api)
    held_off = ready(api)  # the breaker is open: nothing is sent, the venue stays not ready

    assert failing.status_code == held_off.status_code == 503
    check = next(c for c in failing.json()["checks"] if c["name"] == "power:powerledger")
    assert check == {"name": "power:powerledger", "status": "fail", "detail": "venue error: server_error"}
    (venue,) = held_off.json()["venues"]
    assert (venue["up"], venue["breaker"], venue["last_outcome"]) == (False, "open", "venue_unavailable")
    for answer in (failing, held_off):
        assert PL_TOKEN not in answer.text and loopback.url not in answer.text


def test_healthz_readiness_probe_carries_the_venues(
    api_server: Callable[..., RunningApi], loopback: LoopbackVenue, tmp_path: Path
) -> None:
    options = ApiOptions(echo_orchestrator_output=False, venue_probes=probes_of(loopback), readiness_ttl_s=0)
    api = api_server(options=options)

    body = httpx.get(f"{api.base_url}/healthz", params={"probe": "readiness"}, timeout=10).json()

    assert [v["venue"] for v in body["venues"]] == ["powerledger"]
