"""The settings of the venues and the loan: the four toggles, each venue's endpoint, identity and
credentials, and the flash loan's contract, key and costs.

`bot.config.declared.SettingFields` extends this class with risk, execution, journal, secrets, API
and logging; pydantic keeps the parent's fields first, so the table's order is unchanged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config.fields import setting


class VenueSettingFields(BaseSettings):
    """The toggles, the venues and the loan, by their environment names (case-insensitive)."""

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
    use_live_feed: bool = setting(
        False, "Consume CCXT live data for the futures leg.", crd="features.liveFeed"
    )
    use_powerledger_live: bool = setting(
        False, "Pull power-leg prices and route orders to Powerledger.", crd="features.powerledgerLive"
    )
    use_ice_live: bool = setting(
        False, "Route the futures leg to the live futures adapter.", crd="features.iceLive"
    )
    use_web3_loan: bool = setting(
        False, "Use the on-chain flash-loan contract instead of the simulated loan.", crd="features.web3Loan"
    )
    paper_trading: bool = setting(
        False,
        "Paper trading: the live books of every leg whose toggle is on, every order filled against "
        "that book by the simulator's execution model, nothing sent to a venue.",
        crd="features.paperTrading",
    )

    # -- every live venue ----------------------------------------------------------------------
    venue_connect_timeout_secs: Decimal = setting(
        Decimal("3"), "Connect timeout of every venue request, s.", crd="venues.connectTimeoutSecs", gt=0
    )
    venue_read_timeout_secs: Decimal = setting(
        Decimal("5"), "Read timeout of every venue request, s.", crd="venues.readTimeoutSecs", gt=0
    )
    venue_read_retries: int = setting(
        3,
        "Attempts of a venue read (books, order status) before it fails; orders are never resent blindly.",
        crd="venues.readRetries",
        ge=1,
        le=10,
    )
    venue_breaker_failures: int = setting(
        5, "Consecutive failures that open a venue's circuit breaker.", crd="venues.breakerFailures", ge=1
    )
    venue_breaker_cooldown_secs: Decimal = setting(
        Decimal("30"),
        "How long an open breaker fails fast before one probe, s.",
        crd="venues.breakerCooldownSecs",
        gt=0,
    )

    # -- CCXT live feed --------------------------------------------------------------------
    live_exchange: str | None = setting(
        None, "CCXT exchange id, e.g. binance.", crd="liveFeed.exchange", issuer="trading desk"
    )
    live_symbol: str | None = setting(
        None, "CCXT market symbol, e.g. BTC/USDT.", crd="liveFeed.symbol", issuer="trading desk"
    )
    live_api_key: SecretStr | None = setting(
        None,
        "Exchange API key.",
        secret=True,
        hydrate=True,
        issuer="issued by the exchange to the trading desk",
    )
    live_api_secret: SecretStr | None = setting(
        None,
        "Exchange API secret.",
        secret=True,
        hydrate=True,
        issuer="issued by the exchange to the trading desk",
    )
    live_api_url: str | None = setting(
        None,
        "One base URL replacing every REST endpoint of the CCXT exchange (a proxy, testnet or test server).",
        crd="liveFeed.apiUrl",
    )
    live_sandbox: bool = setting(
        False, "Use the CCXT exchange's sandbox (testnet) endpoints.", crd="liveFeed.sandbox"
    )
    live_streaming: bool = setting(
        True,
        "Stream the CCXT book (watch_order_book) where the exchange offers it; 0 forces REST polling.",
        crd="liveFeed.streaming",
    )

    # -- Powerledger (power leg) -----------------------------------------------------------
    powerledger_api_url: str | None = setting(
        None, "Powerledger trading API base URL.", crd="powerledger.apiUrl", issuer="Powerledger ops"
    )
    powerledger_api_token: SecretStr | None = setting(
        None,
        "Org-scoped Powerledger token (Authorization: Bearer, or X-PL-API-Key; see POWERLEDGER_AUTH_SCHEME).",
        secret=True,
        hydrate=True,
        issuer="org-scoped bearer issued by Powerledger ops",
    )
    powerledger_org: str | None = setting(
        None, "Trading org/desk id on every order.", crd="powerledger.org", issuer="trading desk"
    )
    powerledger_market: str | None = setting(
        None,
        "Market code of the physical leg, e.g. uk-grid-24h-ahead.",
        crd="powerledger.market",
        issuer="trading desk",
    )

    powerledger_auth_scheme: Literal["bearer", "api-key"] = setting(
        "bearer",
        "How the Powerledger token is sent: bearer (Authorization: Bearer) or api-key (X-PL-API-Key, "
        "as the original code sent it).",
        crd="powerledger.authScheme",
    )

    # -- futures leg: ICE REST, the Fnality/HQLAx repo venue, or a CCXT exchange ----------------
    futures_live_adapter: Literal["ice_rest", "fnality_repo", "ccxt"] = setting(
        "ice_rest", "Live futures adapter used when USE_ICE_LIVE=1.", crd="ice.adapter"
    )
    ice_api_url: str | None = setting(None, "ICE REST API base URL.", crd="ice.apiUrl", issuer="infra")
    ice_api_key: SecretStr | None = setting(
        None,
        "ICE API key (X-API-KEY).",
        secret=True,
        hydrate=True,
        issuer="issued by ICE to the trading desk",
    )
    ice_api_secret: SecretStr | None = setting(
        None,
        "ICE API secret (X-API-SECRET).",
        secret=True,
        hydrate=True,
        issuer="issued by ICE to the trading desk",
    )
    ice_symbol: str | None = setting(
        None,
        "ICE futures symbol, e.g. the contract the desk trades this quarter.",
        crd="ice.symbol",
        issuer="trading desk",
    )
    fnality_repo_api_url: str | None = setting(
        None, "Repo venue API base URL.", crd="ice.fnality.apiUrl", issuer="infra"
    )
    fnality_repo_api_token: SecretStr | None = setting(
        None,
        "Repo venue bearer token.",
        secret=True,
        hydrate=True,
        issuer="issued by the repo venue to the trading desk",
    )
    fnality_repo_market: str | None = setting(
        None, "Repo venue market code.", crd="ice.fnality.market", issuer="trading desk"
    )

    # -- flash loan ------------------------------------------------------------------------
    flash_loan_contract: SecretStr | None = setting(
        None,
        "Deployed flash-loan lender contract address.",
        secret=True,
        hydrate=True,
        issuer="the deployed flash-loan contract address, from infra",
    )
    flash_loan_receiver: SecretStr | None = setting(
        None,
        "Deployed receiver contract address.",
        secret=True,
        hydrate=True,
        issuer="the deployed receiver contract address, from infra",
    )
    lender_key: SecretStr | None = setting(
        None,
        "Custodied signing key of the lender wallet.",
        secret=True,
        hydrate=True,
        issuer="custodied signing key, from infra",
    )
    hardhat_rpc: str | None = setting(
        None, "JSON-RPC endpoint of the chain.", crd="web3.rpcUrl", issuer="infra"
    )
    chain_id: int | None = setting(
        None,
        "Chain id the JSON-RPC node must report; the bot refuses to start on any other chain.",
        crd="web3.chainId",
        ge=1,
        issuer="infra",
    )
    chain_max_fee_gwei: Decimal = setting(
        Decimal("100"),
        "Cap on the EIP-1559 max fee per gas of a loan transaction, gwei.",
        crd="web3.maxFeeGwei",
        gt=0,
        override="lower",
    )
    chain_gas_limit: int = setting(
        600_000,
        "Cap on the gas of a loan transaction: estimated first, refused when the estimate exceeds it.",
        crd="web3.gasLimit",
        ge=21_000,
        override="lower",
    )
    chain_receipt_timeout_secs: Decimal = setting(
        Decimal("30"),
        "How long to wait for a loan transaction to be mined before it is replaced at a higher fee.",
        crd="web3.receiptTimeoutSecs",
        gt=0,
    )
    loan_fee_bp: Decimal = setting(
        Decimal("9"),
        "Flash-loan fee in basis points of the amount drawn.",
        crd="risk.loanFeeBp",
        ge=0,
        override="higher",
    )
    gas_cost_gbp: Decimal = setting(
        Decimal("0.50"),
        "Expected gas cost of one loan cycle, GBP.",
        crd="risk.gasCostGBP",
        ge=0,
        override="higher",
    )
