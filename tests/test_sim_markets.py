"""The simulated price model and the fault plan: reproducible, shaped like GB power, and tunable.

The statistics are taken over simulated weeks with a fixed seed, so each assertion is exact for
that seed and its tolerance says how far the model may drift when its parameters are retuned.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from bot.config import Settings
from bot.markets.faults import FAULTS, LOAN_FAULTS, VENUE_FAULTS, FaultPlan, parse_fault_spec
from bot.markets.model import (
    MarketModel,
    MarketParams,
    MarketState,
    Regime,
    daily_shape,
    is_weekend_index,
    regime_at,
    settlement_index,
)
from bot.venues.simulated import SimulatedMarket

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
PENNY = Decimal("0.01")


def walk(model: MarketModel, start: datetime, step: timedelta, steps: int) -> Iterator[MarketState]:
    """The model's states at `start + step`, `start + 2 step`, ..."""
    for i in range(1, steps + 1):
        yield model.advance(start + i * step)


def shape_level(state: MarketState, params: MarketParams) -> float:
    """Mean plus daily shape for the state's settlement period: where the fair price reverts to."""
    sp = settlement_index(state.at)
    weekend = is_weekend_index(sp)
    discount = params.weekend_discount_gbp_mwh if weekend else 0.0
    return params.mean_gbp_mwh + daily_shape(weekend)[sp % 48] - discount


# -- reproducibility -------------------------------------------------------------------------


def test_the_same_seed_and_times_give_the_same_prices() -> None:
    # given two models with one seed, asked the same irregular times
    times = [MONDAY + timedelta(seconds=s) for s in (0.3, 1, 1.7, 60, 3600, 3601, 86400)]
    first, second = MarketModel(11, MONDAY), MarketModel(11, MONDAY)
    # when both are advanced
    a = [first.advance(t) for t in times]
    b = [second.advance(t) for t in times]
    # then every price is identical
    assert a == b


def test_another_seed_gives_other_prices() -> None:
    times = [MONDAY + timedelta(minutes=m) for m in range(1, 30)]
    first, second = MarketModel(1, MONDAY), MarketModel(2, MONDAY)
    assert [first.advance(t).power_mid for t in times] != [second.advance(t).power_mid for t in times]


def test_prices_are_decimals_quantised_to_the_penny() -> None:
    state = MarketModel(7, MONDAY).advance(MONDAY + timedelta(seconds=5))
    for price in (state.power_mid, state.futures_mid, state.power_fair):
        assert isinstance(price, Decimal) and price == price.quantize(PENNY)
    assert state.at == MONDAY + timedelta(seconds=5) and state.at.tzinfo is UTC


def test_time_going_backwards_is_refused() -> None:
    model = MarketModel(7, MONDAY)
    model.advance(MONDAY + timedelta(hours=1))
    with pytest.raises(ValueError, match="backwards"):
        model.advance(MONDAY + timedelta(minutes=59))


def test_asking_the_same_time_twice_returns_the_same_state() -> None:
    model = MarketModel(7, MONDAY)
    at = MONDAY + timedelta(seconds=10)
    assert model.advance(at) is model.advance(at)


def test_the_regime_calendar_depends_on_the_seed_and_period_only() -> None:
    # given the periods of one simulated week
    week = range(settlement_index(MONDAY), settlement_index(MONDAY) + 7 * 48)
    params = MarketParams()
    # then the same seed gives the same calendar, another seed another one
    calendar = [regime_at(7, sp, params) for sp in week]
    assert calendar == [regime_at(7, sp, params) for sp in week]
    assert calendar != [regime_at(8, sp, params) for sp in week]


# -- shape, reversion, regimes ---------------------------------------------------------------


def test_the_daily_shape_has_an_overnight_low_and_morning_and_evening_peaks() -> None:
    # given two weeks of fair prices every 10 minutes, averaged by UTC hour
    model = MarketModel(7, MONDAY)
    by_hour: dict[int, list[float]] = {h: [] for h in range(24)}
    for state in walk(model, MONDAY, timedelta(minutes=10), 14 * 144):
        by_hour[state.at.hour].append(float(state.power_fair))
    mean = {h: sum(v) / len(v) for h, v in by_hour.items()}
    # then nights are cheapest, the evening dearest, and the morning peaks above midday
    assert min(mean, key=mean.__getitem__) in (2, 3, 4)
    assert max(mean, key=mean.__getitem__) in (17, 18)
    assert mean[8] > mean[13] > mean[3]
    assert mean[17] - mean[3] > 30


def test_the_price_reverts_to_its_long_run_mean() -> None:
    # given four weeks of fair prices every 5 minutes
    params = MarketParams()
    model = MarketModel(7, MONDAY, params)
    fair = [float(s.power_fair) for s in walk(model, MONDAY, timedelta(minutes=5), 28 * 288)]
    # then their average is the documented long-run mean (5 weekdays and 2 weekend days a week)
    expected = (5 * params.long_run_fair_mean() + 2 * params.long_run_fair_mean(weekend=True)) / 7
    assert sum(fair) / len(fair) == pytest.approx(expected, abs=3.0)


@pytest.mark.parametrize("step", [timedelta(minutes=10), timedelta(hours=3)])
def test_a_deviation_halves_in_one_half_life_whatever_the_step(step: timedelta) -> None:
    # given the deviation from the daily shape sampled over a year, the model stepped by `step`
    params = MarketParams()  # half-life 3 h
    model = MarketModel(5, MONDAY, params)
    every = int(timedelta(hours=3) / step)
    states = list(walk(model, MONDAY, step, 365 * 8 * every))[every - 1 :: every]
    gap = [float(s.power_fair) - shape_level(s, params) for s in states]
    # when its autocorrelation over one half-life is measured
    mean = sum(gap) / len(gap)
    centred = [g - mean for g in gap]
    lag1 = sum(a * b for a, b in pairwise(centred))
    rho = lag1 / sum(c * c for c in centred)
    # then it is one half, as the exact transition promises for any step (Euler would not)
    assert rho == pytest.approx(0.5, abs=0.06)


def test_negative_prices_occur_within_a_simulated_week() -> None:
    model = MarketModel(7, MONDAY)
    states = list(walk(model, MONDAY, timedelta(minutes=1), 7 * 1440))
    negative = [s for s in states if s.power_mid < 0]
    assert negative, "no negative power price in a simulated week"
    assert {s.regime for s in negative} == {Regime.NEGATIVE}
    days = {s.at.date() for s in negative}
    assert len(days) >= 3  # a normal week has several days with negative hours


def test_negative_hours_last_a_few_settlement_periods() -> None:
    params = MarketParams()
    first = settlement_index(MONDAY)
    flags = [regime_at(7, sp, params).regime is Regime.NEGATIVE for sp in range(first, first + 28 * 48)]
    runs, length = [], 0
    for flag in [*flags, False]:
        if flag:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    assert runs and all(params.negative_periods_min <= r <= 2 * params.negative_periods_max for r in runs)


def test_spikes_lift_the_price_far_above_its_fair_value() -> None:
    model = MarketModel(7, MONDAY)
    spikes = [s for s in walk(model, MONDAY, timedelta(minutes=5), 28 * 288) if s.regime is Regime.SPIKE]
    assert spikes
    assert all(s.power_mid - s.power_fair >= Decimal("30") for s in spikes)


def test_a_negative_hour_opens_a_wide_spread_that_the_futures_then_closes() -> None:
    # given the first minutes of the first negative hour of a week
    model = MarketModel(7, MONDAY)
    states = list(walk(model, MONDAY, timedelta(seconds=30), 7 * 2880))
    start = next(i for i, s in enumerate(states) if s.regime is Regime.NEGATIVE)
    opening = states[start].futures_mid - states[start].power_mid
    later = states[start + 30].futures_mid - states[start + 30].power_mid  # 15 minutes on
    # then buying power and selling futures pays handsomely at first, far less once priced in
    assert opening > Decimal("20")
    assert later < opening / 4


# -- the spread at default costs -------------------------------------------------------------


def pays_at_default_costs(power_ask: Decimal, futures_bid: Decimal, settings: Settings) -> bool:
    """Buy 10 MWh of power at the ask, sell 10 MWh of futures at the bid: does it clear the costs?"""
    lot = Decimal(10)
    bp = Decimal("0.0001")
    gross = (futures_bid - power_ask) * lot
    power_notional = power_ask * lot
    costs = (
        abs(power_notional) * settings.power_fee_bp * bp
        + abs(futures_bid * lot) * settings.futures_fee_bp * bp
        + max(power_notional, Decimal(0)) * settings.loan_fee_bp * bp  # negative power needs no loan
        + settings.gas_cost_gbp
    )
    return gross - costs >= settings.min_profit_gbp


@pytest.fixture(scope="module")
def one_day_of_seconds() -> list[bool]:
    """For each second of a simulated Thursday: does the default market's top of book pay?"""
    settings = Settings.from_mapping({})
    clock = [datetime(2026, 11, 26, tzinfo=UTC)]
    # One level a side: the top of book does not depend on depth, and the day runs faster.
    market = SimulatedMarket(seed=settings.sim_seed, clock=lambda: clock[0], book_levels=1)
    paying = []
    for _ in range(86_400):
        clock[0] += timedelta(seconds=1)
        ask = market.book("power").asks[0].price
        bid = market.book("futures").bids[0].price
        paying.append(pays_at_default_costs(ask, bid, settings))
    return paying


def test_a_spread_pays_in_a_few_percent_of_one_second_cycles(one_day_of_seconds: list[bool]) -> None:
    fraction = sum(one_day_of_seconds) / len(one_day_of_seconds)
    assert 0.005 <= fraction <= 0.20, f"{fraction:.2%} of seconds pay"


def test_a_bot_started_at_any_second_mostly_finds_a_paying_spread_within_a_minute(
    one_day_of_seconds: list[bool],
) -> None:
    # given the next paying second after each second of the day
    next_paying: list[int | None] = [None] * len(one_day_of_seconds)
    upcoming = None
    for i in range(len(one_day_of_seconds) - 1, -1, -1):
        if one_day_of_seconds[i]:
            upcoming = i
        next_paying[i] = upcoming
    # then from most starting seconds a trade is possible within sixty cycles
    soon = sum(1 for i, n in enumerate(next_paying) if n is not None and n - i < 60)
    assert soon / len(next_paying) >= 0.75


# -- the fault plan --------------------------------------------------------------------------


def test_sim_faults_entries_parse_to_probabilities() -> None:
    assert parse_fault_spec("futures_reject=0.02, partial_fill=0.05") == {
        "futures_reject": 0.02,
        "partial_fill": 0.05,
    }
    assert parse_fault_spec(["loan_refuse=1", "stale_book=0"]) == {"loan_refuse": 1.0, "stale_book": 0.0}
    assert parse_fault_spec([]) == {}


def test_settings_hand_sim_faults_to_the_plan_as_a_list() -> None:
    settings = Settings.from_mapping({"SIM_FAULTS": "power_reject=0.1,repay_fail=0.2"})
    plan = FaultPlan.from_setting(settings.sim_faults, seed=1)
    assert plan.probabilities == {"power_reject": 0.1, "repay_fail": 0.2}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("power_rejection=0.1", "unknown fault 'power_rejection'"),
        ("partial_fill=1.5", "probability of partial_fill must be a number from 0 to 1"),
        ("partial_fill=-0.1", "from 0 to 1"),
        ("partial_fill=often", "from 0 to 1"),
        ("partial_fill=nan", "from 0 to 1"),
        ("partial_fill", "must be name=probability"),
        ("partial_fill=0.1,partial_fill=0.2", "twice"),
    ],
)
def test_a_malformed_sim_faults_entry_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault_spec(spec)


def test_an_unknown_fault_error_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as caught:
        FaultPlan().force("explode")
    assert all(name in str(caught.value) for name in FAULTS)


def test_a_forced_fault_fires_exactly_as_many_times_as_forced() -> None:
    plan = FaultPlan(seed=1)
    plan.force("futures_reject", times=2)
    fired = [plan.trips("futures_reject", leg="futures") for _ in range(5)]
    assert fired == [True, True, False, False, False]
    assert plan.fired == {"futures_reject": 2}


def test_a_fault_forced_for_one_leg_spares_the_other() -> None:
    plan = FaultPlan(seed=1)
    plan.force("partial_fill", leg="futures")
    assert not plan.trips("partial_fill", leg="power")
    assert plan.trips("partial_fill", leg="futures")


def test_probabilities_decide_how_often_a_fault_fires() -> None:
    plan = FaultPlan({"partial_fill": 0.25, "order_timeout": 1.0, "stale_book": 0.0}, seed=3)
    share = sum(plan.trips("partial_fill", leg="power") for _ in range(4000)) / 4000
    assert share == pytest.approx(0.25, abs=0.03)
    assert all(plan.trips("order_timeout", leg="power") for _ in range(50))
    assert not any(plan.trips("stale_book", leg="power") for _ in range(50))


def test_the_same_seed_fires_the_same_faults() -> None:
    def rolls(seed: int) -> list[bool]:
        plan = FaultPlan({"partial_fill": 0.5}, seed=seed)
        return [plan.trips("partial_fill") for _ in range(64)]

    assert rolls(9) == rolls(9)
    assert rolls(9) != rolls(10)


def test_a_plan_refuses_to_force_a_fault_its_owner_never_checks() -> None:
    with pytest.raises(ValueError, match="belongs to the loan"):
        FaultPlan(names=VENUE_FAULTS).force("loan_refuse")
    with pytest.raises(ValueError, match="belongs to the venues"):
        FaultPlan(names=LOAN_FAULTS).force("partial_fill")
    with pytest.raises(ValueError, match="positive integer"):
        FaultPlan().force("partial_fill", times=0)
    with pytest.raises(ValueError, match="on the power leg only"):
        FaultPlan().force("power_reject", leg="futures")


def test_short_fault_names_resolve_per_venue_and_for_the_loan() -> None:
    plan = FaultPlan()
    assert plan.scoped("power").resolve("reject") == "power_reject"
    assert plan.scoped("futures").resolve("reject") == "futures_reject"
    assert plan.scoped("futures").resolve("timeout") == "order_timeout"
    assert plan.scoped("loan").resolve("refuse") == "loan_refuse"
    with pytest.raises(ValueError, match="does not apply to the power side"):
        plan.scoped("power").force("futures_reject")
    with pytest.raises(ValueError, match="does not apply to the loan side"):
        plan.scoped("loan").force("partial_fill")
