"""What each setting is: type, default, description and table metadata, plus its own checks.

`bot.config.settings.Settings` adds how the values are loaded and what is derived from them; the
order of the fields here is the order of the settings table, the docs and the CRD.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr, field_validator

from bot.config.fields import ListSetting, setting
from bot.config.venue_fields import VenueSettingFields
from bot.domain.window import parse_window
from bot.markets.profiles import MarketProfile


class SettingFields(VenueSettingFields):
    """Every setting the bot reads, by its environment name (case-insensitive), and its own checks."""

    # -- risk ------------------------------------------------------------------------------
    loan_limit_gbp: Decimal = setting(
        Decimal("100000"),
        "Largest flash loan drawn in one cycle, GBP.",
        crd="risk.loanLimitGBP",
        gt=0,
        override="lower",
    )
    max_notional_per_trade: Decimal = setting(
        Decimal("10000"),
        "Largest notional of one trade, GBP; at most LOAN_LIMIT_GBP.",
        crd="risk.maxNotionalPerTrade",
        gt=0,
        override="lower",
    )
    max_daily_loss_gbp: Decimal = setting(
        Decimal("500"),
        "Trading stops for the UTC day once the day's net realised loss reaches this, GBP.",
        crd="risk.dailyLossLimitGBP",
        gt=0,
        override="lower",
    )
    max_position_mwh: Decimal = setting(
        Decimal("50"),
        "Largest quantity of one cycle, MWh.",
        crd="risk.maxPositionMWh",
        gt=0,
        override="lower",
    )
    min_profit_gbp: Decimal = setting(
        Decimal("1"),
        "Smallest expected net profit worth trading, GBP.",
        crd="risk.minProfitGBP",
        ge=0,
        override="higher",
    )
    kelly_bank_gbp: Decimal = setting(
        Decimal("50000"),
        "Bank used for Kelly sizing (fraction capped at 10%); 0 disables Kelly sizing.",
        crd="risk.kellyBankGBP",
        ge=0,
    )
    power_fee_bp: Decimal = setting(
        Decimal("5"), "Power venue fee, basis points.", crd="risk.powerFeeBp", ge=0, override="higher"
    )
    futures_fee_bp: Decimal = setting(
        Decimal("2"), "Futures venue fee, basis points.", crd="risk.futuresFeeBp", ge=0, override="higher"
    )
    max_quote_age_ms: int = setting(
        2000,
        "Quotes older than this are stale and never traded, ms.",
        crd="risk.maxQuoteAgeMs",
        gt=0,
        override="lower",
    )
    expected_slippage_bp: Decimal = setting(
        Decimal("5"),
        "Adverse slippage every decision prices in before it trades, basis points (all modes).",
        crd="risk.expectedSlippageBp",
        ge=0,
        override="higher",
    )
    price_tolerance_bp: Decimal = setting(
        Decimal("15"),
        "How far past the quoted level a limit price reaches (slippage plus the market moving while "
        "orders travel), basis points; the expected profit must still clear MIN_PROFIT_GBP at the quote.",
        crd="risk.priceToleranceBp",
        ge=0,
        override="lower",
    )
    price_tolerance_min_gbp: Decimal = setting(
        Decimal("0.10"),
        "The least a limit price reaches past the quoted level, GBP/MWh (about PRICE_TOLERANCE_BP "
        "of a typical price): near a zero price a share of the price leaves no room at all.",
        crd="risk.priceToleranceMinGBP",
        ge=0,
        override="lower",
    )
    trading_enabled: bool = setting(
        True, "Master switch; 0 blocks every cycle.", crd="paused", override="off"
    )
    trading_window_utc: str = setting(
        "05:00-21:00",
        "UTC trading window HH:MM-HH:MM; an end before the start spans midnight; 00:00-24:00 is all day.",
        crd="tradingWindow.utc",
        override="narrower",
    )
    allow_weekend_trading: bool = setting(
        False, "Allow cycles on Saturday and Sunday (UTC).", crd="tradingWindow.allowWeekends", override="off"
    )

    # -- simulation and execution ----------------------------------------------------------
    use_depth_sim: bool = setting(
        True, "Simulate order-book depth and slippage.", crd="simulation.depth", override="any"
    )
    exec_latency_ms: int = setting(
        100, "Simulated execution latency per order, ms.", crd="simulation.latencyMs", ge=0, override="any"
    )
    slippage_bp: Decimal = setting(
        Decimal("5"),
        "Slippage the simulated venues apply to each fill, basis points (simulation only).",
        crd="simulation.slippageBp",
        ge=0,
        override="any",
    )
    book_levels: int = setting(
        5, "Simulated order-book levels per side.", crd="simulation.bookLevels", ge=1, le=50, override="any"
    )
    book_size_mwh: Decimal = setting(
        Decimal("100"),
        "Simulated depth per book level, MWh.",
        crd="simulation.bookSizeMWh",
        gt=0,
        override="any",
    )
    sim_seed: int = setting(
        7, "Seed of the simulated markets (reproducible runs).", crd="simulation.seed", override="any"
    )
    sim_profile: MarketProfile = setting(
        "realistic",
        "Simulated market profile: realistic (a paying spread now and then, what pods run) or demo "
        "(opens inside a price dislocation and has them often, so a first trade comes within seconds; "
        "not realistic, and the log and control panel say so).",
        crd="simulation.profile",
        override="any",
    )
    sim_faults: ListSetting = setting(
        [],
        "Simulated faults as name=probability, e.g. futures_reject=0.02,partial_fill=0.05 "
        "(power_reject, futures_reject, partial_fill, order_timeout, loan_refuse, repay_fail, stale_book).",
        crd="simulation.faults",
        override="any",
    )
    sim_rest_ms: int = setting(
        0,
        "Simulated venues: each order rests on the book this long before it is matched, ms "
        "(0: filled or cancelled on arrival). Shows the bot orders that do not fill at once.",
        crd="simulation.orderRestMs",
        ge=0,
        override="any",
    )
    sim_ledger: bool = setting(
        False,
        "Simulated venues keep every order they answer in DATA_DIR/sim-venues.jsonl and, after a "
        "restart, answer for those orders as a real venue does (restart drills).",
        crd="simulation.ledger",
        override="any",
    )
    sim_kill_at: str = setting(
        "",
        "Restart drill: the simulated venue SIGKILLs its own process at one order boundary, e.g. "
        "power-unwind:after (<leg>-<purpose>[-<attempt>]:<before|after>). Tests only; empty: never.",
        crd="simulation.killAt",
        override="any",
    )
    order_timeout_secs: Decimal = setting(
        Decimal("30"),
        "An order not filled by then is cancelled and the cycle unwound, s.",
        crd="execution.orderTimeoutSecs",
        gt=0,
        override="any",
    )
    order_poll_interval: Decimal = setting(
        Decimal("1.0"),
        "Poll interval of order status, s.",
        crd="execution.orderPollInterval",
        gt=0,
        override="any",
    )
    cycle_interval_secs: Decimal = setting(
        Decimal("1.0"),
        "Pause between cycles when no streaming book triggers them, s.",
        crd="execution.cycleIntervalSecs",
        ge=0,
        override="any",
    )
    min_cycle_gap_ms: int = setting(
        50,
        "Smallest gap between two cycles triggered by streaming book changes, ms.",
        crd="execution.minCycleGapMs",
        ge=0,
        override="any",
    )
    bot_name: str = setting("flash-green", "Name of this bot; prefixes cycle and order ids.", crd=None)

    # -- journal ---------------------------------------------------------------------------
    data_dir: Path = setting(Path("data"), "Directory of the default SQLite journal.", crd=None)
    record_ticks: bool = setting(
        False,
        "Record every book the bot reads to Parquet tick files in DATA_DIR/ticks, for "
        "flash-green replay (docs/replay.md).",
        crd="recording.ticks",
        override="any",
    )
    record_ticks_rotate_mb: int = setting(
        64,
        "A tick recording file is closed and a new one started at this size, MB (and at each UTC day).",
        crd="recording.rotateMB",
        ge=1,
        override="any",
    )
    database_url: str | None = setting(
        None,
        "Journal database URL (SQLAlchemy); default sqlite:///<DATA_DIR>/journal.db. PostgreSQL: "
        "postgresql+psycopg://user@host/db.",
        crd="journal",
        issuer="infra: postgresql+psycopg://USER@HOST:5432/DB",
        repr=False,  # it may carry a password
    )
    database_password: SecretStr | None = setting(
        None,
        "Journal database password, inserted into DATABASE_URL when it carries none.",
        secret=True,
        hydrate=True,
    )

    # -- secrets backend -------------------------------------------------------------------
    secrets_backend: Literal["vault", "aws"] | None = setting(
        None, "Where secret fields come from: vault, aws, or unset (environment only).", crd="secrets.backend"
    )
    vault_addr: str | None = setting(None, "Vault address.", crd="secrets.vault.address", issuer="infra")
    vault_token: SecretStr | None = setting(
        None, "Vault token.", secret=True, crd="secrets.vault.tokenSecretRef", issuer="infra"
    )
    vault_secret_path: str | None = setting(
        None,
        "KV v2 path, e.g. flash-green or secret/data/flash-green.",
        crd="secrets.vault.path",
        issuer="infra",
    )
    vault_mount: str = setting("secret", "KV v2 mount point.", crd="secrets.vault.mount")
    aws_secrets_region: str | None = setting(
        None, "AWS region of the secret.", crd="secrets.aws.region", issuer="infra"
    )
    aws_secrets_id: str | None = setting(
        None, "Secret id or ARN.", crd="secrets.aws.secretId", issuer="infra"
    )
    secrets_dir: Path | None = setting(
        None,
        "Directory of mounted secret files, one file per setting named by its env name (a Kubernetes "
        "Secret volume); read after the environment and .env, before the secret backend.",
    )

    # -- API, metrics and identity ---------------------------------------------------------
    api_key: SecretStr | None = setting(
        None, "Shared API key (X-API-Key or Bearer).", secret=True, hydrate=True
    )
    api_key_roles: ListSetting = setting(
        ["trading-admin"], "Roles granted to a caller presenting API_KEY.", crd="auth.apiKeyRoles"
    )
    api_host: str = setting("0.0.0.0", "Address the API binds to.", crd=None)  # noqa: S104
    api_port: int = setting(8002, "Port of the REST API and control panel.", crd=None, ge=1, le=65535)
    metrics_host: str = setting("0.0.0.0", "Address the orchestrator's metrics exporter binds to.", crd=None)  # noqa: S104
    metrics_port: int = setting(
        8000, "Port of the orchestrator's Prometheus exporter.", crd=None, ge=0, le=65535, override="any"
    )
    oidc_issuer: str | None = setting(None, "Expected OIDC token issuer.", crd="auth.oidc.issuer")
    oidc_audience: str | None = setting(None, "Expected OIDC token audience.", crd="auth.oidc.audience")
    oidc_jwks_url: str | None = setting(None, "JWKS URL of the identity provider.", crd="auth.oidc.jwksUrl")
    oidc_allowed_algorithms: ListSetting = setting(
        ["RS256"], "Accepted JWT algorithms (never none).", crd="auth.oidc.allowedAlgorithms"
    )
    reader_roles: ListSetting = setting(
        ["trading-reader"],
        "Roles that may read data endpoints (control-plane roles may too).",
        crd="auth.readerRoles",
    )
    control_plane_roles: ListSetting = setting(
        ["trading-admin"], "Roles that may use the control plane.", crd="auth.controlPlaneRoles"
    )
    trusted_proxies: ListSetting = setting(
        [],
        "Addresses/CIDRs whose client-certificate and X-Forwarded-Proto headers are trusted.",
        crd="auth.trustedProxies",
    )
    client_cert_header: str = setting(
        "X-Client-Cert-Subject",
        "Header carrying the verified client-certificate subject.",
        crd="auth.clientCertHeader",
    )
    client_cert_verify_header: str = setting(
        "X-SSL-Client-Verify",
        "Header in which the trusted proxy reports its verification of the client certificate; the "
        "subject header is believed only when this one says SUCCESS.",
        crd="auth.clientCertVerifyHeader",
    )
    client_cert_roles: ListSetting = setting(
        ["trading-reader"],
        "Roles granted to a caller with a trusted client certificate.",
        crd="auth.clientCertRoles",
    )
    require_https: bool = setting(False, "Refuse requests not made over HTTPS.", crd="auth.requireHttps")
    control_plane_rate_limit: str = setting(
        "30/minute",
        "Control-plane calls allowed per caller, e.g. 30/minute.",
        crd="auth.rateLimits.controlPlane",
    )
    auth_failure_rate_limit: str = setting(
        "20/minute",
        "Failed authentications allowed per client address before 429.",
        crd="auth.rateLimits.authFailures",
    )

    # -- logging ---------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = setting(
        "INFO", "Log level.", crd="logLevel", override="any"
    )
    log_format: Literal["text", "json"] = setting(
        "text", "Log format: text or json.", crd="logFormat", override="any"
    )

    # -- list settings accept "a,b" ------------------------------------------------------
    @field_validator(
        "api_key_roles",
        "oidc_allowed_algorithms",
        "reader_roles",
        "control_plane_roles",
        "trusted_proxies",
        "client_cert_roles",
        "sim_faults",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("secrets_backend", mode="before")
    @classmethod
    def _empty_backend_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "none"):
            return None
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("trading_window_utc")
    @classmethod
    def _valid_window(cls, value: str) -> str:
        parse_window(value)  # raises ValueError with the reason
        return value

    @field_validator("sim_faults")
    @classmethod
    def _valid_faults(cls, value: list[str]) -> list[str]:
        from bot.markets.faults import parse_fault_spec

        parse_fault_spec(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("sim_kill_at")
    @classmethod
    def _valid_kill_point(cls, value: str) -> str:
        from bot.markets.faults import parse_kill_point

        parse_kill_point(value)  # raises ValueError saying the expected form
        return value

    @field_validator("control_plane_rate_limit", "auth_failure_rate_limit")
    @classmethod
    def _valid_rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate such as 30/minute or 5/second") from None
        return value

    @field_validator("oidc_allowed_algorithms")
    @classmethod
    def _no_alg_none(cls, value: list[str]) -> list[str]:
        if any(alg.lower() == "none" for alg in value):
            raise ValueError("'none' is never an accepted JWT algorithm")
        return value
