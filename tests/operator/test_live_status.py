"""A bot's own report as status fields: what is written, and that an unchanged report writes nothing."""

from __future__ import annotations

import datetime

import pytest

from arbitrage_operator import runtime
from arbitrage_operator.live_status import changed_fields, from_answers, unreachable
from bot.status.api_reader import Answers

NOW = datetime.datetime(2026, 3, 4, 12, 0, tzinfo=datetime.UTC)


def answers(
    *, realised: str = "12.50", loss: str = "0", limit: str = "500", breaker: str = "closed"
) -> Answers:
    return Answers(
        health={"status": "ok", "version": "0.1.0"},
        readiness={
            "ready": True,
            "checks": [{"name": "journal", "status": "ok"}],
            "venues": [
                {"venue": "sim-power", "leg": "power", "up": True, "breaker": "none", "last_outcome": "ok"},
                {
                    "venue": "ice",
                    "leg": "futures",
                    "up": False,
                    "breaker": breaker,
                    "last_outcome": "timeout",
                },
            ],
        },
        state={},
        pnl={
            "daily_loss_limit_gbp": limit,
            "today": {"day": "2026-03-04", "realised_gbp": realised, "loss_gbp": loss, "trades": 4},
        },
        trades={"items": [{"executed_at": "2026-03-04T11:59:30.250000+00:00"}]},
    )


def test_the_report_carries_pnl_trades_last_trade_venues_and_journal() -> None:
    fields = from_answers(answers(), {"journal": {"databaseUrlSecretRef": {"name": "pg"}}})
    assert fields["pnlTodayGBP"] == "12.50"
    assert (fields["pnlDay"], fields["tradesToday"], fields["lastTradeAt"]) == (
        "2026-03-04",
        4,
        "2026-03-04T11:59:30Z",
    )
    assert fields["venues"] == [
        {"name": "sim-power", "leg": "power", "up": True, "breaker": "none"},
        {"name": "ice", "leg": "futures", "up": False, "breaker": "closed", "lastError": "timeout"},
    ]
    assert fields["journal"] == {"engine": "postgresql", "reachable": True}
    assert fields["botApi"] == {"reachable": True}
    assert fields["dailyLossLimitHit"] is False


def test_losses_at_the_limit_are_reported_as_the_limit_hit() -> None:
    assert from_answers(answers(loss="500.00", realised="-500.00"), {})["dailyLossLimitHit"] is True


def test_the_same_report_twice_writes_nothing() -> None:
    # given a status that already holds the report (as the API server stores it)
    stored = changed_fields({}, from_answers(answers(), {}))
    # when the same report is read again
    patch = changed_fields(stored, from_answers(answers(), {}))
    # then there is nothing to write
    assert patch == {}


def test_an_unreachable_bot_keeps_todays_figures_and_says_why() -> None:
    stored = changed_fields({}, from_answers(answers(), {}))
    patch = changed_fields(stored, unreachable(stored, {}, "cannot reach the bot", now=NOW))
    assert patch["botApi"] == {"reachable": False, "message": "cannot reach the bot"}
    assert patch["venues"] is None  # unknown is not up
    assert patch["journal"] == {"engine": "sqlite", "reachable": None}  # merge patch: reachable removed
    assert "pnlTodayGBP" not in patch and "tradesToday" not in patch


def test_an_unreachable_bot_drops_yesterdays_figures() -> None:
    stored = changed_fields({}, from_answers(answers(), {}))
    tomorrow = NOW + datetime.timedelta(days=1)
    patch = changed_fields(stored, unreachable(stored, {}, "down", now=tomorrow))
    assert patch["pnlTodayGBP"] is None and patch["tradesToday"] is None and patch["pnlDay"] is None


def test_a_reachable_bot_again_clears_the_message() -> None:
    stored = {"botApi": {"reachable": False, "message": "down"}}
    assert changed_fields(stored, {"botApi": {"reachable": True}}) == {
        "botApi": {"reachable": True, "message": None}
    }


def test_the_bot_url_comes_from_the_template() -> None:
    config = runtime.load({})
    assert config.bot_url("desk-a", "alpha", 8002) == "http://alpha.desk-a.svc:8002"
    assert runtime.load({"FLASH_GREEN_BOT_STATUS_PERIOD": "5"}).bot_status_period == 5.0


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("FLASH_GREEN_BOT_URL_TEMPLATE", "http://{service}.{cluster}:1"),
        ("FLASH_GREEN_BOT_URL_TEMPLATE", "ftp://x"),
        ("FLASH_GREEN_BOT_STATUS_PERIOD", "0"),
    ],
)
def test_a_bad_bot_url_template_or_period_stops_the_operator_naming_it(env: str, value: str) -> None:
    with pytest.raises(runtime.RuntimeConfigError, match=env):
        runtime.load({env: value})
