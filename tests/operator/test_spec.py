"""From an ArbitrageBot spec to the bot's environment, validated by the bot's own Settings."""

from __future__ import annotations

from arbitrage_operator.secret_refs import SecretEnv, referenced_secrets
from arbitrage_operator.spec import build_config, validate_spec
from arbitrage_operator.spec_fields import spec_rows, special_paths
from bot.config import Settings, catalog, secret_env_names

ICE_LIVE = {
    "features": {"iceLive": True},
    "ice": {"apiUrl": "https://ice.example.internal", "symbol": "UK-BASE-M1"},
}


def test_an_empty_spec_is_a_valid_simulated_bot() -> None:
    # given no spec at all; when it is mapped; then nothing is wrong and the bot validates as is
    config = build_config("sim", {})
    assert config.problems == ()
    assert Settings.from_mapping(config.env).simulated


def test_spec_fields_become_their_environment_variables() -> None:
    # given limits, a window and a toggle in the spec
    spec = {
        "risk": {"loanLimitGBP": "250000", "maxNotionalPerTrade": 25000, "dailyLossLimitGBP": "1500"},
        "tradingWindow": {"utc": "22:00-06:00", "allowWeekends": True},
        "auth": {"controlPlaneRoles": ["desk-admin", "risk"]},
        "logLevel": "DEBUG",
    }
    # when it is mapped
    env = build_config("b", spec).env
    # then each lands under the name the bot reads
    assert env["LOAN_LIMIT_GBP"] == "250000"
    assert env["MAX_NOTIONAL_PER_TRADE"] == "25000"
    assert env["MAX_DAILY_LOSS_GBP"] == "1500"
    assert env["TRADING_WINDOW_UTC"] == "22:00-06:00"
    assert env["ALLOW_WEEKEND_TRADING"] == "1"
    assert env["CONTROL_PLANE_ROLES"] == "desk-admin,risk"
    assert env["LOG_LEVEL"] == "DEBUG"


def test_the_operator_fixes_ports_data_dir_and_a_loopback_only_exporter() -> None:
    # given any bot; when it is mapped
    env = build_config("desk-1", {}).env
    # then the journal lives on the mounted volume, the API on 8002 and the exporter on loopback
    assert env["DATA_DIR"] == "/var/lib/flash-green"
    assert env["API_PORT"] == "8002"
    assert env["METRICS_HOST"] == "127.0.0.1"
    assert env["BOT_NAME"] == "desk-1"


def test_paused_turns_trading_off() -> None:
    # given a paused bot and a running one; then TRADING_ENABLED is 0 and 1
    assert build_config("b", {"paused": True}).env["TRADING_ENABLED"] == "0"
    assert build_config("b", {"paused": False}).env["TRADING_ENABLED"] == "1"


def test_every_problem_names_the_spec_path_and_the_variable() -> None:
    # given live ICE without URL, symbol or credentials, and the on-chain loan without its settings
    problems = validate_spec("b", {"features": {"iceLive": True, "web3Loan": True}})
    # then each missing value is named both ways
    assert any("spec.ice.apiUrl" in p and "ICE_API_URL" in p for p in problems)
    assert any("spec.ice.symbol" in p and "ICE_SYMBOL" in p for p in problems)
    assert any("spec.secrets.kubernetes.secretName" in p and "ICE_API_KEY" in p for p in problems)
    assert any("ICE_API_SECRET" in p for p in problems)
    assert any("spec.web3.chainId" in p and "CHAIN_ID" in p for p in problems)
    # every adapter is built: nothing is refused for its absence
    assert not any("does not ship" in p for p in problems)
    assert len([p for p in problems if "USE_WEB3_LOAN" in p]) == 5
    assert len(problems) == 9


def test_all_problems_are_reported_at_once() -> None:
    # given three unrelated mistakes
    spec = {
        "tradingWindow": {"utc": "09:00-09:00"},
        "risk": {"loanLimitGBP": "1000", "maxNotionalPerTrade": "5000"},
        "ice": {"apiUrl": "ftp://nope"},
    }
    # then all three are named
    problems = "\n".join(validate_spec("b", spec))
    assert "TRADING_WINDOW_UTC" in problems
    assert "MAX_NOTIONAL_PER_TRADE" in problems
    assert "spec.ice.apiUrl" in problems


def test_money_written_as_a_float_is_refused() -> None:
    # given a limit written as a YAML float; then it is refused with the way to write it
    problems = validate_spec("b", {"risk": {"dailyLossLimitGBP": 500.5}})
    assert problems == [
        'spec.risk.dailyLossLimitGBP (MAX_DAILY_LOSS_GBP): must be written as a string such as "500.5" or an '
        "integer: floating-point numbers are not accepted (money and limits are exact decimals)"
    ]


def test_a_negative_limit_is_refused_by_the_bots_own_rule() -> None:
    # given a negative loss limit; then the bot's own bound is quoted
    problems = validate_spec("b", {"risk": {"dailyLossLimitGBP": "-5"}})
    assert len(problems) == 1
    assert problems[0].startswith("spec.risk.dailyLossLimitGBP: MAX_DAILY_LOSS_GBP")


def test_an_unknown_secret_backend_is_refused() -> None:
    problems = validate_spec("b", {"secrets": {"backend": "consul"}})
    assert problems == [
        "spec.secrets.backend (SECRETS_BACKEND): must be one of kubernetes, vault, aws, got 'consul'"
    ]


def test_the_webhook_view_assumes_referenced_secrets_hold_their_keys() -> None:
    # given live ICE whose credentials come from a named Secret; when judged from the spec alone
    spec = {**ICE_LIVE, "secrets": {"kubernetes": {"secretName": "ice"}}}
    # then no credential is missing (the Secret's keys are checked by the operator, which can read them)
    assert validate_spec("b", spec) == []


def test_a_secret_missing_a_key_is_named_with_the_key() -> None:
    # given a Secret holding only ICE_API_KEY
    spec = {**ICE_LIVE, "secrets": {"kubernetes": {"secretName": "ice"}}}
    config = build_config("b", spec, {"ice": frozenset({"ICE_API_KEY"})})
    # then the missing key is named, the spec needs nothing else, and the present key is wired
    assert len(config.problems) == 1
    assert "Secret 'ice' needs key ICE_API_SECRET" in config.problems[0]
    assert not config.spec_problems
    assert config.secret_env == (
        SecretEnv(
            "ICE_API_KEY", "ice", "ICE_API_KEY", optional=False, path="spec.secrets.kubernetes.secretName"
        ),
    )


def test_a_missing_secret_is_reported() -> None:
    spec = {**ICE_LIVE, "secrets": {"kubernetes": {"secretName": "ice"}}}
    config = build_config("b", spec, {"ice": None})
    assert config.missing_secrets == ("ice",)
    assert config.problems[0].startswith("spec.secrets.kubernetes.secretName: Secret 'ice' not found")


def test_only_credential_keys_of_a_secret_are_wired() -> None:
    # given a Secret with two credentials and an unrelated key
    spec = {"secrets": {"kubernetes": {"secretName": "creds"}}}
    config = build_config("b", spec, {"creds": frozenset({"LENDER_KEY", "API_KEY", "DATA_DIR"})})
    # then the credentials are wired by reference and the unrelated key is not
    assert [s.env for s in config.secret_env] == ["API_KEY", "LENDER_KEY"]


def test_api_key_and_database_url_come_from_their_own_references() -> None:
    spec = {
        "apiKeySecretRef": {"name": "api"},
        "journal": {"databaseUrlSecretRef": {"name": "db", "key": "url"}},
    }
    config = build_config("b", spec, {"api": frozenset({"API_KEY"}), "db": frozenset({"url"})})
    assert config.problems == ()
    assert set(config.secret_env) == {
        SecretEnv("API_KEY", "api", "API_KEY", optional=False, path="spec.apiKeySecretRef"),
        SecretEnv("DATABASE_URL", "db", "url", optional=False, path="spec.journal.databaseUrlSecretRef"),
    }


def test_vault_sets_the_backend_and_takes_its_token_by_reference() -> None:
    # given the Vault backend
    spec = {
        **ICE_LIVE,
        "secrets": {
            "backend": "vault",
            "vault": {
                "address": "https://vault:8200",
                "path": "flash-green",
                "tokenSecretRef": {"name": "vault"},
            },
        },
    }
    config = build_config("b", spec, {"vault": frozenset({"VAULT_TOKEN"})})
    # then the pod is told where to fetch from, and only the token is a Secret reference
    assert not config.problems
    assert config.env["SECRETS_BACKEND"] == "vault"
    assert config.env["VAULT_ADDR"] == "https://vault:8200"
    assert [s.env for s in config.secret_env] == ["VAULT_TOKEN"]


def test_no_secret_variable_ever_lands_in_the_configmap_settings() -> None:
    # given a spec referencing every kind of credential
    spec = {
        **ICE_LIVE,
        "apiKeySecretRef": {"name": "api"},
        "secrets": {"kubernetes": {"secretName": "creds"}},
        "journal": {"databaseUrlSecretRef": {"name": "db"}},
    }
    env = build_config("b", spec).env
    # then none of the secret names is among the plain settings
    assert not set(env) & set(secret_env_names())


def test_a_servicemonitor_needs_the_api_key() -> None:
    problems = validate_spec("b", {"monitoring": {"serviceMonitor": True}})
    assert len(problems) == 1
    assert problems[0].startswith("spec.monitoring.serviceMonitor (API_KEY): needs spec.apiKeySecretRef")


def test_a_name_that_cannot_name_a_service_is_refused() -> None:
    assert validate_spec("Desk_1", {})[0].startswith("metadata.name: 'Desk_1' must be a DNS label")


def test_referenced_secrets_are_listed_once() -> None:
    spec = {"apiKeySecretRef": {"name": "s"}, "secrets": {"kubernetes": {"secretName": "s"}}}
    assert referenced_secrets(spec) == ["s"]


def test_every_spec_path_of_the_settings_table_is_mapped() -> None:
    # given the bot's settings table; then each CRD path is either a plain value or handled by name
    paths = {row.crd for row in catalog() if row.crd}
    plain = {row.crd for row in spec_rows()}
    assert paths == plain | (paths & special_paths())
    assert special_paths() <= paths
