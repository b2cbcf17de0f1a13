"""`flash-green preflight` makes one authenticated read per enabled venue and fails on a refusal.

Venues are the real REST adapters against a loopback Powerledger server: built directly for the
per-venue check, and through `build_adapters` from the env file for the whole command.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.config import Settings
from bot.preflight import Report, add_venue_checks, check_venues, run_preflight
from bot.venues.http import VenueOptions
from bot.venues.powerledger import build_powerledger_venue
from tests.venues.rest_fixtures import http_server
from tests.venues.rest_loopback import PL_TOKEN, POWERLEDGER, LoopbackVenue, fast_policy

__all__ = ["http_server"]
WRONG_TOKEN = "pl-Wrong-5ecret-9876543210"


@pytest.fixture
def loopback(http_server: HTTPServer, isolated_config_env: pytest.MonkeyPatch) -> Iterator[LoopbackVenue]:
    http_server.clear()
    yield LoopbackVenue(POWERLEDGER, http_server)


def venue_with(loopback: LoopbackVenue, token: str):  # type: ignore[no-untyped-def]
    settings = Settings(
        _env_file=None, **{**POWERLEDGER.settings(loopback.url), "powerledger_api_token": token}
    )
    return build_powerledger_venue(settings, VenueOptions(policy=fast_policy(read_attempts=1)))


async def test_each_venue_is_reported_and_a_401_fails_preflight(loopback: LoopbackVenue) -> None:
    good, refused = venue_with(loopback, PL_TOKEN), venue_with(loopback, WRONG_TOKEN)
    refused.name = "powerledger-backup"  # two venues in one report, told apart by name

    checks = await check_venues([good, refused])
    await good.close()
    await refused.close()
    report = Report()
    add_venue_checks(checks, report)

    assert [(c.venue, c.ok, c.kind) for c in checks] == [
        ("powerledger", True, None),
        ("powerledger-backup", False, "unauthorized"),
    ]
    assert all(c.latency_s >= 0 for c in checks)
    text = report.render()
    assert "venue power:powerledger: ok" in text
    assert "venue power:powerledger-backup: FAILED (unauthorized)" in text
    assert not report.ok
    # the loopback venue echoes the refused credential in its body: none of it is repeated
    assert WRONG_TOKEN not in text and PL_TOKEN not in text


def env_file(path: Path, loopback: LoopbackVenue, token: str) -> Path:
    values = {
        "DATA_DIR": str(path.parent / "data"),
        "USE_POWERLEDGER_LIVE": "1",
        "POWERLEDGER_API_URL": loopback.url,
        "POWERLEDGER_API_TOKEN": token,
        "POWERLEDGER_ORG": "desk-7",
        "POWERLEDGER_MARKET": "uk-grid-24h-ahead",
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def test_preflight_pings_the_enabled_venue_from_the_env_file(loopback: LoopbackVenue, tmp_path: Path) -> None:
    report = run_preflight(env_file(tmp_path / "live.env", loopback, PL_TOKEN))

    assert report.ok, report.problems
    assert ("GET", POWERLEDGER.book_path) in loopback.seen  # one authenticated read
    assert not any(method != "GET" for method, _ in loopback.seen)  # read-only
    assert any(line.startswith("venue power:powerledger: ok") for line in report.summary)


def test_preflight_fails_when_the_venue_refuses_the_credential(
    loopback: LoopbackVenue, tmp_path: Path
) -> None:
    report = run_preflight(env_file(tmp_path / "bad.env", loopback, WRONG_TOKEN))

    assert not report.ok
    text = report.render()
    assert "FAILED (unauthorized)" in text and "powerledger" in text
    assert WRONG_TOKEN not in text
