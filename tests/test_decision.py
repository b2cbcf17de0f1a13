"""The decision path: guards before data, quote checks, sizing, costs; zero and negative prices."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from bot.domain.decision import Block, Limits, NoTrade, Opportunity, decide, kelly_fraction, plan
from bot.domain.market import Book, Level
from bot.domain.window import parse_window

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # Thursday noon
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

LIMITS = Limits(
    window=parse_window("05:00-21:00"),
    allow_weekend=False,
    max_daily_loss=D("500"),
    loan_limit=D("100000"),
    max_notional=D("10000"),
    max_position=D("50"),
    min_profit=D("1"),
    kelly_bank=D("0"),
    power_fee_bp=D("5"),
    futures_fee_bp=D("2"),
    loan_fee_bp=D("9"),
    gas=D("0.50"),
    max_quote_age_ms=2000,
)


def book(side: str, *levels: tuple[str, str], at: datetime = NOW, venue: str = "v") -> Book:
    lv = tuple(Level(D(p), D(q)) for p, q in levels)
    return Book(venue, "X", bids=lv if side == "bids" else (), asks=lv if side == "asks" else (), at=at)


def decide_now(power: Book | None, futures: Book | None, limits: Limits = LIMITS, **kw: object):
    kw.setdefault("trading_enabled", True)
    kw.setdefault("daily_loss", D(0))
    now = kw.pop("now", NOW)
    return decide(now, power, futures, limits, **kw)  # type: ignore[arg-type]


PAYING_POWER = book("asks", ("50.00", "10"), ("50.50", "10"), ("51.00", "10"))
PAYING_FUTURES = book("bids", ("53.00", "10"), ("52.00", "10"), ("50.00", "10"))


def test_a_paying_spread_is_sized_across_levels_while_each_mwh_still_earns() -> None:
    result = decide_now(PAYING_POWER, PAYING_FUTURES)
    assert isinstance(result, Opportunity)
    # level pairs: 53-50, 52-50.5 pay; 50-51 does not
    assert result.quantity == D("20")
    assert result.power_limit == D("50.50")
    assert result.futures_limit == D("52.00")
    assert result.gross == D("53") * 10 + D("52") * 10 - (D("50") * 10 + D("50.5") * 10)


@pytest.mark.parametrize(
    ("ask", "bid", "power_limit", "futures_limit"),
    [
        # at ordinary prices a share of the price is the room: 15 bp of 50.00 is 0.075
        ("50.00", "53.00", "50.08", "52.92"),
        # near zero a share of the price is no room at all: the floor of 0.05 GBP/MWh applies
        ("-0.40", "2.60", "-0.35", "2.55"),
        ("0.00", "3.00", "0.05", "2.95"),
    ],
)
def test_limit_prices_reach_past_the_quote_by_a_share_of_it_and_never_less_than_the_floor(
    ask: str, bid: str, power_limit: str, futures_limit: str
) -> None:
    # given a tolerance of 15 bp with a floor of 0.05 GBP/MWh
    limits = replace(LIMITS, tolerance_bp=D("15"), tolerance_min=D("0.05"))
    # when one level on each side pays
    result = decide_now(book("asks", (ask, "10")), book("bids", (bid, "10")), limits)
    # then each limit reaches past its quote by the larger of the two, rounded outward to the tick
    assert isinstance(result, Opportunity)
    assert (result.power_limit, result.futures_limit) == (D(power_limit), D(futures_limit))


def test_expected_profit_is_net_of_venue_fees_loan_fee_and_gas() -> None:
    result = decide_now(PAYING_POWER, PAYING_FUTURES)
    assert isinstance(result, Opportunity)
    power_notional = D("50") * 10 + D("50.5") * 10
    futures_notional = D("53") * 10 + D("52") * 10
    fees = power_notional * D("0.0005") + futures_notional * D("0.0002") + power_notional * D("0.0009")
    assert result.costs.total == fees + D("0.50")
    assert result.expected_profit == result.gross - fees - D("0.50")
    assert result.loan_amount == power_notional


def test_quantity_is_bounded_by_the_position_limit() -> None:
    limits = replace(LIMITS, max_position=D("7"))
    result = decide_now(PAYING_POWER, PAYING_FUTURES, limits)
    assert isinstance(result, Opportunity) and result.quantity == D("7")


def test_quantity_is_bounded_by_the_notional_limit() -> None:
    limits = replace(LIMITS, max_notional=D("250"))
    result = decide_now(PAYING_POWER, PAYING_FUTURES, limits)
    assert isinstance(result, Opportunity) and result.quantity == D("5")  # 250 / 50


def test_quantity_is_bounded_by_the_loan_limit() -> None:
    limits = replace(LIMITS, loan_limit=D("100"), max_notional=D("100"))
    result = decide_now(PAYING_POWER, PAYING_FUTURES, limits)
    assert isinstance(result, Opportunity)
    assert result.loan_amount <= D("100") and result.quantity == D("2")


def test_quantity_is_bounded_by_book_depth() -> None:
    power = book("asks", ("10", "3"))
    futures = book("bids", ("20", "100"))
    result = decide_now(power, futures)
    assert isinstance(result, Opportunity) and result.quantity == D("3")


def test_kelly_sizing_caps_notional_at_a_tenth_of_the_bank() -> None:
    limits = replace(LIMITS, kelly_bank=D("1000"), max_notional=D("100000"), max_position=D("1000"))
    power = book("asks", ("50", "100"))
    futures = book("bids", ("60", "100"))
    result = decide_now(power, futures, limits)
    assert isinstance(result, Opportunity)
    assert result.quantity * D("50") <= D("100")  # 10% of 1000


def test_kelly_fraction_is_zero_without_an_edge_and_capped_at_ten_percent() -> None:
    assert kelly_fraction(D("0"), D("5")) == 0
    assert kelly_fraction(D("-1"), D("5")) == 0
    assert kelly_fraction(D("1000"), D("1")) == D("0.10")
    assert kelly_fraction(D("0.01"), D("100")) == 0  # payoff too poor for the success prior


def test_a_spread_that_does_not_cover_costs_is_not_traded() -> None:
    power = book("asks", ("50.00", "10"))
    futures = book("bids", ("50.05", "10"))
    result = decide_now(power, futures)
    assert isinstance(result, NoTrade)
    assert result.reason == "below_threshold" and result.spread == D("0.05")


def test_a_negative_spread_is_not_traded() -> None:
    result = decide_now(book("asks", ("55", "10")), book("bids", ("50", "10")))
    assert isinstance(result, NoTrade) and result.reason == "negative_spread" and result.spread == D("-5")


def test_profit_below_the_minimum_is_not_traded() -> None:
    limits = replace(LIMITS, min_profit=D("1000"))
    result = decide_now(PAYING_POWER, PAYING_FUTURES, limits)
    assert isinstance(result, NoTrade) and result.reason == "below_threshold"


def test_negative_power_price_is_an_opportunity_that_needs_no_loan() -> None:
    power = book("asks", ("-20.00", "10"))
    futures = book("bids", ("5.00", "10"))
    result = decide_now(power, futures)
    assert isinstance(result, Opportunity)
    assert result.quantity == D("10")
    assert result.loan_amount == 0 and result.costs.loan_fee == 0 and result.costs.gas == 0
    assert result.gross == D("250")  # paid 200 to take power, sold futures for 50
    assert result.costs.power_fee == D("200") * D("0.0005")  # fees on the absolute notional


def test_zero_power_price_is_sized_by_depth_and_position_not_divided_by() -> None:
    power = book("asks", ("0.00", "100"))
    futures = book("bids", ("3.00", "100"))
    result = decide_now(power, futures)
    assert isinstance(result, Opportunity)
    assert result.quantity == LIMITS.max_position and result.loan_amount == 0


def test_negative_futures_price_with_deeper_negative_power_still_pays() -> None:
    result = decide_now(book("asks", ("-40", "5")), book("bids", ("-10", "5")))
    assert isinstance(result, Opportunity) and result.gross == D("150")


@pytest.mark.parametrize(
    ("now", "kw", "limits", "expected"),
    [
        (NOW.replace(hour=4), {}, LIMITS, Block.OUTSIDE_WINDOW),
        (NOW.replace(hour=21), {}, LIMITS, Block.OUTSIDE_WINDOW),
        (SATURDAY, {}, LIMITS, Block.WEEKEND),
        (NOW, {"trading_enabled": False}, LIMITS, Block.TRADING_DISABLED),
        (NOW, {"daily_loss": D("500")}, LIMITS, Block.DAILY_LOSS_LIMIT),
    ],
)
def test_guards_block_before_any_quote_is_looked_at(now, kw, limits, expected) -> None:
    # the books are missing: a guard must answer before the quotes are even checked
    assert decide_now(None, None, limits, now=now, **kw) is expected


def test_weekend_trading_is_allowed_when_the_flag_is_set() -> None:
    limits = replace(LIMITS, allow_weekend=True)
    power = PAYING_POWER._replace(at=SATURDAY)
    futures = PAYING_FUTURES._replace(at=SATURDAY)
    assert isinstance(decide_now(power, futures, limits, now=SATURDAY), Opportunity)
    assert decide_now(power, futures, LIMITS, now=SATURDAY) is Block.WEEKEND


def test_overnight_window_lets_a_night_cycle_trade() -> None:
    limits = replace(LIMITS, window=parse_window("22:00-06:00"))
    night = NOW.replace(hour=2)
    power = book("asks", ("50.00", "10"), at=night)
    futures = book("bids", ("53.00", "10"), at=night)
    assert isinstance(decide_now(power, futures, limits, now=night), Opportunity)
    assert decide_now(power, futures, limits, now=NOW) is Block.OUTSIDE_WINDOW


def test_daily_loss_just_under_the_limit_still_trades() -> None:
    assert isinstance(decide_now(PAYING_POWER, PAYING_FUTURES, daily_loss=D("499.99")), Opportunity)


def test_missing_quotes_are_rejected() -> None:
    assert decide_now(None, PAYING_FUTURES) is Block.MISSING_QUOTE
    assert decide_now(book("asks"), PAYING_FUTURES) is Block.MISSING_QUOTE
    assert decide_now(PAYING_POWER, book("bids")) is Block.MISSING_QUOTE


def test_stale_quotes_are_rejected() -> None:
    old = book("asks", ("50", "10"), at=NOW - timedelta(seconds=3))
    assert decide_now(old, PAYING_FUTURES) is Block.STALE_QUOTE


def test_plan_is_exact_decimal_arithmetic() -> None:
    result = plan(book("asks", ("0.10", "3")), book("bids", ("2.30", "3")), LIMITS)
    assert isinstance(result, Opportunity)
    assert result.gross == D("6.60")
    assert all(isinstance(v, D) for v in (result.expected_profit, result.loan_amount, result.costs.total))
