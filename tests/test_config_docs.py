"""The settings table is one fact: docs/configuration.md and the env templates follow Settings."""

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, catalog, is_placeholder, parse_env_file
from bot.config.toggles import trading_mode
from bot.settings_doc import render_markdown

REPO = Path(__file__).resolve().parents[1]


def test_config_docs_page_is_generated_from_settings() -> None:
    on_disk = (REPO / "docs" / "configuration.md").read_text()
    assert on_disk == render_markdown(), "regenerate: flash-green settings --markdown > docs/configuration.md"


def test_config_every_design_variable_is_a_setting() -> None:
    names = {row.env for row in catalog()}
    design = """
        USE_LIVE_FEED USE_POWERLEDGER_LIVE USE_ICE_LIVE USE_WEB3_LOAN LIVE_EXCHANGE LIVE_SYMBOL
        LIVE_API_KEY LIVE_API_SECRET POWERLEDGER_API_URL POWERLEDGER_API_TOKEN POWERLEDGER_ORG
        POWERLEDGER_MARKET ICE_API_URL ICE_API_KEY ICE_API_SECRET ICE_SYMBOL FLASH_LOAN_CONTRACT
        FLASH_LOAN_RECEIVER LENDER_KEY HARDHAT_RPC LOAN_LIMIT_GBP TRADING_WINDOW_UTC
        ALLOW_WEEKEND_TRADING API_KEY METRICS_PORT SECRETS_BACKEND VAULT_ADDR VAULT_TOKEN
        VAULT_SECRET_PATH AWS_SECRETS_REGION AWS_SECRETS_ID DATABASE_URL MAX_NOTIONAL_PER_TRADE
        MAX_DAILY_LOSS_GBP TRADING_ENABLED KELLY_BANK_GBP API_PORT LOG_LEVEL ORDER_TIMEOUT_SECS
        ORDER_POLL_INTERVAL USE_DEPTH_SIM EXEC_LATENCY_MS SLIPPAGE_BP BOOK_LEVELS BOOK_SIZE_MWH
        FUTURES_LIVE_ADAPTER FNALITY_REPO_API_URL FNALITY_REPO_API_TOKEN FNALITY_REPO_MARKET
        OIDC_ISSUER OIDC_AUDIENCE OIDC_JWKS_URL OIDC_ALLOWED_ALGORITHMS CONTROL_PLANE_ROLES
        REQUIRE_HTTPS
    """.split()
    assert sorted(set(design) - names) == []


def test_config_original_defaults_are_kept() -> None:
    s = Settings.from_mapping({})
    assert (s.max_notional_per_trade, s.max_daily_loss_gbp, s.kelly_bank_gbp, s.loan_limit_gbp) == (
        10000,
        500,
        50000,
        100000,
    )
    assert s.trading_enabled and not s.allow_weekend_trading and s.trading_window_utc == "05:00-21:00"
    assert (s.metrics_port, s.api_port, s.order_timeout_secs, s.exec_latency_ms) == (8000, 8002, 30, 100)
    assert (s.slippage_bp, s.book_levels, s.book_size_mwh) == (5, 5, 100)
    # the original's ICE_SYMBOL (an expired contract) and HARDHAT_RPC (loopback) were defaults; a
    # toggle's required settings have none, as its README's table says
    assert s.ice_symbol is None and s.hardhat_rpc is None
    assert s.futures_live_adapter == "ice_rest" and str(s.order_poll_interval) == "1.0"


@pytest.mark.parametrize("template", ["env.staging.example", "env.production.example"])
def test_config_template_names_only_real_settings(template: str) -> None:
    names = {row.env for row in catalog()}
    values = parse_env_file(REPO / template)
    assert set(values) <= names, set(values) - names


@pytest.mark.parametrize("template", ["env.staging.example", "env.production.example"])
def test_config_template_placeholders_are_the_validation_errors_words(template: str) -> None:
    values = parse_env_file(REPO / template)
    placeholders = {k: v for k, v in values.items() if is_placeholder(k, v)}
    assert placeholders, "a template without placeholders tells nobody what to fill"
    with pytest.raises(ConfigError) as err:
        Settings.from_mapping(values)
    message = str(err.value)
    for value in placeholders.values():
        assert value in message


def test_config_staging_template_filled_in_is_valid() -> None:
    values = parse_env_file(REPO / "env.staging.example")
    values.update(VAULT_ADDR="https://vault.internal:8200", VAULT_TOKEN="s.token")
    settings = Settings.from_mapping(values)  # no backend contacted: hydrate=False
    assert settings.secrets_backend == "vault" and settings.simulated


def test_config_production_template_filled_in_is_accepted() -> None:
    values = parse_env_file(REPO / "env.production.example")
    fill = {
        "LIVE_EXCHANGE": "binance",
        "LIVE_SYMBOL": "BTC/USDT",
        "LIVE_API_KEY": "k",
        "LIVE_API_SECRET": "s",
        "POWERLEDGER_API_TOKEN": "t",
        "POWERLEDGER_ORG": "desk-7",
        "ICE_API_URL": "https://ice.example.test",
        "ICE_API_KEY": "k",
        "ICE_API_SECRET": "s",
        "FLASH_LOAN_CONTRACT": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "FLASH_LOAN_RECEIVER": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
        "LENDER_KEY": "0x" + "7a3e" * 16,
        "HARDHAT_RPC": "https://rpc.example.test",
        "CHAIN_ID": "7777",
        "AWS_SECRETS_REGION": "eu-west-2",
        "AWS_SECRETS_ID": "flash-green/prod",
        "DATABASE_URL": "postgresql+psycopg://bot@db:5432/journal",
    }
    values.update(fill)
    # when the settings are built, then every toggle the template turns on has its adapter
    settings = Settings.from_mapping(values)
    assert settings.use_web3_loan and settings.chain_id == 7777
    assert trading_mode(settings) == "live"
