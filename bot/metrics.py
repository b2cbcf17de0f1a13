"""The orchestrator's Prometheus metrics, on a registry of its own (nothing global at import)."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BLOCK_REASONS = (
    "outside_window",
    "weekend",
    "trading_disabled",
    "daily_loss_limit",
    "stale_quote",
    "missing_quote",
    "loan_refused",
    "power_rejected",
    "futures_rejected",
    "partial_fill",
    "order_timeout",
    "repay_failed",
    "journal_error",
    "error",
)
OUTCOMES = ("traded", "no_trade", "blocked", "unwound", "failed")


class BotMetrics:
    """Every series the orchestrator exports. Names are a stable contract (see docs/monitoring.md)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.trades_blocked = Counter(
            "trades_blocked", "Cycles blocked or unwound, by reason.", ["reason"], registry=r
        )
        self.trades_executed = Counter("trades_executed", "Cycles that traded both legs.", registry=r)
        self.profit_positive = Counter("profit_positive", "Sum of winning cycles' net PnL, GBP.", registry=r)
        self.profit_negative = Counter(
            "profit_negative", "Sum of losing cycles' losses (positive number), GBP.", registry=r
        )
        self.cycles = Counter("cycles", "Cycles run, by outcome.", ["outcome"], registry=r)
        self.trade_partial_failures = Counter(
            "trade_partial_failures",
            "Cycles whose futures leg filled only part of the power leg.",
            registry=r,
        )
        self.journal_errors = Counter("journal_errors", "Journal writes that failed.", registry=r)
        self.daily_loss = Gauge(
            "daily_loss", "Net realised loss of the current UTC day (0 when up), GBP.", registry=r
        )
        self.daily_pnl = Gauge("daily_pnl", "Realised net PnL of the current UTC day, GBP.", registry=r)
        self.daily_loss_limit = Gauge("daily_loss_limit", "MAX_DAILY_LOSS_GBP, GBP.", registry=r)
        self.last_spread = Gauge("last_spread", "Futures best bid minus power best ask, GBP/MWh.", registry=r)
        self.last_power_ask = Gauge("last_power_ask", "Power best ask, GBP/MWh.", registry=r)
        self.last_futures_bid = Gauge("last_futures_bid", "Futures best bid, GBP/MWh.", registry=r)
        self.market_data_age = Gauge(
            "market_data_age_seconds", "Age of the last book read, per leg.", ["leg"], registry=r
        )
        self.trading_window_open = Gauge("trading_window_open", "1 inside the trading window.", registry=r)
        self.trading_enabled = Gauge("trading_enabled", "1 unless TRADING_ENABLED=0 (paused).", registry=r)
        self.last_trade_timestamp = Gauge(
            "last_trade_timestamp_seconds", "Unix time of the last executed trade.", registry=r
        )
        self.info = Gauge(
            "orchestrator_info", "Constant 1, labelled.", ["bot", "mode", "version"], registry=r
        )
        self.cycle_duration = Histogram(
            "cycle_duration_seconds",
            "Wall time of one cycle, guards to journal.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        for reason in BLOCK_REASONS:
            self.trades_blocked.labels(reason=reason)
        for outcome in OUTCOMES:
            self.cycles.labels(outcome=outcome)
        for leg in ("power", "futures"):
            self.market_data_age.labels(leg=leg)

    def record_pnl(self, net: Decimal) -> None:
        """Count a finished cycle's net PnL into the positive or negative counter."""
        if net > 0:
            self.profit_positive.inc(float(net))
        elif net < 0:
            self.profit_negative.inc(float(-net))

    def set_day(self, realised: Decimal, loss: Decimal) -> None:
        self.daily_pnl.set(float(realised))
        self.daily_loss.set(float(loss))
