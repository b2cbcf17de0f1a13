"""The simulated GB power and futures price model: pure, seeded and reproducible.

The power price is built from four parts, all in GBP/MWh:

* a **daily shape** by UTC settlement period (overnight low, morning and evening peaks, a midday
  solar dip, lower at weekends) around a long-run mean;
* a **deviation** that follows an Ornstein-Uhlenbeck process (mean zero), advanced with its exact
  transition for any time step, so the price reverts to its shape;
* **regimes** decided per settlement period from the seed alone: upward **spikes** (evening and
  morning peaks mostly) and **negative hours** (windy nights, sunny middays) that push the price
  below zero for a few settlement periods;
* nothing else: the power mid is the sum, quantised to the penny.

The futures price tracks the power price's fair value with a noisy, mean-reverting basis: it
prices the shape and the deviation at once, follows the regimes with a lag (arbitrage closes a
regime's gap over a minute or two, so a negative hour opens a wide spread that then narrows), and
adds a basis made of an Ornstein-Uhlenbeck part (slightly negative on average, so most seconds do
not pay) and short-lived dislocations (order flow lifting the futures, arriving at random and
decaying within seconds). Those dislocations are what make a spread pay in a few percent of
one-second cycles. `bot.markets.profiles` names the parameter sets a bot runs: `realistic` (these
defaults) and `demo` (opens inside a dislocation and has them far more often).

Reproducible: the same seed, start and sequence of times asked give the same prices; the regime
calendar depends on the seed and the settlement period only. Floats are used for the random
process; every price leaves this module as a `Decimal` quantised to 0.01 GBP/MWh.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache

SETTLEMENT_PERIOD_S = 1800
PERIODS_PER_DAY = 48
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
_MASK64 = (1 << 64) - 1


class Regime(StrEnum):
    """What drives the power price in a settlement period."""

    NORMAL = "normal"
    SPIKE = "spike"
    NEGATIVE = "negative"


@dataclass(frozen=True, slots=True)
class RegimeSpan:
    """The regime in force in one settlement period, and the price it imposes."""

    regime: Regime
    level: float = 0.0  # NEGATIVE: the price floor it pushes to; SPIKE: the amount added


@dataclass(frozen=True, slots=True)
class MarketParams:
    """Every tunable of the price model (GBP/MWh, seconds, probabilities per settlement period)."""

    mean_gbp_mwh: float = 72.0
    weekend_discount_gbp_mwh: float = 8.0
    # Ornstein-Uhlenbeck deviation of the power price from its daily shape.
    deviation_sd_gbp_mwh: float = 10.0
    deviation_half_life_s: float = 3 * 3600.0
    # The futures basis: an OU part plus short-lived positive dislocations.
    basis_mean_gbp_mwh: float = -0.45
    basis_sd_gbp_mwh: float = 0.10
    basis_half_life_s: float = 60.0
    dislocation_rate_per_s: float = 0.10
    dislocation_mean_gbp_mwh: float = 0.70
    dislocation_half_life_s: float = 4.0
    # A dislocation already open when the model starts (0: none, the realistic start).
    opening_dislocation_gbp_mwh: float = 0.0
    # How fast the futures prices in a regime (spike or negative hour) once it starts or ends.
    tracking_half_life_s: float = 90.0
    # Negative hours: start probability per settlement period by time of day, length, depth.
    negative_start_night: float = 0.08  # 00:00-06:00 UTC, windy low-demand nights
    negative_start_midday: float = 0.05  # 11:00-15:00 UTC, sunny middays (doubled at weekends)
    negative_start_other: float = 0.003
    negative_periods_min: int = 2
    negative_periods_max: int = 3
    negative_floor_min_gbp_mwh: float = -40.0
    negative_floor_max_gbp_mwh: float = -3.0
    negative_deviation_weight: float = 0.25  # how much of the deviation survives a negative hour
    # Spikes: start probability per settlement period, length, height added.
    spike_start_evening: float = 0.04  # 16:00-19:30 UTC
    spike_start_morning: float = 0.02  # 07:00-09:00 UTC
    spike_start_other: float = 0.002
    spike_periods_max: int = 2
    spike_height_min_gbp_mwh: float = 30.0
    spike_height_mean_extra_gbp_mwh: float = 60.0
    spike_height_cap_gbp_mwh: float = 400.0

    def long_run_fair_mean(self, *, weekend: bool = False) -> float:
        """Average of shape + deviation over a day (regimes excluded): what the price reverts to."""
        shape = sum(daily_shape(weekend)) / PERIODS_PER_DAY
        return self.mean_gbp_mwh + shape - (self.weekend_discount_gbp_mwh if weekend else 0.0)


@dataclass(frozen=True, slots=True)
class MarketState:
    """The model at one instant. Prices in GBP/MWh, quantised to 0.01, may be zero or negative."""

    power_mid: Decimal
    futures_mid: Decimal
    at: datetime
    regime: Regime = Regime.NORMAL
    settlement_period: int = 1  # 1..48 of the UTC day
    power_fair: Decimal = Decimal(0)  # shape + deviation: what the power reverts to, regime aside


# Daily shape: offsets from the mean by UTC hour (the value at hh:00), interpolated to the middle
# of each settlement period. Overnight trough, 08:00 morning peak, solar dip, 17:00-18:00 peak.
_WEEKDAY_HOURLY = (
    -12, -16, -19, -21, -20, -15, -5, 8, 12, 8, 3, 0,
    -2, -3, -2, 3, 15, 30, 28, 15, 5, 0, -5, -9,
)  # fmt: skip
_WEEKEND_PEAK_DAMPING = 0.6  # weekend peaks are flatter: less commuting and business load


@cache
def daily_shape(weekend: bool = False) -> tuple[float, ...]:
    """Offset from the mean for each of the 48 UTC settlement periods (index 0 = 00:00-00:30)."""
    out = []
    for sp in range(PERIODS_PER_DAY):
        hour = (sp * 30 + 15) / 60.0
        lo = int(hour) % 24
        hi = (lo + 1) % 24
        frac = hour - int(hour)
        value = _WEEKDAY_HOURLY[lo] * (1 - frac) + _WEEKDAY_HOURLY[hi] * frac
        if weekend and value > 0:
            value *= _WEEKEND_PEAK_DAMPING
        out.append(value)
    return tuple(out)


def settlement_index(at: datetime) -> int:
    """Settlement periods since the Unix epoch (UTC); `% 48` is the period of the day, 0-based."""
    return math.floor(at.timestamp() / SETTLEMENT_PERIOD_S)


def is_weekend_index(sp_index: int) -> bool:
    """Whether a settlement period falls on a Saturday or Sunday (UTC)."""
    return (sp_index // PERIODS_PER_DAY + _EPOCH_WEEKDAY) % 7 >= 5


def _splitmix64(x: int) -> int:
    """One step of SplitMix64: a stable hash of an integer (same result on every Python)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _uniforms(seed: int, sp_index: int, count: int) -> list[float]:
    """`count` uniforms in [0, 1) that depend on the seed and the settlement period only."""
    state = _splitmix64((seed & _MASK64) ^ _splitmix64(sp_index & _MASK64))
    out = []
    for _ in range(count):
        state = _splitmix64(state)
        out.append((state >> 11) / float(1 << 53))
    return out


def _negative_hazard(params: MarketParams, period: int, weekend: bool) -> float:
    hour = period // 2
    if hour < 6:
        return params.negative_start_night
    if 11 <= hour < 15:
        return params.negative_start_midday * (2.0 if weekend else 1.0)
    return params.negative_start_other


def _spike_hazard(params: MarketParams, period: int, weekend: bool) -> float:
    hour = period / 2
    if weekend:
        return params.spike_start_other
    if 16 <= hour < 19.5:
        return params.spike_start_evening
    if 7 <= hour < 9:
        return params.spike_start_morning
    return params.spike_start_other


def regime_start(seed: int, sp_index: int, params: MarketParams) -> tuple[RegimeSpan, int] | None:
    """The regime that starts in this settlement period, and how many periods it lasts, if any."""
    u_kind, u_len, u_level, u_extra = _uniforms(seed, sp_index, 4)
    period = sp_index % PERIODS_PER_DAY
    weekend = is_weekend_index(sp_index)
    p_neg = _negative_hazard(params, period, weekend)
    if u_kind < p_neg:
        span = params.negative_periods_max - params.negative_periods_min + 1
        periods = params.negative_periods_min + min(int(u_len * span), span - 1)
        lo, hi = params.negative_floor_min_gbp_mwh, params.negative_floor_max_gbp_mwh
        return RegimeSpan(Regime.NEGATIVE, lo + (hi - lo) * u_level), periods
    if u_kind < p_neg + _spike_hazard(params, period, weekend):
        periods = 1 + min(int(u_len * params.spike_periods_max), params.spike_periods_max - 1)
        extra = -params.spike_height_mean_extra_gbp_mwh * math.log(1.0 - u_extra)
        height = min(params.spike_height_min_gbp_mwh + extra, params.spike_height_cap_gbp_mwh)
        return RegimeSpan(Regime.SPIKE, height), periods
    return None


def regime_at(seed: int, sp_index: int, params: MarketParams) -> RegimeSpan:
    """The regime in force in a settlement period: the latest one started that still lasts."""
    longest = max(params.negative_periods_max, params.spike_periods_max)
    for back in range(longest):
        started = regime_start(seed, sp_index - back, params)
        if started is not None and started[1] > back:
            return started[0]
    return _NORMAL


_NORMAL = RegimeSpan(Regime.NORMAL)
_TWO_PI = 2.0 * math.pi


class MarketModel:
    """The power and futures mids over time, for one seed. Advance it with increasing times."""

    def __init__(self, seed: int, start: datetime, params: MarketParams | None = None) -> None:
        """Start at `start` (timezone-aware) with the random parts drawn from their long-run law."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        self.seed = seed
        self.params = p = params or MarketParams()
        self._rng = random.Random(seed)
        self._kappa_dev = math.log(2) / p.deviation_half_life_s
        self._kappa_basis = math.log(2) / p.basis_half_life_s
        self._kappa_disl = math.log(2) / p.dislocation_half_life_s
        self._kappa_track = math.log(2) / p.tracking_half_life_s
        # Dislocations older than this are below 2**-40 of their size: nothing left to carry.
        self._disl_window_s = 40 * p.dislocation_half_life_s
        self._regimes: dict[int, RegimeSpan] = {}
        self._state: MarketState | None = None
        self.power_pennies = 0
        self.futures_pennies = 0
        self._t = start.timestamp()
        self._at: datetime | None = start
        self._deviation = self._rng.gauss(0.0, p.deviation_sd_gbp_mwh)
        self._basis = self._rng.gauss(p.basis_mean_gbp_mwh, p.basis_sd_gbp_mwh)
        self._dislocation = p.opening_dislocation_gbp_mwh
        self._enter_period(math.floor(self._t / SETTLEMENT_PERIOD_S))
        self._tracked = self._offset(self._sp_base, self._sp_span)  # already priced in at start
        self._compose()

    # -- public --------------------------------------------------------------------------------

    @property
    def state(self) -> MarketState:
        """The state at the last time advanced to."""
        state = self._state
        if state is None:
            at = self._at or datetime.fromtimestamp(self._t, UTC)
            state = self._state = MarketState(
                power_mid=Decimal(self.power_pennies).scaleb(-2),
                futures_mid=Decimal(self.futures_pennies).scaleb(-2),
                at=at if at.tzinfo is UTC else at.astimezone(UTC),
                regime=self._sp_span.regime,
                settlement_period=self._sp % PERIODS_PER_DAY + 1,
                power_fair=_pennies(self._sp_base + self._deviation),
            )
        return state

    def advance(self, to: datetime) -> MarketState:
        """Move the model to `to` (never earlier than the last call) and return its state."""
        t = to.timestamp()
        if t != self._t:
            self.advance_to(t)
            self._at = to
        return self.state

    def advance_to(self, t: float) -> None:
        """Move the model to POSIX time `t`; read `power_pennies`/`futures_pennies` or `state` after.

        The hot path of the simulated venues: one function, floats only, no Decimal built until
        `state` is read.
        """
        dt = t - self._t
        if dt <= 0:
            if dt == 0:
                return
            raise ValueError(
                f"time went backwards: {datetime.fromtimestamp(t, UTC).isoformat()} is before "
                f"the last time asked ({datetime.fromtimestamp(self._t, UTC).isoformat()})"
            )
        p = self.params
        rand = self._rng.random
        exp = math.exp
        # Two standard normals at once (Box-Muller): one per OU part.
        radius = math.sqrt(-2.0 * math.log(1.0 - rand()))
        angle = _TWO_PI * rand()
        z_dev = radius * math.cos(angle)
        z_basis = radius * math.sin(angle)
        # Exact OU transitions: x' = m + (x - m) e^{-k dt} + sd sqrt(1 - e^{-2 k dt}) Z.
        decay = exp(-self._kappa_dev * dt)
        sd = p.deviation_sd_gbp_mwh
        deviation = self._deviation * decay + sd * math.sqrt(1.0 - decay * decay) * z_dev
        decay = exp(-self._kappa_basis * dt)
        mean, sd = p.basis_mean_gbp_mwh, p.basis_sd_gbp_mwh
        basis = mean + (self._basis - mean) * decay + sd * math.sqrt(1.0 - decay * decay) * z_basis
        # Dislocations: decay what is carried, add the Poisson arrivals of the step (exact).
        k = self._kappa_disl
        if dt < self._disl_window_s:
            window = dt
            dislocation = self._dislocation * exp(-k * dt)
        else:  # older arrivals are below 2**-40 of their size
            window = self._disl_window_s
            dislocation = 0.0
        lam = p.dislocation_rate_per_s * window
        u = rand()
        term = exp(-lam)
        if u > term:
            cumulative = term
            count = 0
            while u > cumulative and count < 1000:  # inversion: the mean is small
                count += 1
                term *= lam / count
                cumulative += term
            for _ in range(count):
                age = window * rand()
                size = -p.dislocation_mean_gbp_mwh * math.log(1.0 - rand())
                dislocation += size * exp(-k * age)
        self._deviation = deviation
        self._basis = basis
        self._dislocation = dislocation
        self._step_tracking(t)
        self._t = t
        self._at = None
        self._compose()

    # -- parts ---------------------------------------------------------------------------------

    def _compose(self) -> None:
        """Sum the parts into the two mids, in pennies; the state is rebuilt when next read."""
        fair = self._sp_base + self._deviation
        span = self._sp_span
        power = fair if span.regime is Regime.NORMAL else fair + self._offset(self._sp_base, span)
        futures = fair + self._tracked + self._basis + self._dislocation
        self.power_pennies = _round_pennies(power)
        self.futures_pennies = _round_pennies(futures)
        self._state = None

    def _enter_period(self, sp: int) -> None:
        """Cache the settlement period's shape level and regime (they hold for 30 minutes)."""
        self._sp = sp
        self._sp_base, self._sp_span = self._period(sp)

    def _period(self, sp: int) -> tuple[float, RegimeSpan]:
        p = self.params
        weekend = is_weekend_index(sp)
        base = p.mean_gbp_mwh + daily_shape(weekend)[sp % PERIODS_PER_DAY]
        if weekend:
            base -= p.weekend_discount_gbp_mwh
        span = self._regimes.get(sp)
        if span is None:
            if len(self._regimes) > 4096:
                self._regimes.clear()
            span = self._regimes[sp] = regime_at(self.seed, sp, p)
        return base, span

    def _offset(self, base: float, span: RegimeSpan) -> float:
        """What the regime adds to the power price over its fair value (shape + deviation)."""
        regime = span.regime
        if regime is Regime.NORMAL:
            return 0.0
        if regime is Regime.SPIKE:
            return span.level
        kept = self.params.negative_deviation_weight * self._deviation
        return span.level + kept - (base + self._deviation)

    def _step_tracking(self, t: float) -> None:
        """Move the futures' priced-in regime offset towards the power's, one period at a time."""
        k = self._kappa_track
        sp = math.floor(t / SETTLEMENT_PERIOD_S)
        if (t - self._t) * k > 30:  # fully caught up (2**-43 of the gap left)
            self._enter_period(sp)
            self._tracked = self._offset(self._sp_base, self._sp_span)
            return
        tracked = self._tracked
        if sp == self._sp and not tracked and self._sp_span.regime is Regime.NORMAL:
            return  # nothing priced in and nothing to price in: the common case
        t0 = self._t
        period = self._sp
        while True:
            seg_end = min(t, (period + 1) * SETTLEMENT_PERIOD_S)
            base, span = (self._sp_base, self._sp_span) if period == self._sp else self._period(period)
            target = self._offset(base, span)
            if tracked != target:
                tracked = target + (tracked - target) * math.exp(-k * (seg_end - t0))
                if abs(tracked - target) < 1e-9:
                    tracked = target
            if seg_end >= t:
                break
            t0 = seg_end
            period += 1
        if sp != self._sp:
            self._enter_period(sp)
        self._tracked = tracked


def _round_pennies(value: float) -> int:
    """A float price in pennies, half away from zero."""
    pennies = math.floor(abs(value) * 100 + 0.5)
    return pennies if value >= 0 else -pennies


def _pennies(value: float) -> Decimal:
    """A float price as a Decimal quantised to 0.01 (half away from zero)."""
    return Decimal(_round_pennies(value)).scaleb(-2)
