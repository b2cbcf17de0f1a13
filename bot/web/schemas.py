"""Every request and response body of the API, so the OpenAPI document is complete and fuzzable.

Money is `Decimal` and travels as a JSON string ("12.50"), never a binary float; times are
timezone-aware UTC in ISO 8601.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from operator import methodcaller
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from bot.web.suite_runner import ALLOWED_FLAGS, EXPRESSION_PATTERN, NUMERIC_FLAG_PATTERN

# Exact decimal text in fixed-point notation ("0.00000000", never "0E-8").
Exact = Annotated[
    Decimal,
    PlainSerializer(methodcaller("__format__", "f"), return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["12.50"]}, mode="serialization"
    ),
]


class ErrorBody(BaseModel):
    """Every refusal: 401, 403, 404, 409, 422, 429, 500, 503."""

    model_config = ConfigDict(json_schema_extra={"example": {"detail": "missing or invalid credentials"}})

    detail: str = Field(description="What went wrong and, where it helps, what to do next.")
    problems: list[str] = Field(default_factory=list, description="One line per invalid field or setting.")
    retry_after_s: int | None = Field(
        default=None, description="With 429: seconds before a retry can succeed."
    )


# -- health ----------------------------------------------------------------------------------


class HealthResponse(BaseModel):
    """Liveness: the process answers."""

    status: Literal["ok"] = "ok"
    version: str


class CheckResult(BaseModel):
    """One readiness check: a name and a status, never a price, a credential or an error body."""

    name: str
    status: Literal["ok", "fail", "skipped"]
    detail: str | None = Field(
        default=None, description="A fixed, non-sensitive phrase explaining the status."
    )


class VenueStatus(BaseModel):
    """One venue as its last request left it: names and figures, never a URL or a credential."""

    venue: str
    leg: str
    up: bool | None = Field(description="Whether its last request was answered; null before the first.")
    breaker: Literal["closed", "open", "half_open", "none"] = Field(
        description="Its circuit breaker; `none` for a venue without one (simulated, CCXT)."
    )
    last_outcome: str | None = Field(default=None, description="`ok` or the last request's error kind.")
    last_latency_ms: float | None = None
    consecutive_failures: int = 0


class ReadinessResponse(BaseModel):
    """Readiness: configuration, journal, orchestrator and every enabled venue."""

    ready: bool
    orchestrator: str = Field(description="State of the trading loop, as in /state.")
    checks: list[CheckResult]
    venues: list[VenueStatus] = Field(default_factory=list)


# -- identity ----------------------------------------------------------------------------------


class WhoAmI(BaseModel):
    """Who the API thinks the caller is and what it may do."""

    principal: str = Field(description="Key fingerprint, token subject or certificate subject.")
    method: Literal["api-key", "oidc", "client-cert"]
    roles: list[str]
    can_read: bool
    can_control: bool


# -- PnL, trades, orders, spreads -------------------------------------------------------------


class DailyPnlOut(BaseModel):
    day: date = Field(description="UTC day.")
    realised_gbp: Exact = Field(description="Net PnL of every cycle that day, GBP.")
    loss_gbp: Exact = Field(
        description="Sum of the losing cycles' losses, GBP (what MAX_DAILY_LOSS_GBP limits)."
    )
    trades: int
    unwound: int


class PnlResponse(BaseModel):
    as_of: datetime
    currency: Literal["GBP"] = "GBP"
    daily_loss_limit_gbp: Exact
    today: DailyPnlOut
    history: list[DailyPnlOut] = Field(description="One entry per UTC day with activity, oldest first.")


class CostsOut(BaseModel):
    power_fee_gbp: Exact
    futures_fee_gbp: Exact
    loan_fee_gbp: Exact
    gas_gbp: Exact
    slippage_gbp: Exact
    total_gbp: Exact


class TradeOut(BaseModel):
    cycle_id: str
    executed_at: datetime
    quantity_mwh: Exact
    power_price_gbp: Exact = Field(description="Average power-leg fill, GBP/MWh (may be zero or negative).")
    futures_price_gbp: Exact = Field(description="Average futures-leg fill, GBP/MWh.")
    spread_gbp: Exact = Field(description="Futures fill minus power fill, GBP/MWh.")
    loan_amount_gbp: Exact
    gross_gbp: Exact
    costs: CostsOut
    net_gbp: Exact
    loan_tx: str | None = Field(
        default=None, description="The on-chain loan's settlement transaction hash (USE_WEB3_LOAN)."
    )
    loan_block: int | None = Field(default=None, description="Block of the settlement transaction.")
    loan_gas_used: int | None = Field(default=None, description="Gas the settlement transaction used.")


class TradesPage(BaseModel):
    items: list[TradeOut] = Field(description="Newest first.")
    total: int = Field(description="Trades matching the filter, across all pages.")
    limit: int
    offset: int
    since: datetime | None
    until: datetime | None


class OrderOut(BaseModel):
    client_order_id: str
    cycle_id: str
    leg: Literal["power", "futures"]
    venue: str
    side: Literal["BUY", "SELL"]
    purpose: str
    quantity_mwh: Exact
    limit_price_gbp: Exact
    status: str
    filled_mwh: Exact
    avg_price_gbp: Exact | None
    venue_order_id: str | None
    created_at: datetime
    updated_at: datetime


class OpenOrdersResponse(BaseModel):
    items: list[OrderOut]


class SpreadPoint(BaseModel):
    at: datetime
    cycle_id: str
    spread_gbp: Exact = Field(description="Futures minus power, GBP/MWh.")
    power_price_gbp: Exact
    futures_price_gbp: Exact
    traded: bool = Field(description="Whether the cycle traded (a marker on the chart).")


class SpreadsResponse(BaseModel):
    items: list[SpreadPoint] = Field(description="Oldest first.")
    source: Literal["trades"] = Field(description="Where the points come from: executed trades' fill prices.")


# -- orchestrator and state -------------------------------------------------------------------

OrchestratorStateName = Literal["stopped", "running", "stopping", "exited", "external"]


class OrchestratorSummary(BaseModel):
    """The trading loop at a glance (readable with a reader role)."""

    state: OrchestratorStateName = Field(
        description="stopped: none running; running/stopping: started by this API; exited: the one this API "
        "started has ended; external: one started elsewhere holds the lock (reported, never duplicated)."
    )
    pid: int | None
    exit_code: int | None
    started_at: datetime | None
    finished_at: datetime | None
    supervised: bool = Field(description="True when this API started it and can stop it.")
    stop_requested: bool
    overrides: dict[str, str] = Field(description="KEY=VALUE overrides it was started with.")


class OrchestratorStatus(OrchestratorSummary):
    """The control plane's view: the summary plus the log tail."""

    log_tail: list[str] = Field(description="Last lines of its output, secrets masked.")


class BlockedReason(BaseModel):
    outcome: str
    reason: str
    count: int


class StateResponse(BaseModel):
    as_of: datetime
    simulated: bool
    mode: Literal["live", "paper", "simulated"] = Field(
        description="live: orders go to the live venues. paper (PAPER_TRADING): live books, every order "
        "filled locally by the simulator's model, nothing sent. simulated: simulated markets."
    )
    trading_window_open: bool
    market_profile: Literal["realistic", "demo"] = Field(
        description="SIM_PROFILE of the simulated legs: demo opens inside a price dislocation and has "
        "them often (not realistic; the control panel shows a banner)."
    )
    settings: dict[str, Any] = Field(description="Effective settings by env name; secrets show only '<set>'.")
    orchestrator: OrchestratorSummary
    blocked_today: list[BlockedReason] = Field(description="Today's blocked or skipped cycles by reason.")


# -- control plane ----------------------------------------------------------------------------


def _overridable_settings() -> list[str]:
    from bot.config import catalog

    return [row.env for row in catalog() if not row.secret and row.override != "never"]


def _overrides_schema(schema: dict[str, Any]) -> None:
    # Documents the names the control plane accepts; the server checks them itself so that a
    # refusal names the key and says why (unknown, secret, or protected).
    schema["propertyNames"] = {"enum": _overridable_settings()}


_Flag = Annotated[
    str,
    WithJsonSchema(
        {"anyOf": [{"enum": sorted(ALLOWED_FLAGS)}, {"type": "string", "pattern": NUMERIC_FLAG_PATTERN}]}
    ),
]
_Expression = Annotated[
    str, WithJsonSchema({"type": "string", "maxLength": 200, "pattern": EXPRESSION_PATTERN})
]


class StartRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {"overrides": {"CYCLE_INTERVAL_SECS": "0.5", "TRADING_WINDOW_UTC": "00:00-24:00"}}
        },
    )

    overrides: dict[str, str] = Field(
        default_factory=dict,
        description="KEY=VALUE environment overrides: known, non-secret settings only (see docs/api.md).",
        json_schema_extra=_overrides_schema,
    )


class SuiteRunRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"k": "config", "flags": ["-q", "-x"]}}
    )

    k: _Expression | None = Field(default=None, max_length=200, description="pytest -k expression.")
    markers: _Expression | None = Field(default=None, max_length=200, description="pytest -m expression.")
    flags: list[_Flag] = Field(
        default_factory=list, max_length=10, description="Allowlisted pytest flags only."
    )
    timeout_s: int | None = Field(default=None, ge=1, le=3600, description="At most the server's limit.")


class SuiteRunResult(BaseModel):
    state: Literal["running", "passed", "failed", "timed_out", "error"]
    args: list[str] = Field(description="The pytest arguments used.")
    exit_code: int | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    output: str = Field(description="stdout and stderr, capped; a marker says how much was cut.")
    cut_bytes: int


class SuiteRunStatus(BaseModel):
    running: bool
    last: SuiteRunResult | None


class AuditEntry(BaseModel):
    at: datetime
    client: str
    principal: str
    roles: list[str]
    action: str
    parameters: dict[str, str]
    outcome: str
    status_code: int


class AuditPage(BaseModel):
    items: list[AuditEntry] = Field(description="Newest first.")
    limit: int
    offset: int
