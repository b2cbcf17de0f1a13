"""The bot's whole configuration surface: one `Settings` class.

Constructing `Settings` loads `.env` (or the file passed in), hydrates the secret fields from the
chosen backend (Vault KV v2 or AWS Secrets Manager), then validates. Every problem found is
reported at once in a single `ConfigError` (a `ValueError`) that names each variable by its
environment name; secret values never appear in `repr`, in errors or in logs.

Each field carries its metadata (`env` name, `secret`, `crd` path in the ArbitrageBot spec, which
toggle requires it) so the operator, the docs and the tests all read the same table: `catalog()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.domain.window import TradingWindow, parse_window

# The toggles of the original README and the credentials each one requires.
TOGGLE_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "USE_LIVE_FEED": ("LIVE_EXCHANGE", "LIVE_SYMBOL", "LIVE_API_KEY", "LIVE_API_SECRET"),
    "USE_POWERLEDGER_LIVE": (
        "POWERLEDGER_API_URL",
        "POWERLEDGER_API_TOKEN",
        "POWERLEDGER_ORG",
        "POWERLEDGER_MARKET",
    ),
    "USE_ICE_LIVE": ("ICE_API_URL", "ICE_API_KEY", "ICE_API_SECRET", "ICE_SYMBOL"),
    "USE_WEB3_LOAN": ("FLASH_LOAN_CONTRACT", "FLASH_LOAN_RECEIVER", "LENDER_KEY", "HARDHAT_RPC"),
}
# USE_ICE_LIVE with FUTURES_LIVE_ADAPTER=fnality_repo routes the futures leg to the repo venue.
FNALITY_REQUIREMENTS: tuple[str, ...] = (
    "FNALITY_REPO_API_URL",
    "FNALITY_REPO_API_TOKEN",
    "FNALITY_REPO_MARKET",
)
BACKEND_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "vault": ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_SECRET_PATH"),
    "aws": ("AWS_SECRETS_REGION", "AWS_SECRETS_ID"),
}
# Who issues each credential: quoted in errors so nobody has to guess.
ISSUER: dict[str, str] = {
    "LIVE_EXCHANGE": "trading desk",
    "LIVE_SYMBOL": "trading desk",
    "LIVE_API_KEY": "issued by the exchange to the trading desk",
    "LIVE_API_SECRET": "issued by the exchange to the trading desk",
    "POWERLEDGER_API_URL": "Powerledger ops",
    "POWERLEDGER_API_TOKEN": "org-scoped bearer issued by Powerledger ops",
    "POWERLEDGER_ORG": "trading desk",
    "POWERLEDGER_MARKET": "trading desk",
    "ICE_API_URL": "infra",
    "ICE_API_KEY": "issued by ICE to the trading desk",
    "ICE_API_SECRET": "issued by ICE to the trading desk",
    "ICE_SYMBOL": "trading desk",
    "FNALITY_REPO_API_URL": "infra",
    "FNALITY_REPO_API_TOKEN": "issued by the repo venue to the trading desk",
    "FNALITY_REPO_MARKET": "trading desk",
    "FLASH_LOAN_CONTRACT": "the deployed flash-loan contract address, from infra",
    "FLASH_LOAN_RECEIVER": "the deployed receiver contract address, from infra",
    "LENDER_KEY": "custodied signing key, from infra",
    "HARDHAT_RPC": "infra",
    "VAULT_ADDR": "infra",
    "VAULT_TOKEN": "infra",
    "VAULT_SECRET_PATH": "infra",
    "AWS_SECRETS_REGION": "infra",
    "AWS_SECRETS_ID": "infra",
    "DATABASE_URL": "infra: postgresql+psycopg://USER@HOST:5432/DB",
}


class ConfigError(ValueError):
    """Invalid configuration. `problems` lists one actionable line per bad or missing variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")


def _setting(
    default: Any,
    description: str,
    *,
    secret: bool = False,
    crd: str | None = None,
    hydrate: bool = False,
    **kwargs: Any,
) -> Any:
    """A field with the catalog metadata every consumer of the settings table reads."""
    extra: dict[str, Any] = {"secret": secret, "crd": crd, "hydrate": hydrate}
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


ListSetting = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Every setting the bot reads, by its environment name (case-insensitive)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
        frozen=True,
        validate_default=True,
    )

    # -- feature toggles -------------------------------------------------------------------
    use_live_feed: bool = _setting(
        False, "Consume CCXT live data for the futures leg.", crd="features.liveFeed"
    )
    use_powerledger_live: bool = _setting(
        False, "Pull power-leg prices and route orders to Powerledger.", crd="features.powerledgerLive"
    )
    use_ice_live: bool = _setting(
        False, "Route the futures leg to the live futures adapter.", crd="features.iceLive"
    )
    use_web3_loan: bool = _setting(
        False, "Use the on-chain flash-loan contract instead of the simulated loan.", crd="features.web3Loan"
    )

    # -- CCXT live feed --------------------------------------------------------------------
    live_exchange: str | None = _setting(None, "CCXT exchange id, e.g. binance.", crd="liveFeed.exchange")
    live_symbol: str | None = _setting(None, "CCXT market symbol, e.g. BTC/USDT.", crd="liveFeed.symbol")
    live_api_key: SecretStr | None = _setting(None, "Exchange API key.", secret=True, hydrate=True)
    live_api_secret: SecretStr | None = _setting(None, "Exchange API secret.", secret=True, hydrate=True)

    # -- Powerledger (power leg) -----------------------------------------------------------
    powerledger_api_url: str | None = _setting(
        None, "Powerledger trading API base URL.", crd="powerledger.apiUrl"
    )
    powerledger_api_token: SecretStr | None = _setting(
        None, "Org-scoped Powerledger token (sent as X-PL-API-Key).", secret=True, hydrate=True
    )
    powerledger_org: str | None = _setting(None, "Trading org/desk id on every order.", crd="powerledger.org")
    powerledger_market: str | None = _setting(
        None, "Market code of the physical leg, e.g. uk-grid-24h-ahead.", crd="powerledger.market"
    )

    # -- futures leg: ICE REST or the Fnality/HQLAx repo venue -----------------------------
    futures_live_adapter: Literal["ice_rest", "fnality_repo"] = _setting(
        "ice_rest", "Live futures adapter used when USE_ICE_LIVE=1.", crd="ice.adapter"
    )
    ice_api_url: str | None = _setting(None, "ICE REST API base URL.", crd="ice.apiUrl")
    ice_api_key: SecretStr | None = _setting(None, "ICE API key (X-API-KEY).", secret=True, hydrate=True)
    ice_api_secret: SecretStr | None = _setting(
        None, "ICE API secret (X-API-SECRET).", secret=True, hydrate=True
    )
    ice_symbol: str = _setting("UK_BASELOAD_Q2_2025", "ICE futures symbol.", crd="ice.symbol")
    fnality_repo_api_url: str | None = _setting(None, "Repo venue API base URL.", crd="ice.fnality.apiUrl")
    fnality_repo_api_token: SecretStr | None = _setting(
        None, "Repo venue bearer token.", secret=True, hydrate=True
    )
    fnality_repo_market: str | None = _setting(None, "Repo venue market code.", crd="ice.fnality.market")

    # -- flash loan ------------------------------------------------------------------------
    flash_loan_contract: SecretStr | None = _setting(
        None, "Deployed flash-loan lender contract address.", secret=True, hydrate=True
    )
    flash_loan_receiver: SecretStr | None = _setting(
        None, "Deployed receiver contract address.", secret=True, hydrate=True
    )
    lender_key: SecretStr | None = _setting(
        None, "Custodied signing key of the lender wallet.", secret=True, hydrate=True
    )
    hardhat_rpc: str = _setting("http://127.0.0.1:8545", "JSON-RPC endpoint of the chain.", crd="web3.rpcUrl")
    loan_fee_bp: Decimal = _setting(
        Decimal("9"), "Flash-loan fee in basis points of the amount drawn.", crd="risk.loanFeeBp", ge=0
    )
    gas_cost_gbp: Decimal = _setting(
        Decimal("0.50"), "Expected gas cost of one loan cycle, GBP.", crd="risk.gasCostGBP", ge=0
    )

    # -- risk ------------------------------------------------------------------------------
    loan_limit_gbp: Decimal = _setting(
        Decimal("100000"), "Largest flash loan drawn in one cycle, GBP.", crd="risk.loanLimitGBP", gt=0
    )
    max_notional_per_trade: Decimal = _setting(
        Decimal("10000"),
        "Largest notional of one trade, GBP; at most LOAN_LIMIT_GBP.",
        crd="risk.maxNotionalPerTrade",
        gt=0,
    )
    max_daily_loss_gbp: Decimal = _setting(
        Decimal("500"),
        "Trading stops for the UTC day once the day's net realised loss reaches this, GBP.",
        crd="risk.dailyLossLimitGBP",
        gt=0,
    )
    max_position_mwh: Decimal = _setting(
        Decimal("50"), "Largest quantity of one cycle, MWh.", crd="risk.maxPositionMWh", gt=0
    )
    min_profit_gbp: Decimal = _setting(
        Decimal("1"), "Smallest expected net profit worth trading, GBP.", crd="risk.minProfitGBP", ge=0
    )
    kelly_bank_gbp: Decimal = _setting(
        Decimal("50000"),
        "Bank used for Kelly sizing (fraction capped at 10%); 0 disables Kelly sizing.",
        crd="risk.kellyBankGBP",
        ge=0,
    )
    power_fee_bp: Decimal = _setting(
        Decimal("5"), "Power venue fee, basis points.", crd="risk.powerFeeBp", ge=0
    )
    futures_fee_bp: Decimal = _setting(
        Decimal("2"), "Futures venue fee, basis points.", crd="risk.futuresFeeBp", ge=0
    )
    max_quote_age_ms: int = _setting(
        2000, "Quotes older than this are stale and never traded, ms.", crd="risk.maxQuoteAgeMs", gt=0
    )
    price_tolerance_bp: Decimal = _setting(
        Decimal("15"),
        "How far past the quoted level a limit price reaches (slippage plus the market moving while "
        "orders travel), basis points; the expected profit must still clear MIN_PROFIT_GBP at the quote.",
        crd="risk.priceToleranceBp",
        ge=0,
    )
    trading_enabled: bool = _setting(True, "Master switch; 0 blocks every cycle.", crd="paused")
    trading_window_utc: str = _setting(
        "05:00-21:00",
        "UTC trading window HH:MM-HH:MM; an end before the start spans midnight; 00:00-24:00 is all day.",
        crd="tradingWindow.utc",
    )
    allow_weekend_trading: bool = _setting(
        False, "Allow cycles on Saturday and Sunday (UTC).", crd="tradingWindow.allowWeekends"
    )

    # -- simulation and execution ----------------------------------------------------------
    use_depth_sim: bool = _setting(True, "Simulate order-book depth and slippage.", crd="simulation.depth")
    exec_latency_ms: int = _setting(
        100, "Simulated execution latency per order, ms.", crd="simulation.latencyMs", ge=0
    )
    slippage_bp: Decimal = _setting(
        Decimal("5"), "Simulated slippage, basis points.", crd="simulation.slippageBp", ge=0
    )
    book_levels: int = _setting(
        5, "Simulated order-book levels per side.", crd="simulation.bookLevels", ge=1, le=50
    )
    book_size_mwh: Decimal = _setting(
        Decimal("100"), "Simulated depth per book level, MWh.", crd="simulation.bookSizeMWh", gt=0
    )
    sim_seed: int = _setting(7, "Seed of the simulated markets (reproducible runs).", crd="simulation.seed")
    sim_faults: ListSetting = _setting(
        [],
        "Simulated faults as name=probability, e.g. futures_reject=0.02,partial_fill=0.05 "
        "(power_reject, futures_reject, partial_fill, order_timeout, loan_refuse, repay_fail, stale_book).",
        crd="simulation.faults",
    )
    order_timeout_secs: Decimal = _setting(
        Decimal("30"),
        "An order not filled by then is cancelled and the cycle unwound, s.",
        crd="execution.orderTimeoutSecs",
        gt=0,
    )
    order_poll_interval: Decimal = _setting(
        Decimal("1.0"), "Poll interval of order status, s.", crd="execution.orderPollInterval", gt=0
    )
    cycle_interval_secs: Decimal = _setting(
        Decimal("1.0"), "Pause between cycles, s.", crd="execution.cycleIntervalSecs", ge=0
    )
    bot_name: str = _setting("flash-green", "Name of this bot; prefixes cycle and order ids.", crd=None)

    # -- journal ---------------------------------------------------------------------------
    data_dir: Path = _setting(Path("data"), "Directory of the default SQLite journal.", crd=None)
    database_url: str | None = _setting(
        None,
        "Journal database URL (SQLAlchemy); default sqlite:///<DATA_DIR>/journal.db. PostgreSQL: "
        "postgresql+psycopg://user@host/db.",
        crd="journal",
        repr=False,  # it may carry a password
    )
    database_password: SecretStr | None = _setting(
        None,
        "Journal database password, inserted into DATABASE_URL when it carries none.",
        secret=True,
        hydrate=True,
    )

    # -- secrets backend -------------------------------------------------------------------
    secrets_backend: Literal["vault", "aws"] | None = _setting(
        None, "Where secret fields come from: vault, aws, or unset (environment only).", crd="secrets.backend"
    )
    vault_addr: str | None = _setting(None, "Vault address.", crd="secrets.vault.address")
    vault_token: SecretStr | None = _setting(
        None, "Vault token.", secret=True, crd="secrets.vault.tokenSecretRef"
    )
    vault_secret_path: str | None = _setting(
        None, "KV v2 path, e.g. flash-green or secret/data/flash-green.", crd="secrets.vault.path"
    )
    vault_mount: str = _setting("secret", "KV v2 mount point.", crd="secrets.vault.mount")
    aws_secrets_region: str | None = _setting(None, "AWS region of the secret.", crd="secrets.aws.region")
    aws_secrets_id: str | None = _setting(None, "Secret id or ARN.", crd="secrets.aws.secretId")

    # -- API, metrics and identity ---------------------------------------------------------
    api_key: SecretStr | None = _setting(
        None, "Shared API key (X-API-Key or Bearer).", secret=True, hydrate=True
    )
    api_key_roles: ListSetting = _setting(
        ["trading-admin"], "Roles granted to a caller presenting API_KEY.", crd="auth.apiKeyRoles"
    )
    api_host: str = _setting("0.0.0.0", "Address the API binds to.", crd=None)  # noqa: S104
    api_port: int = _setting(8002, "Port of the REST API and control panel.", crd=None, ge=1, le=65535)
    metrics_host: str = _setting("0.0.0.0", "Address the orchestrator's metrics exporter binds to.", crd=None)  # noqa: S104
    metrics_port: int = _setting(
        8000, "Port of the orchestrator's Prometheus exporter.", crd=None, ge=0, le=65535
    )
    oidc_issuer: str | None = _setting(None, "Expected OIDC token issuer.", crd="auth.oidc.issuer")
    oidc_audience: str | None = _setting(None, "Expected OIDC token audience.", crd="auth.oidc.audience")
    oidc_jwks_url: str | None = _setting(None, "JWKS URL of the identity provider.", crd="auth.oidc.jwksUrl")
    oidc_allowed_algorithms: ListSetting = _setting(
        ["RS256"], "Accepted JWT algorithms (never none).", crd="auth.oidc.allowedAlgorithms"
    )
    reader_roles: ListSetting = _setting(
        ["trading-reader"],
        "Roles that may read data endpoints (control-plane roles may too).",
        crd="auth.readerRoles",
    )
    control_plane_roles: ListSetting = _setting(
        ["trading-admin"], "Roles that may use the control plane.", crd="auth.controlPlaneRoles"
    )
    trusted_proxies: ListSetting = _setting(
        [],
        "Addresses/CIDRs whose client-certificate and X-Forwarded-Proto headers are trusted.",
        crd="auth.trustedProxies",
    )
    client_cert_header: str = _setting(
        "X-Client-Cert-Subject",
        "Header carrying the verified client-certificate subject.",
        crd="auth.clientCertHeader",
    )
    client_cert_roles: ListSetting = _setting(
        ["trading-reader"],
        "Roles granted to a caller with a trusted client certificate.",
        crd="auth.clientCertRoles",
    )
    require_https: bool = _setting(False, "Refuse requests not made over HTTPS.", crd="auth.requireHttps")
    control_plane_rate_limit: str = _setting(
        "30/minute",
        "Control-plane calls allowed per caller, e.g. 30/minute.",
        crd="auth.rateLimits.controlPlane",
    )
    auth_failure_rate_limit: str = _setting(
        "20/minute",
        "Failed authentications allowed per client address before 429.",
        crd="auth.rateLimits.authFailures",
    )

    # -- logging ---------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = _setting(
        "INFO", "Log level.", crd="logLevel"
    )
    log_format: Literal["text", "json"] = _setting("text", "Log format: text or json.", crd="logFormat")

    # ---------------------------------------------------------------------------------------

    def __init__(
        self,
        _env_file: str | Path | None = ".env",
        *,
        _only_values: bool = False,
        _hydrate_secrets: bool = True,
        **values: Any,
    ) -> None:
        """Load sources, hydrate secrets, validate; raise `ConfigError` naming every problem."""
        raw = {k.lower(): v for k, v in values.items()}
        if not _only_values:
            if _env_file is not None and str(_env_file) != ".env" and not Path(_env_file).is_file():
                raise ConfigError([f"env file {_env_file} not found: check the path"])
            raw = _gather(type(self), _env_file, raw)
        backend_problems: list[str] = []
        if _hydrate_secrets:
            raw, backend_problems = _hydrate(raw)
        raw = {k: v for k, v in raw.items() if k in type(self).model_fields}
        try:
            BaseModel.__init__(self, **raw)
        except ValidationError as exc:
            problems = backend_problems + _field_problems(exc)
            problems += [p for p in _cross_field_problems(raw) if p not in problems]
            raise ConfigError(problems) from None
        problems = backend_problems + _cross_field_problems(raw)
        if problems:
            raise ConfigError(problems)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit values win, then the process environment, then the .env file.
        return init_settings, env_settings, dotenv_settings

    @classmethod
    def from_mapping(cls, env: Mapping[str, str], *, hydrate: bool = False) -> Settings:
        """Validate an explicit env mapping only (no process environment, no .env file).

        The operator uses this to validate an ArbitrageBot spec with the bot's own rules.
        With `hydrate=False` the secret backend is not contacted.
        """
        return cls(_only_values=True, _hydrate_secrets=hydrate, **dict(env))

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

    # -- derived -----------------------------------------------------------------------
    @property
    def trading_window(self) -> TradingWindow:
        return parse_window(self.trading_window_utc)

    @property
    def journal_url(self) -> str:
        """The journal's SQLAlchemy URL, with DATABASE_PASSWORD filled in (never log this)."""
        if not self.database_url:
            return f"sqlite:///{(self.data_dir / 'journal.db').as_posix()}"
        url = self.database_url
        if self.database_password is not None:
            from sqlalchemy.engine import make_url

            parsed = make_url(url)
            if parsed.password is None and parsed.username:
                url = parsed.set(password=self.database_password.get_secret_value()).render_as_string(
                    hide_password=False
                )
        return url

    @property
    def journal_url_redacted(self) -> str:
        """The journal URL safe to print: any password replaced by ***."""
        from sqlalchemy.engine import make_url

        return make_url(self.journal_url).render_as_string(hide_password=True)

    @property
    def simulated(self) -> bool:
        """True when no live adapter is enabled."""
        return not (
            self.use_live_feed or self.use_powerledger_live or self.use_ice_live or self.use_web3_loan
        )

    def public_view(self) -> dict[str, Any]:
        """Effective settings by env name with every secret replaced by whether it is set."""
        view: dict[str, Any] = {}
        for info in catalog():
            value = getattr(self, info.field)
            if info.secret:
                view[info.env] = "<set>" if value is not None else None
            elif info.env == "DATABASE_URL":
                view[info.env] = self.journal_url_redacted
            elif isinstance(value, Decimal | Path):
                view[info.env] = str(value)
            else:
                view[info.env] = value
        return view

    def secret_values(self) -> list[str]:
        """Every secret value that is set (for redaction filters); never log this list."""
        out = []
        for info in catalog():
            if info.secret:
                value = getattr(self, info.field)
                if value is not None and value.get_secret_value():
                    out.append(value.get_secret_value())
        return out


def _gather(cls: type[Settings], env_file: str | Path | None, init: dict[str, Any]) -> dict[str, Any]:
    """Merge the sources: explicit values, then the process environment, then the .env file."""
    merged: dict[str, Any] = {}
    if env_file is not None and Path(env_file).is_file():
        merged.update(DotEnvSettingsSource(cls, env_file=env_file)())
    merged.update(EnvSettingsSource(cls)())
    merged.update(init)
    return merged


# --------------------------------------------------------------------------------------------
# The settings table


@dataclass(frozen=True)
class SettingInfo:
    """One row of the settings table."""

    field: str
    env: str
    default: Any
    description: str
    secret: bool
    hydrated: bool  # fetched from the secret backend when SECRETS_BACKEND is set
    crd: str | None  # path in the ArbitrageBot spec, when the operator sets it from there
    required_by: tuple[str, ...]  # toggles or conditions that make it required


def _required_by(env: str) -> tuple[str, ...]:
    out = [toggle for toggle, names in TOGGLE_REQUIREMENTS.items() if env in names]
    if env in FNALITY_REQUIREMENTS:
        out.append("USE_ICE_LIVE with FUTURES_LIVE_ADAPTER=fnality_repo")
    out += [f"SECRETS_BACKEND={b}" for b, names in BACKEND_REQUIREMENTS.items() if env in names]
    return tuple(out)


def catalog() -> list[SettingInfo]:
    """The settings table: what the operator, docs/configuration.md and the tests read."""
    rows = []
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        env = name.upper()
        rows.append(
            SettingInfo(
                field=name,
                env=env,
                default=info.default,
                description=info.description or "",
                secret=bool(extra.get("secret")),
                hydrated=bool(extra.get("hydrate")),
                crd=extra.get("crd"),  # type: ignore[arg-type]
                required_by=_required_by(env),
            )
        )
    return rows


def secret_env_names() -> list[str]:
    """Env names of every secret setting."""
    return [row.env for row in catalog() if row.secret]


def hydrated_env_names() -> list[str]:
    """Env names fetched from the secret backend (the README's list plus two credentials)."""
    return [row.env for row in catalog() if row.hydrated]


# --------------------------------------------------------------------------------------------
# Validation helpers (work on raw, unparsed values so every problem is found in one pass)


def _present(raw: Mapping[str, Any], env: str) -> bool:
    value = raw.get(env.lower())
    if value is None:
        default = Settings.model_fields[env.lower()].default
        return default is not None and default != ""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return str(value).strip() != "" and not is_placeholder(env, value)


def placeholder(env: str) -> str:
    """The text the env templates hold for a value someone must fill: the error's own words."""
    issuer = ISSUER.get(env)
    return f"set {env} ({issuer})" if issuer else f"set {env}"


def is_placeholder(env: str, value: Any) -> bool:
    """True for a template placeholder left unfilled (`set VAR ...`)."""
    return str(value).strip().startswith(f"set {env}")


def _placeholder_problems(raw: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, value in raw.items():
        if name in Settings.model_fields and value is not None:
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if isinstance(text, str) and is_placeholder(name.upper(), text):
                problems.append(
                    f"{name.upper()} still holds the template placeholder: {placeholder(name.upper())}"
                )
    return problems


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "y", "t")


def _need(env: str, because: str) -> str:
    return f"{env} is required when {because}: {placeholder(env)}"


def _cross_field_problems(raw: Mapping[str, Any]) -> list[str]:
    """Missing credentials for enabled toggles and backends, and values that disagree."""
    problems: list[str] = []
    adapter = str(raw.get("futures_live_adapter") or "ice_rest").strip()
    for toggle, names in TOGGLE_REQUIREMENTS.items():
        if not _truthy(raw.get(toggle.lower(), False)):
            continue
        if toggle == "USE_ICE_LIVE" and adapter == "fnality_repo":
            names = FNALITY_REQUIREMENTS
            because = "USE_ICE_LIVE=1 with FUTURES_LIVE_ADAPTER=fnality_repo"
        else:
            because = f"{toggle}=1"
        problems += [_need(env, because) for env in names if not _present(raw, env)]
    backend = str(raw.get("secrets_backend") or "").strip().lower()
    for env in BACKEND_REQUIREMENTS.get(backend, ()):
        if not _present(raw, env):
            problems.append(_need(env, f"SECRETS_BACKEND={backend}"))
    required = {p.split(" ", 1)[0] for p in problems}
    problems += [p for p in _placeholder_problems(raw) if p.split(" ", 1)[0] not in required]
    problems += _url_problems(raw)
    problems += _limit_problems(raw)
    return problems


_URL_SETTINGS = (
    "POWERLEDGER_API_URL",
    "ICE_API_URL",
    "FNALITY_REPO_API_URL",
    "HARDHAT_RPC",
    "VAULT_ADDR",
    "OIDC_JWKS_URL",
)


def _url_problems(raw: Mapping[str, Any]) -> list[str]:
    problems = []
    for env in _URL_SETTINGS:
        value = raw.get(env.lower())
        if value is None or str(value).strip() == "" or is_placeholder(env, value):
            continue
        parts = urlsplit(str(value).strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            shown = str(value).strip()
            if "@" in parts.netloc:  # never echo credentials embedded in a URL
                shown = shown.replace(parts.netloc.rsplit("@", 1)[0] + "@", "***@")
            problems.append(f"{env} must be an http(s) URL such as https://host:port/path, got {shown!r}")
    return problems


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _limit_problems(raw: Mapping[str, Any]) -> list[str]:
    loan = _decimal_or_none(raw.get("loan_limit_gbp", Settings.model_fields["loan_limit_gbp"].default))
    notional = _decimal_or_none(
        raw.get("max_notional_per_trade", Settings.model_fields["max_notional_per_trade"].default)
    )
    if loan is not None and notional is not None and loan > 0 and notional > loan:
        return [
            f"MAX_NOTIONAL_PER_TRADE ({notional}) must not exceed LOAN_LIMIT_GBP ({loan}): "
            "lower MAX_NOTIONAL_PER_TRADE or raise LOAN_LIMIT_GBP"
        ]
    return []


def _field_problems(exc: ValidationError) -> list[str]:
    """One line per field error, by env name; the input value is shown only for non-secrets."""
    secret = {row.field for row in catalog() if row.secret}
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = err.get("loc") or ()
        field = str(loc[0]) if loc else ""
        env = field.upper() if field else "configuration"
        message = err.get("msg", "invalid value")
        message = message.removeprefix("Value error, ")
        hint = _HINTS.get(field, "")
        if field and field not in secret:
            problems.append(f"{env}: {message}{hint}")
        else:
            problems.append(f"{env}: {message}")
    return problems


_HINTS: dict[str, str] = {
    "trading_window_utc": " (expected HH:MM-HH:MM in UTC, e.g. 05:00-21:00 or 22:00-06:00)",
    "secrets_backend": " (use vault, aws, or leave unset)",
    "futures_live_adapter": " (use ice_rest or fnality_repo)",
    "log_format": " (use text or json)",
}


def _hydrate(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Fill unset secret fields from the configured backend before validation."""
    backend = str(raw.get("secrets_backend") or "").strip().lower()
    if backend not in BACKEND_REQUIREMENTS:
        return raw, []
    if any(not _present(raw, env) for env in BACKEND_REQUIREMENTS[backend]):
        return raw, []  # reported by _cross_field_problems
    from bot.secrets import BackendParams, SecretBackendError, fetch_secrets

    token = raw.get("vault_token")
    params = BackendParams(
        vault_addr=_str_or_none(raw.get("vault_addr")),
        vault_token=token.get_secret_value() if isinstance(token, SecretStr) else _str_or_none(token),
        vault_secret_path=_str_or_none(raw.get("vault_secret_path")),
        vault_mount=_str_or_none(raw.get("vault_mount")) or "secret",
        aws_region=_str_or_none(raw.get("aws_secrets_region")),
        aws_secret_id=_str_or_none(raw.get("aws_secrets_id")),
    )
    wanted = hydrated_env_names()
    try:
        fetched = fetch_secrets(backend, params, wanted)
    except SecretBackendError as exc:
        return raw, [str(exc)]
    merged = dict(raw)
    for env, value in fetched.items():
        if env in wanted and not _present(raw, env) and value not in (None, ""):
            merged[env.lower()] = value
    return merged, []


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def missing_for(env: Mapping[str, str]) -> list[str]:
    """Problems of an env mapping without raising (used by preflight and the operator)."""
    try:
        Settings.from_mapping(env)
    except ConfigError as exc:
        return exc.problems
    return []


def parse_env_file(path: str | Path) -> dict[str, str]:
    """Read a dotenv file into a mapping (comments and blank lines ignored)."""
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def env_names(rows: Iterable[SettingInfo] | None = None) -> list[str]:
    """Every env name the bot reads."""
    return [row.env for row in (rows if rows is not None else catalog())]
