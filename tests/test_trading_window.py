"""The UTC trading window and weekend guard, as the original runbook promises them."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain.window import is_weekend, parse_window

THURSDAY = datetime(2026, 11, 26, tzinfo=UTC)  # a Thursday


def at(hh: int, mm: int = 0, day: datetime = THURSDAY) -> datetime:
    return day.replace(hour=hh, minute=mm)


def test_default_window_opens_at_five_and_closes_at_twenty_one() -> None:
    window = parse_window("05:00-21:00")
    assert not window.is_open(at(4, 59))
    assert window.is_open(at(5, 0))
    assert window.is_open(at(20, 59))
    assert not window.is_open(at(21, 0))


def test_overnight_window_spans_midnight() -> None:
    window = parse_window("22:00-06:00")
    assert window.is_open(at(23, 30))
    assert window.is_open(at(0, 0))
    assert window.is_open(at(5, 59))
    assert not window.is_open(at(6, 0))
    assert not window.is_open(at(12, 0))
    assert window.is_open(at(22, 0))


def test_all_day_window() -> None:
    window = parse_window("00:00-24:00")
    assert all(window.is_open(at(h, m)) for h in range(24) for m in (0, 59))


def test_window_is_judged_in_utc_whatever_the_callers_zone() -> None:
    window = parse_window("05:00-21:00")
    # 22:30 in UTC+2 is 20:30 UTC: inside
    assert window.is_open(datetime(2026, 11, 26, 22, 30, tzinfo=timezone(timedelta(hours=2))))


@pytest.mark.parametrize(
    "text", ["25:00-06:00", "05:60-21:00", "5:00-21:00", "05:00", "05:00-05:00", "", "24:30-01:00"]
)
def test_malformed_windows_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError):
        parse_window(text)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        parse_window("05:00-21:00").is_open(datetime(2026, 11, 26, 12, 0))


def test_saturday_and_sunday_are_weekend_in_utc() -> None:
    saturday = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert is_weekend(saturday)
    assert is_weekend(saturday + timedelta(days=1))
    assert not is_weekend(saturday + timedelta(days=2))
    # Friday 23:30 in UTC-2 is Saturday 01:30 UTC
    assert is_weekend(datetime(2026, 11, 27, 23, 30, tzinfo=timezone(timedelta(hours=-2))))


# -- one definition of "the market is open" ----------------------------------------------------------

_INSTANTS = [
    datetime(2026, 11, 28, 12, 0, tzinfo=UTC),  # Saturday noon
    datetime(2026, 11, 26, 3, 0, tzinfo=UTC),  # Thursday 03:00
    datetime(2026, 11, 26, 12, 0, tzinfo=UTC),  # Thursday noon
]


@pytest.mark.parametrize("at", _INSTANTS, ids=lambda at: at.strftime("%a-%H%M"))
@pytest.mark.parametrize("paused", [False, True])
@pytest.mark.parametrize("weekends", [False, True])
def test_the_guard_and_the_operators_trading_condition_agree_with_market_closed(
    at: datetime, paused: bool, weekends: bool
) -> None:
    from decimal import Decimal

    from arbitrage_operator.status import trading_condition
    from bot.config import Settings
    from bot.domain.decision import guard, limits_from
    from bot.domain.window import market_closed

    # given one bot's window, weekend rule and kill switch, as settings and as an ArbitrageBot spec
    settings = Settings.from_mapping(
        {"TRADING_WINDOW_UTC": "05:00-21:00", "ALLOW_WEEKEND_TRADING": str(int(weekends))}
    )
    spec = {"tradingWindow": {"utc": "05:00-21:00", "allowWeekends": weekends}, "paused": paused}
    # when each consumer judges the same instant
    closed = market_closed(at, settings.trading_window, allow_weekend=weekends, trading_enabled=not paused)
    blocked = guard(at, limits_from(settings), trading_enabled=not paused, daily_loss=Decimal(0))
    condition = trading_condition(spec, config_valid=True, ready=True, now=at)
    # then they give one answer
    assert (blocked.value if blocked else None) == closed
    expected = {
        None: "InsideWindow",
        "trading_disabled": "Paused",
        "weekend": "Weekend",
        "outside_window": "OutsideWindow",
    }
    assert condition.reason == expected[closed]
    assert (condition.status == "True") == (closed is None)
