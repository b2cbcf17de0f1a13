"""Logs: text or JSON, every field filled, secrets masked wherever they would appear."""

import json
import logging

import pytest

from bot.logs import configure


@pytest.fixture
def capture(capsys: pytest.CaptureFixture[str]):
    def read() -> list[str]:
        return [line for line in capsys.readouterr().err.splitlines() if line.strip()]

    yield read
    logging.getLogger().handlers.clear()


def test_json_lines_carry_the_structured_fields(capture) -> None:
    configure("INFO", "json", [])
    logging.getLogger("bot.orchestrator").info(
        "trade executed", extra={"fields": {"cycle_id": "fg-000000001", "net_gbp": "12.34", "partial": False}}
    )
    (line,) = capture()
    record = json.loads(line)
    assert record["message"] == "trade executed"
    assert (
        record["cycle_id"] == "fg-000000001" and record["net_gbp"] == "12.34" and record["partial"] is False
    )
    assert record["time"].endswith("Z") and record["levelname"] == "INFO"


def test_text_lines_show_fields_as_key_values(capture) -> None:
    configure("INFO", "text", [])
    logging.getLogger("bot").info("trade executed", extra={"fields": {"cycle_id": "c-1", "net_gbp": "1.00"}})
    (line,) = capture()
    assert "trade executed cycle_id=c-1 net_gbp=1.00" in line


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secret_values_are_masked_in_messages_arguments_fields_and_tracebacks(capture, fmt: str) -> None:
    secret = "sk-live-0123456789"
    configure("INFO", fmt, [secret])
    log = logging.getLogger("bot")
    log.info("token is %s", secret)
    log.info("fields", extra={"fields": {"header": f"Bearer {secret}"}})
    try:
        raise RuntimeError(f"upstream said {secret}")
    except RuntimeError:
        log.exception("call failed")
    output = "\n".join(capture())
    assert secret not in output
    assert output.count("***") >= 3


def test_log_level_filters(capture) -> None:
    configure("WARNING", "text", [])
    logging.getLogger("bot").info("quiet")
    logging.getLogger("bot").warning("loud")
    lines = capture()
    assert len(lines) == 1 and "loud" in lines[0]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_credentials_of_configured_url_settings_are_masked_however_they_are_quoted(capture, fmt: str) -> None:
    # given settings whose URLs carry a query password, a userinfo password and a provider key
    from bot.config import Settings
    from bot.logs import log_secrets

    settings = Settings.from_mapping(
        {
            "DATABASE_URL": "postgresql+psycopg://bot@db/journal?sslmode=require&password=q-pass-0123",
            "HARDHAT_RPC": "https://eth.example/v3/9aa3d95b3bc440fa88ea12eaa4456161",
            "ICE_API_URL": "https://desk:ice-pass-4567@ice.example/api",
        }
    )
    configure("INFO", fmt, log_secrets(settings))
    log = logging.getLogger("bot")
    # when a library quotes them alone, in a conninfo, or as whole URLs
    log.warning("connection failed: password=q-pass-0123 user=bot")
    log.warning("rpc %s answered 401", "9aa3d95b3bc440fa88ea12eaa4456161")
    log.warning("GET %s failed", settings.ice_api_url)
    output = "\n".join(capture())
    # then none of them shows
    for secret in ("q-pass-0123", "9aa3d95b3bc440fa88ea12eaa4456161", "ice-pass-4567"):
        assert secret not in output
    assert "https://desk:***@ice.example/api" in output


def test_credentials_of_any_url_in_a_line_are_masked_even_when_not_configured(capture) -> None:
    configure("INFO", "text", [])
    logging.getLogger("bot").warning(
        "fetch https://u:pw-0123@h.example/v3/AbCdEf0123456789xyzQ?token=t0k3n failed"
    )
    (line,) = capture()
    assert "fetch https://u:***@h.example/v3/***?token=*** failed" in line
