"""The orchestrator's Prometheus metrics, on a registry of its own (nothing global at import)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot.domain.decision import Block, spread
from bot.domain.market import Book
from bot.venues.base import VENUE_DOWN_KINDS, VENUE_ERROR_KINDS, VenueObserver

# every `reason` label of trades_blocked: the guards' and quote checks' first, then the saga's
BLOCK_REASONS = (
    *(block.value for block in Block),
    "loan_refused",
    "power_rejected",
    "futures_rejected",
    "partial_fill",
    "order_timeout",
    "order_unknown",
    "repay_failed",
    "settle_unknown",
    "journal_error",
    "error",
)
OUTCOMES = ("traded", "no_trade", "blocked", "unwound", "failed")
OTHER_REASON = "error"  # the label of a failure whose reason is not one of BLOCK_REASONS


def block_label(reason: str) -> str:
    """The `trades_blocked` label of a cycle's reason: its family before any `:` detail (the
    journal keeps `loan_refused:InsufficientLiquidity`; the metric counts `loan_refused`), and
    `error` for a reason outside BLOCK_REASONS, so the label set stays bounded."""
    family = reason.partition(":")[0]
    return family if family in BLOCK_REASONS else OTHER_REASON


VENUE_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class BotMetrics:
    """Every series the orchestrator exports. Names are a stable contract (see docs/monitoring.md)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        counter = partial(Counter, registry=self.registry)
        gauge = partial(Gauge, registry=self.registry)
        self.trades_blocked = counter("trades_blocked", "Cycles blocked or unwound, by reason.", ["reason"])
        self.trades_executed = counter("trades_executed", "Cycles that traded both legs.")
        self.profit_positive = counter("profit_positive", "Sum of winning cycles' net PnL, GBP.")
        self.profit_negative = counter(
            "profit_negative", "Sum of losing cycles' losses (positive number), GBP."
        )
        self.cycles = counter("cycles", "Cycles run, by outcome.", ["outcome"])
        self.trade_partial_failures = counter(
            "trade_partial_failures", "Cycles whose futures leg filled only part of the power leg."
        )
        self.journal_errors = counter("journal_errors", "Journal writes that failed.")
        self.daily_loss = gauge("daily_loss", "Net realised loss of the current UTC day (0 when up), GBP.")
        self.daily_pnl = gauge("daily_pnl", "Realised net PnL of the current UTC day, GBP.")
        self.daily_loss_limit = gauge("daily_loss_limit", "MAX_DAILY_LOSS_GBP, GBP.")
        self.last_spread = gauge("last_spread", "Futures best bid minus power best ask, GBP/MWh.")
        self.last_power_ask = gauge("last_power_ask", "Power best ask, GBP/MWh.")
        self.last_futures_bid = gauge("last_futures_bid", "Futures best bid, GBP/MWh.")
        self.market_data_age = gauge(
            "market_data_age_seconds", "Age of the last book read, per leg.", ["leg"]
        )
        self.trading_window_open = gauge(
            "trading_window_open",
            "1 when the market is open to the bot (window, weekend rule and kill switch).",
        )
        self.trading_enabled = gauge("trading_enabled", "1 unless TRADING_ENABLED=0 (paused).")
        self.last_trade_timestamp = gauge(
            "last_trade_timestamp_seconds", "Unix time of the last executed trade."
        )
        self.info = gauge(
            "orchestrator_info",
            'Constant 1, labelled; mode is "live" (orders sent), "paper" (PAPER_TRADING: live books, '
            'fills simulated, nothing sent) or "simulated".',
            ["bot", "mode", "version"],
        )
        self.cycle_duration = Histogram(
            "cycle_duration_seconds",
            "Wall time of one cycle, guards to journal.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.venue_up = gauge(
            "venue_up", "1 when the venue's last request was answered, 0 when it failed.", ["venue"]
        )
        self.venue_request_seconds = Histogram(
            "venue_request_seconds",
            "Duration of each venue request, by endpoint (failed ones too).",
            ["venue", "endpoint"],
            buckets=VENUE_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.venue_errors = counter(
            "venue_errors", "Failed venue requests, by error kind.", ["venue", "kind"]
        )
        self.recovery_pending = gauge(
            "recovery_pending",
            "1 for each venue restart recovery waits for (it could not say what became of a dead "
            "cycle's orders); no cycle starts while any is 1.",
            ["venue"],
        )
        self._venues_seen: set[str] = set()
        self._recovery_waited: set[str] = set()
        # every known label's child, made once: `.labels()` costs a lock and a tuple per call, and
        # the cycle touches three of them each time (an unknown reason still goes through it)
        self._blocked = {reason: self.trades_blocked.labels(reason=reason) for reason in BLOCK_REASONS}
        self._cycles = {outcome: self.cycles.labels(outcome=outcome) for outcome in OUTCOMES}
        self._power_age = self.market_data_age.labels(leg="power")
        self._futures_age = self.market_data_age.labels(leg="futures")

    def observe_books(self, power: Book | None, futures: Book | None, now: datetime) -> None:
        """Age and top of each book read, and the spread when both sides are there."""
        if power is not None:
            self._power_age.set((now - power.at).total_seconds())
            if power.asks:
                self.last_power_ask.set(float(power.asks[0].price))
        if futures is not None:
            self._futures_age.set((now - futures.at).total_seconds())
            if futures.bids:
                self.last_futures_bid.set(float(futures.bids[0].price))
        if power is not None and futures is not None and power.asks and futures.bids:
            self.last_spread.set(float(spread(power, futures)))

    def record_blocked(self, reason: str) -> None:
        """A cycle stopped before any order was sent (guards, quotes, a broken journal)."""
        self._blocked_child(reason).inc()
        self._cycles["blocked"].inc()

    def record_finished(
        self, outcome: str, reason: str | None, net: Decimal, traded_at: datetime | None
    ) -> None:
        """A cycle that sent orders: its outcome, net PnL and, when it did not trade, why."""
        self.record_pnl(net)
        cycles = self._cycles.get(outcome)
        (cycles if cycles is not None else self.cycles.labels(outcome=outcome)).inc()
        if traded_at is not None:
            self.trades_executed.inc()
            self.last_trade_timestamp.set(traded_at.timestamp())
        elif reason:
            self._blocked_child(block_label(reason)).inc()

    def _blocked_child(self, reason: str) -> Counter:
        child = self._blocked.get(reason)
        return child if child is not None else self.trades_blocked.labels(reason=reason)

    def record_pnl(self, net: Decimal) -> None:
        """Count a finished cycle's net PnL into the positive or negative counter."""
        if net > 0:
            self.profit_positive.inc(float(net))
        elif net < 0:
            self.profit_negative.inc(float(-net))

    def set_day(self, realised: Decimal, loss: Decimal) -> None:
        self.daily_pnl.set(float(realised))
        self.daily_loss.set(float(loss))

    def set_recovery_pending(self, venues: Iterable[str]) -> None:
        """The venues restart recovery waits for now (none once it has completed)."""
        waiting = set(venues)
        for venue in self._recovery_waited | waiting:
            self.recovery_pending.labels(venue=venue).set(1 if venue in waiting else 0)
        self._recovery_waited |= waiting

    def venue_observer(self) -> VenueObserver:
        """The `VenueObserver` to hand each venue adapter: feeds `venue_up`,
        `venue_request_seconds` and `venue_errors_total` (pass it to the venue factories)."""
        return self.observe_venue_call

    def observe_venue_call(self, venue: str, endpoint: str, seconds: float, outcome: str) -> None:
        """One venue request: its duration, and its error kind unless `outcome` is "ok"."""
        if venue not in self._venues_seen:
            self._venues_seen.add(venue)
            for kind in VENUE_ERROR_KINDS:  # every kind at 0, so rate() sees the first error
                self.venue_errors.labels(venue=venue, kind=kind)
        self.venue_request_seconds.labels(venue=venue, endpoint=endpoint).observe(max(seconds, 0.0))
        if outcome != "ok":
            kind = outcome if outcome in VENUE_ERROR_KINDS else "other"
            self.venue_errors.labels(venue=venue, kind=kind).inc()
        self.venue_up.labels(venue=venue).set(0 if outcome in VENUE_DOWN_KINDS else 1)
