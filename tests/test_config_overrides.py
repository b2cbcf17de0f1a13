"""The control plane may tighten a bot's risk, never loosen it: each setting's `override` rule."""

from __future__ import annotations

import pytest

from bot.config import Settings, catalog
from bot.config.overrides import override_problems
from tests.fixtures.config_problems import TOGGLE_NAMES

RUNNING = Settings.from_mapping(
    {"TRADING_WINDOW_UTC": "06:00-20:00", "LOAN_LIMIT_GBP": "50000", "MAX_DAILY_LOSS_GBP": "400"}
)
PAUSED = Settings.from_mapping({"TRADING_ENABLED": "0"})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("LOAN_LIMIT_GBP", "20000"),
        ("MAX_NOTIONAL_PER_TRADE", "5000"),
        ("MAX_POSITION_MWH", "10"),
        ("MAX_DAILY_LOSS_GBP", "100"),
        ("MIN_PROFIT_GBP", "5"),
        ("TRADING_ENABLED", "0"),
        ("ALLOW_WEEKEND_TRADING", "0"),
        ("TRADING_WINDOW_UTC", "08:00-12:00"),
        ("CYCLE_INTERVAL_SECS", "0.5"),
        ("LOG_LEVEL", "DEBUG"),
    ],
)
def test_overrides_that_tighten_or_only_pace_are_accepted(key: str, value: str) -> None:
    # given a running bot, when an override tightens a limit or changes only its pace, then it is accepted
    assert override_problems(RUNNING, {key: value}) == []


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("LOAN_LIMIT_GBP", "100000000", "may only be lowered"),
        ("MAX_NOTIONAL_PER_TRADE", "20000", "may only be lowered"),
        ("MAX_POSITION_MWH", "100000", "may only be lowered"),
        ("MAX_DAILY_LOSS_GBP", "100000000", "may only be lowered"),
        ("MIN_PROFIT_GBP", "0", "may only be raised"),
        ("ALLOW_WEEKEND_TRADING", "1", "may only be switched off"),
        ("TRADING_WINDOW_UTC", "00:00-24:00", "only a narrower window"),
        ("TRADING_WINDOW_UTC", "19:00-07:00", "only a narrower window"),
        ("BOT_NAME", "other-bot", "deployment's choice"),
        ("DATABASE_URL", "sqlite:///elsewhere.db", "deployment's choice"),
        ("USE_ICE_LIVE", "1", "deployment's choice"),
        ("ICE_SYMBOL", "OTHER", "deployment's choice"),
        ("CONTROL_PLANE_ROLES", "anyone", "deployment's choice"),
    ],
)
def test_overrides_that_loosen_or_redirect_are_refused_naming_the_key(key: str, value: str, why: str) -> None:
    # given a running bot, when an override would loosen a limit or change identity, journal or venue
    problems = override_problems(RUNNING, {key: value})
    # then it is refused, naming the key and why
    assert [p.env for p in problems] == [key]
    assert why in problems[0].message


def test_a_bot_paused_by_its_configuration_cannot_be_resumed_from_the_api() -> None:
    # given a bot whose resource or environment pauses it
    # when the control plane asks for TRADING_ENABLED=1
    problems = override_problems(PAUSED, {"TRADING_ENABLED": "1"})
    # then it is refused
    assert [p.env for p in problems] == ["TRADING_ENABLED"]


def test_secrets_and_unknown_names_are_refused_with_the_fix() -> None:
    problems = override_problems(RUNNING, {"ICE_API_SECRET": "x", "loan_limit_gbp": "1", "NOPE": "1"})
    messages = [p.message for p in problems]
    assert "ICE_API_SECRET is a secret" in messages[0]
    assert "use LOAN_LIMIT_GBP" in messages[1]
    assert "NOPE is not a setting" in messages[2]


def test_every_setting_has_an_override_rule_and_secrets_are_never_overridable() -> None:
    for row in catalog():
        assert row.override in ("never", "any", "lower", "higher", "off", "narrower"), row.env
        if row.secret or row.env in TOGGLE_NAMES or row.env.startswith(("VAULT_", "AWS_", "OIDC_")):
            assert row.override == "never", row.env
