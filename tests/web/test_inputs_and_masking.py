"""Integer query parameters take ASCII digits only, and URL credentials never show in /state or audit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.web.context import ApiOptions
from tests.fixtures.api_server import API_KEY, RunningApi, make_settings, start_api

# SQLite ignores the query password; it stands for a PostgreSQL URL's, which SQLAlchemy passes on.
pytestmark = pytest.mark.filterwarnings("ignore:Query string argument")
HEADERS = {"X-API-Key": API_KEY}
RPC_KEY = "9aa3d95b3bc440fa88ea12eaa4456161"  # the shape of an RPC provider's project key
DB_PASSWORD = "hunter2-query-password"
FEED_USER_KEY = "pl0user0token0abcdef123456"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """A server whose URL settings carry credentials: a query password, a path key, a userinfo key."""
    data = tmp_path_factory.mktemp("masking")
    settings = make_settings(
        data,
        API_KEY=API_KEY,
        DATABASE_URL=f"sqlite:///{(data / 'journal.db').as_posix()}?password={DB_PASSWORD}",
        HARDHAT_RPC=f"https://eth.example/v3/{RPC_KEY}",
        POWERLEDGER_API_URL=f"https://{FEED_USER_KEY}@api.powerledger.example/v1",
    )
    running = start_api(
        settings,
        options=ApiOptions(
            echo_orchestrator_output=False,
            control_plane_limit="1000/minute",
            auth_failure_limit="1000/minute",
        ),
    )
    yield running
    running.stop()


INTEGER_PARAMETERS = [
    ("/pnl", "days"),
    ("/trades", "limit"),
    ("/trades", "offset"),
    ("/spreads", "limit"),
    ("/audit", "limit"),
    ("/audit", "offset"),
]
# Digits Python's str.isdigit() (and for most, int()) accept: circled one, Arabic-Indic three,
# mathematical bold nine, fullwidth five; and doubled signs.
NOT_ASCII_INTEGERS = ["①", "٣", "\U0001d7d7", "\uff15", "+-5", "--1"]


@pytest.mark.parametrize(("path", "name"), INTEGER_PARAMETERS)
@pytest.mark.parametrize("value", NOT_ASCII_INTEGERS)
def test_an_integer_query_parameter_that_is_not_ascii_digits_is_422(
    server: RunningApi, path: str, name: str, value: str
) -> None:
    response = httpx.get(f"{server.base_url}{path}", params={name: value}, headers=HEADERS)
    assert response.status_code == 422, response.text
    assert response.json()["problems"][0].startswith(f"query.{name}:")


def test_state_masks_every_url_credential(server: RunningApi) -> None:
    # when the effective settings are read
    response = httpx.get(f"{server.base_url}/state", headers=HEADERS)
    # then no credential of a URL setting shows, and the rest of each URL does
    assert response.status_code == 200
    for secret in (RPC_KEY, DB_PASSWORD, FEED_USER_KEY):
        assert secret not in response.text
    settings = response.json()["settings"]
    assert settings["HARDHAT_RPC"] == "https://eth.example/v3/***"
    assert settings["DATABASE_URL"].endswith("journal.db?password=***")
    assert settings["POWERLEDGER_API_URL"] == "https://***@api.powerledger.example/v1"


def test_audit_records_mask_url_credentials_sent_or_configured(server: RunningApi) -> None:
    # given a key holder whose overrides quote a URL with a provider key, and the configured ones
    other_key = "Zx81kq0PLm5529aaBBccddEEff"
    body = {
        "overrides": {
            "HARDHAT_RPC": f"https://rpc.example/v2/{other_key}",
            "LOG_LEVEL": f"DEBUG {RPC_KEY} {DB_PASSWORD} {FEED_USER_KEY}",
        }
    }
    httpx.post(f"{server.base_url}/control/orchestrator/start", json=body, headers=HEADERS)
    # when the audit log is read back
    entry = httpx.get(f"{server.base_url}/audit?limit=1", headers=HEADERS).json()["items"][0]
    # then neither the sent key nor any configured credential is in it
    assert entry["action"] == "orchestrator.start"
    assert entry["parameters"]["overrides.HARDHAT_RPC"] == "https://rpc.example/v2/***"
    assert entry["parameters"]["overrides.LOG_LEVEL"] == "DEBUG *** *** ***"
