"""`cannot_pay()`, the replay's early no, is exact: it never rejects a book `decide()` would trade,
and when it says no it gives `decide()`'s own reason (a property over random books and costs)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.decision import Limits, NoTrade, Opportunity, cannot_pay, decide
from bot.domain.market import Book, Level
from bot.domain.window import parse_window

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
prices = st.decimals(min_value=D("-60"), max_value=D("200"), places=2)
sizes = st.decimals(min_value=D("0.1"), max_value=D("300"), places=1)
bps = st.decimals(min_value=D("0"), max_value=D("40"), places=1)


@st.composite
def side(draw: st.DrawFn, ascending: bool) -> tuple[Level, ...]:
    best = draw(prices)
    steps = draw(st.lists(st.decimals(min_value=D("0"), max_value=D("3"), places=2), max_size=4))
    levels, price = [Level(best, draw(sizes))], best
    for step in steps:
        price = price + step if ascending else price - step
        levels.append(Level(price, draw(sizes)))
    return tuple(levels)


@st.composite
def limits(draw: st.DrawFn) -> Limits:
    return Limits(
        window=parse_window("00:00-24:00"),
        allow_weekend=True,
        max_daily_loss=D("500"),
        loan_limit=D("100000"),
        max_notional=draw(st.sampled_from([D("10000"), D("500"), D("50")])),
        max_position=draw(st.sampled_from([D("1000"), D("20"), D("0.5")])),
        min_profit=draw(st.sampled_from([D("0"), D("1"), D("25")])),
        kelly_bank=draw(st.sampled_from([D("0"), D("50000")])),
        power_fee_bp=draw(bps),
        futures_fee_bp=draw(bps),
        loan_fee_bp=draw(bps),
        gas=draw(st.sampled_from([D("0"), D("0.5"), D("5")])),
        max_quote_age_ms=2000,
        expected_slippage_bp=draw(bps),
        tolerance_bp=draw(bps),
    )


@settings(max_examples=600, deadline=None)
@given(asks=side(ascending=True), bids=side(ascending=False), lim=limits())
def test_the_early_no_is_decides_own_answer(
    asks: tuple[Level, ...], bids: tuple[Level, ...], lim: Limits
) -> None:
    # given any two books and any costs
    power = Book("p", "P", (), asks, NOW)
    futures = Book("f", "F", bids, (), NOW)
    # when the early check and the whole decision are asked
    early = cannot_pay(asks[0].price, bids[0].price, lim)
    decision = decide(NOW, power, futures, lim, trading_enabled=True, daily_loss=D(0))
    # then a book the early check rejects is never traded, and is rejected for the same reason
    if early is not None:
        assert isinstance(decision, NoTrade) and decision.reason == early
    # and the early check is no weaker than decide() at its first step: a trade passed it
    if isinstance(decision, Opportunity):
        assert early is None


def test_a_top_spread_that_cannot_earn_its_fees_is_rejected_before_sizing() -> None:
    lim = Limits(
        window=parse_window("00:00-24:00"), allow_weekend=True, max_daily_loss=D(500), loan_limit=D(100000),
        max_notional=D(10000), max_position=D(1000), min_profit=D(0), kelly_bank=D(0), power_fee_bp=D(10),
        futures_fee_bp=D(10), loan_fee_bp=D(10), gas=D(0), max_quote_age_ms=2000,
    )  # fmt: skip
    assert cannot_pay(D("70.00"), D("69.99"), lim) == "negative_spread"
    assert cannot_pay(D("70.00"), D("70.10"), lim) == "below_threshold"  # 0.10 < 140 x 0.003
    assert cannot_pay(D("70.00"), D("71.00"), lim) is None
