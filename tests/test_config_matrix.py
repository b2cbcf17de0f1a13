"""The configuration matrix: toggles x credentials, every documented name, malformed values, secrecy.

Every test goes through `bot.config.Settings` as the bot builds it (process environment, `.env`
file, validation), so what passes here is what a user sees at start-up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
import typing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.config import (
    FNALITY_REQUIREMENTS,
    TOGGLE_REQUIREMENTS,
    ConfigError,
    SettingInfo,
    Settings,
    catalog,
)
from bot.config.toggles import trading_mode
from tests.fixtures.config_problems import BUILT_TOGGLES, UNBUILT_TOGGLES, other_problems, unbuilt_toggles
from tests.fixtures.secret_backends import (
    FNALITY_SETTINGS,
    TOGGLE_SETTINGS,
    VAULT_TEST_TOKEN,
    VaultKvServer,
)

TOGGLES = list(TOGGLE_REQUIREMENTS)
ALL_SECRET_VALUES = [
    value
    for settings in [*TOGGLE_SETTINGS.values(), FNALITY_SETTINGS]
    for env, value in settings.items()
    if env in {row.env for row in catalog() if row.secret}
]


@pytest.fixture(autouse=True)
def _isolated(isolated_config_env: pytest.MonkeyPatch) -> None:
    """No variable of the developer's shell and no stray .env reaches these tests."""


def _set(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def _make_missing(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    """Unset a variable; one with a default is set empty, which is how a user blanks it."""
    monkeypatch.delenv(env, raising=False)
    if Settings.model_fields[env.lower()].default is not None:
        monkeypatch.setenv(env, "")


def _build_error() -> ConfigError:
    with pytest.raises(ConfigError) as excinfo:
        Settings()
    return excinfo.value


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


# -- toggles with full credentials -----------------------------------------------------------------


def test_config_catalog_covers_every_toggle_requirement() -> None:
    # given the requirement table and the settings table
    names = {row.env for row in catalog()}
    # then every required name is a setting and the matrix below knows a value for it
    for toggle, required in TOGGLE_REQUIREMENTS.items():
        assert toggle in names
        assert set(required) == set(TOGGLE_SETTINGS[toggle])
    assert set(FNALITY_REQUIREMENTS) == set(FNALITY_SETTINGS)


def test_config_every_toggle_has_its_adapter() -> None:
    # given the toggle table of this version
    # then the three venue toggles and the on-chain loan all have their adapters
    assert BUILT_TOGGLES == ["USE_ICE_LIVE", "USE_LIVE_FEED", "USE_POWERLEDGER_LIVE", "USE_WEB3_LOAN"]
    assert UNBUILT_TOGGLES == []


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("FLASH_LOAN_CONTRACT", "0xabc", "0x and 40 hex digits"),
        ("FLASH_LOAN_RECEIVER", "lender.eth", "0x and 40 hex digits"),
        ("LENDER_KEY", "0x01-not-a-key", "64 hex digits"),
    ],
)
def test_config_a_malformed_chain_identifier_is_named_and_never_echoed(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, expected: str
) -> None:
    # given the on-chain loan on, with one identifier in the wrong shape
    _set(monkeypatch, {"USE_WEB3_LOAN": "1", **TOGGLE_SETTINGS["USE_WEB3_LOAN"], env: value})
    # when the settings are built
    error = _build_error()
    # then that setting is named with the shape it needs, and the value is not repeated
    assert [p.env for p in error.problems] == [env]
    assert expected in str(error) and value not in str(error)


@pytest.mark.parametrize("toggle", BUILT_TOGGLES)
def test_config_each_built_toggle_alone_with_full_credentials_is_accepted(
    monkeypatch: pytest.MonkeyPatch, toggle: str
) -> None:
    # given one venue toggle on with every credential it requires
    _set(monkeypatch, {toggle: "1", **TOGGLE_SETTINGS[toggle]})
    # when the settings are built
    settings = Settings()
    # then they are valid, the toggle is on and the bot is no longer simulated
    assert getattr(settings, toggle.lower()) is True
    assert settings.simulated is False


def test_config_all_toggles_together_with_full_credentials_are_accepted_and_live(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given every toggle on with every credential, paper trading off
    for toggle in TOGGLES:
        _set(monkeypatch, {toggle: "true", **TOGGLE_SETTINGS[toggle]})
    monkeypatch.setenv("PAPER_TRADING", "0")
    # when the settings are built
    settings = Settings()
    # then every adapter is built and the bot trades live
    assert trading_mode(settings) == "live"


def test_config_no_toggle_means_simulated(monkeypatch: pytest.MonkeyPatch) -> None:
    # given an empty environment
    # when the settings are built
    settings = Settings()
    # then the bot runs simulated markets
    assert settings.simulated is True


# -- credentials missing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toggle", "missing"),
    [(toggle, env) for toggle, names in TOGGLE_REQUIREMENTS.items() for env in names],
)
def test_config_each_missing_credential_is_named_with_its_toggle(
    monkeypatch: pytest.MonkeyPatch, toggle: str, missing: str
) -> None:
    # given a toggle on with all its credentials but one
    _set(monkeypatch, {toggle: "1", **TOGGLE_SETTINGS[toggle]})
    _make_missing(monkeypatch, missing)
    # when the settings are built
    error = _build_error()
    # then exactly one problem names exactly that variable and the toggle
    problems = other_problems(error)
    assert len(problems) == 1
    assert problems[0].startswith(f"{missing} is required when {toggle}=1")
    for other in TOGGLE_REQUIREMENTS[toggle]:
        if other != missing:
            assert other not in str(error)


def test_config_all_missing_credentials_are_listed_in_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # given every toggle on and no credential at all (defaults blanked too)
    required = [env for names in TOGGLE_REQUIREMENTS.values() for env in names]
    _set(monkeypatch, dict.fromkeys(TOGGLES, "1"))
    for env in required:
        _make_missing(monkeypatch, env)
    # when the settings are built
    error = _build_error()
    # then the single error names every one of them, one problem each
    for env in required:
        assert sum(problem.startswith(f"{env} is required") for problem in other_problems(error)) == 1, env
    assert len(other_problems(error)) == len(required)


def test_config_missing_credential_error_says_who_issues_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # given USE_ICE_LIVE on without the ICE secret
    _set(monkeypatch, {"USE_ICE_LIVE": "1", **TOGGLE_SETTINGS["USE_ICE_LIVE"]})
    monkeypatch.delenv("ICE_API_SECRET")
    # when the settings are built
    error = _build_error()
    # then the problem tells the user what to set and who issues it
    assert "set ICE_API_SECRET (issued by ICE to the trading desk)" in other_problems(error)[0]


def test_config_ice_live_with_fnality_adapter_needs_fnality_not_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    # given USE_ICE_LIVE with the repo adapter, repo credentials and no ICE credential at all
    _set(monkeypatch, {"USE_ICE_LIVE": "1", "FUTURES_LIVE_ADAPTER": "fnality_repo", **FNALITY_SETTINGS})
    # when the settings are built
    settings = Settings()
    # then no ICE credential is asked for: the repo adapter is selected with its own settings
    assert settings.futures_live_adapter == "fnality_repo"
    assert settings.ice_api_key is None


@pytest.mark.parametrize("missing", FNALITY_REQUIREMENTS)
def test_config_ice_live_with_fnality_adapter_names_each_missing_fnality_setting(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    # given USE_ICE_LIVE with the repo adapter, full ICE credentials, one repo setting missing
    _set(
        monkeypatch,
        {
            "USE_ICE_LIVE": "1",
            "FUTURES_LIVE_ADAPTER": "fnality_repo",
            **TOGGLE_SETTINGS["USE_ICE_LIVE"],
            **FNALITY_SETTINGS,
        },
    )
    _make_missing(monkeypatch, missing)
    # when the settings are built
    error = _build_error()
    # then only the repo setting is named, with the adapter as the reason
    assert len(other_problems(error)) == 1
    assert other_problems(error)[0].startswith(
        f"{missing} is required when USE_ICE_LIVE=1 with FUTURES_LIVE_ADAPTER=fnality_repo"
    )


def test_config_ice_live_with_fnality_adapter_never_asks_for_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    # given USE_ICE_LIVE with the repo adapter and nothing else
    _set(monkeypatch, {"USE_ICE_LIVE": "1", "FUTURES_LIVE_ADAPTER": "fnality_repo"})
    # when the settings are built
    error = _build_error()
    # then every FNALITY_* setting is asked for and no ICE_* one
    assert sorted(p.split(" ", 1)[0] for p in other_problems(error)) == sorted(FNALITY_REQUIREMENTS)


# -- every documented name is read -----------------------------------------------------------------

_URL_LIKE = {
    "POWERLEDGER_API_URL",
    "ICE_API_URL",
    "FNALITY_REPO_API_URL",
    "HARDHAT_RPC",
    "VAULT_ADDR",
    "OIDC_JWKS_URL",
}
_SPECIAL: dict[str, tuple[str, Any]] = {
    "TRADING_WINDOW_UTC": ("22:00-06:00", "22:00-06:00"),
    "DATABASE_URL": ("postgresql+psycopg://bot@db.example.test/journal",) * 2,
    "API_HOST": ("127.0.0.1",) * 2,
    "METRICS_HOST": ("127.0.0.1",) * 2,
    "OIDC_ALLOWED_ALGORITHMS": ("RS256,ES256", ["RS256", "ES256"]),
    "SIM_FAULTS": ("futures_reject=0.02,partial_fill=0.05", ["futures_reject=0.02", "partial_fill=0.05"]),
    "SIM_KILL_AT": ("power-unwind:after",) * 2,
    "CONTROL_PLANE_RATE_LIMIT": ("5/second",) * 2,
    "AUTH_FAILURE_RATE_LIMIT": ("100/hour",) * 2,
    "CHAIN_ID": ("31337", 31337),
    "FLASH_LOAN_CONTRACT": ("0x5FbDB2315678afecb367f032d93F642f64180aa3",) * 2,
    "FLASH_LOAN_RECEIVER": ("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",) * 2,
    "LENDER_KEY": ("0x" + "5d1e" * 16,) * 2,
}


def _non_default(row: SettingInfo, tmp_path: Path, vault: VaultKvServer | None) -> tuple[dict[str, str], Any]:
    """A valid, non-default value for one setting (plus what it needs), and the value expected."""
    env = row.env
    if env in TOGGLE_SETTINGS:
        return {env: "1", **TOGGLE_SETTINGS[env]}, True
    if env == "SECRETS_BACKEND":
        assert vault is not None
        vault.put("flash-green", {})
        return {
            env: "vault",
            "VAULT_ADDR": vault.addr,
            "VAULT_TOKEN": VAULT_TEST_TOKEN,
            "VAULT_SECRET_PATH": "flash-green",
        }, "vault"
    if env in _SPECIAL:
        text, expected = _SPECIAL[env]
        return {env: text}, expected
    annotation = Settings.model_fields[row.field].annotation
    kind: Any = annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # X | None
        kind = next(a for a in typing.get_args(annotation) if a is not type(None))
    if kind is bool:
        return {env: "0" if row.default else "1"}, not row.default
    if kind is int:
        return {env: str(row.default + 1)}, row.default + 1
    if kind is Decimal:
        return {env: str(row.default + 1)}, row.default + 1
    if kind is SecretStr:
        return {env: f"{env.lower()}-value-7c1"}, f"{env.lower()}-value-7c1"
    if kind is Path:
        (tmp_path / "journal-dir").mkdir(exist_ok=True)
        return {env: str(tmp_path / "journal-dir")}, tmp_path / "journal-dir"
    if typing.get_origin(kind) is list:
        return {env: "alpha,beta"}, ["alpha", "beta"]
    if typing.get_origin(kind) is typing.Literal:
        choice = next(a for a in typing.get_args(kind) if a != row.default)
        return {env: str(choice)}, choice
    if kind is str:
        if env in _URL_LIKE:
            return {env: "https://example.test:8443/path"}, "https://example.test:8443/path"
        return {env: f"{env.lower()}-value"}, f"{env.lower()}-value"
    raise AssertionError(f"no non-default test value for {env} of type {annotation}: add one to _SPECIAL")


@pytest.mark.parametrize("row", catalog(), ids=lambda row: row.env)
def test_config_every_documented_name_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest, row: SettingInfo
) -> None:
    # given the documented variable set to a valid value that is not its default
    vault = request.getfixturevalue("vault_kv") if row.env == "SECRETS_BACKEND" else None
    values, expected = _non_default(row, tmp_path, vault)
    assert expected != row.default
    _set(monkeypatch, values)
    if row.env in UNBUILT_TOGGLES:
        # when the settings are built, then the toggle was read: its missing adapter is refused
        assert unbuilt_toggles(_build_error()) == {row.env}
        return
    # when the settings are built
    settings = Settings()
    # then the field carries that value (a name documented but never read would keep its default)
    assert _plain(getattr(settings, row.field)) == expected


def test_config_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a variable written in lower case
    monkeypatch.setenv("loan_limit_gbp", "250000")
    # when the settings are built
    settings = Settings()
    # then it is read
    assert settings.loan_limit_gbp == Decimal("250000")


# -- list settings -----------------------------------------------------------------------------------

_LIST_SETTINGS = [
    row for row in catalog() if typing.get_origin(Settings.model_fields[row.field].annotation) is list
]


@pytest.mark.parametrize("row", _LIST_SETTINGS, ids=lambda row: row.env)
def test_config_list_settings_accept_comma_separated_values(
    monkeypatch: pytest.MonkeyPatch, row: SettingInfo
) -> None:
    # given a list setting written as a,b with stray spaces and a trailing comma
    value = {
        "OIDC_ALLOWED_ALGORITHMS": "RS256, ES256,",
        "SIM_FAULTS": "power_reject=0.01, partial_fill=0.05,",
    }.get(row.env, "trading-admin, ops-desk,")
    monkeypatch.setenv(row.env, value)
    # when the settings are built
    settings = Settings()
    # then it is a clean list of both items
    assert getattr(settings, row.field) == [item.strip() for item in value.split(",") if item.strip()]


def test_config_list_setting_with_one_item_is_a_list_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a single role
    monkeypatch.setenv("CONTROL_PLANE_ROLES", "ops")
    # when the settings are built
    # then it is a one-element list
    assert Settings().control_plane_roles == ["ops"]


# -- malformed values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"TRADING_WINDOW_UTC": "25:00-06:00"}, "TRADING_WINDOW_UTC"),
        ({"TRADING_WINDOW_UTC": "morning"}, "TRADING_WINDOW_UTC"),
        ({"LOAN_LIMIT_GBP": "-5"}, "LOAN_LIMIT_GBP"),
        ({"LOAN_LIMIT_GBP": "lots"}, "LOAN_LIMIT_GBP"),
        ({"MAX_NOTIONAL_PER_TRADE": "150000"}, "MAX_NOTIONAL_PER_TRADE"),
        ({"LOAN_LIMIT_GBP": "5000"}, "LOAN_LIMIT_GBP"),
        ({"ICE_API_URL": "ice.example.test/v1"}, "ICE_API_URL"),
        ({"HARDHAT_RPC": "ws//127.0.0.1:8545"}, "HARDHAT_RPC"),
        ({"VAULT_ADDR": "vault:8200"}, "VAULT_ADDR"),
        ({"API_PORT": "80800"}, "API_PORT"),
        ({"USE_LIVE_FEED": "maybe"}, "USE_LIVE_FEED"),
        ({"SECRETS_BACKEND": "consul"}, "SECRETS_BACKEND"),
        ({"FUTURES_LIVE_ADAPTER": "cme"}, "FUTURES_LIVE_ADAPTER"),
        ({"OIDC_ALLOWED_ALGORITHMS": "RS256,none"}, "OIDC_ALLOWED_ALGORITHMS"),
    ],
    ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_config_malformed_value_gives_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], named: str
) -> None:
    # given one malformed value
    _set(monkeypatch, values)
    # when the settings are built
    error = _build_error()
    # then a ConfigError (a ValueError) names the variable, with no traceback or library text chained
    assert isinstance(error, ValueError)
    assert any(named in problem for problem in error.messages), error.messages
    assert error.__cause__ is None
    assert error.__suppress_context__ or error.__context__ is None
    assert "Traceback" not in str(error)
    assert "pydantic" not in str(error).lower()


def test_config_notional_above_loan_limit_names_both_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a per-trade notional above the loan limit
    _set(monkeypatch, {"LOAN_LIMIT_GBP": "20000", "MAX_NOTIONAL_PER_TRADE": "25000"})
    # when the settings are built
    error = _build_error()
    # then the problem names both values and what to change
    assert error.messages == [
        "MAX_NOTIONAL_PER_TRADE (25000) must not exceed LOAN_LIMIT_GBP (20000): "
        "lower MAX_NOTIONAL_PER_TRADE or raise LOAN_LIMIT_GBP"
    ]


def test_config_several_malformed_values_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    # given three unrelated mistakes and a toggle missing a credential
    _set(
        monkeypatch,
        {
            "TRADING_WINDOW_UTC": "25:00-06:00",
            "LOAN_LIMIT_GBP": "-1",
            "ICE_API_URL": "not a url",
            "USE_LIVE_FEED": "1",
        },
    )
    # when the settings are built
    error = _build_error()
    # then one error lists all of them
    message = str(error)
    for name in ("TRADING_WINDOW_UTC", "LOAN_LIMIT_GBP", "ICE_API_URL", "LIVE_API_KEY", "LIVE_SYMBOL"):
        assert name in message


@pytest.mark.parametrize("window", ["22:00-06:00", "21:30-04:15", "00:00-24:00"])
def test_config_overnight_and_all_day_windows_are_accepted(
    monkeypatch: pytest.MonkeyPatch, window: str
) -> None:
    # given a window that spans midnight (or the whole day)
    monkeypatch.setenv("TRADING_WINDOW_UTC", window)
    # when the settings are built
    settings = Settings()
    # then it is open just after midnight UTC
    assert settings.trading_window.is_open(datetime(2025, 3, 4, 0, 30, tzinfo=UTC))


def test_config_overnight_window_is_closed_at_midday(monkeypatch: pytest.MonkeyPatch) -> None:
    # given the 22:00-06:00 window
    monkeypatch.setenv("TRADING_WINDOW_UTC", "22:00-06:00")
    # when the settings are built
    settings = Settings()
    # then it is closed at noon UTC
    assert not settings.trading_window.is_open(datetime(2025, 3, 4, 12, 0, tzinfo=UTC))


# -- .env files ------------------------------------------------------------------------------------


def test_config_env_file_passed_to_settings_is_loaded(tmp_path: Path) -> None:
    # given an env file elsewhere holding venue credentials and a limit
    env_file = tmp_path / "staging.env"
    lines = ["# staging", "LOAN_LIMIT_GBP=250000"]
    lines += [f"{k}={v}" for k, v in TOGGLE_SETTINGS["USE_ICE_LIVE"].items()]
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # when the settings are built from that path
    settings = Settings(env_file)
    # then its values are in effect
    assert settings.ice_symbol == TOGGLE_SETTINGS["USE_ICE_LIVE"]["ICE_SYMBOL"]
    assert settings.loan_limit_gbp == Decimal("250000")
    assert _plain(settings.ice_api_secret) == TOGGLE_SETTINGS["USE_ICE_LIVE"]["ICE_API_SECRET"]


def test_config_dot_env_in_the_working_directory_is_loaded_by_default() -> None:
    # given a .env in the working directory
    Path(".env").write_text("MAX_DAILY_LOSS_GBP=750\n", encoding="utf-8")
    # when the settings are built without a path
    settings = Settings()
    # then it was read
    assert settings.max_daily_loss_gbp == Decimal("750")


def test_config_environment_wins_over_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # given the same variable in the file and in the process environment
    env_file = tmp_path / "prod.env"
    env_file.write_text("MAX_DAILY_LOSS_GBP=750\n", encoding="utf-8")
    monkeypatch.setenv("MAX_DAILY_LOSS_GBP", "300")
    # when the settings are built from the file
    settings = Settings(env_file)
    # then the environment's value is in effect
    assert settings.max_daily_loss_gbp == Decimal("300")


def test_config_env_file_problems_are_reported_like_environment_ones(tmp_path: Path) -> None:
    # given an env file with a malformed window
    env_file = tmp_path / "bad.env"
    env_file.write_text("TRADING_WINDOW_UTC=25:00-06:00\n", encoding="utf-8")
    # when the settings are built from it
    with pytest.raises(ConfigError) as excinfo:
        Settings(env_file)
    # then the variable is named
    assert any(p.startswith("TRADING_WINDOW_UTC") for p in excinfo.value.messages)


# -- secrets stay secret -----------------------------------------------------------------------------


def _every_secret_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for toggle in TOGGLES:
        _set(monkeypatch, TOGGLE_SETTINGS[toggle])
    _set(monkeypatch, {"API_KEY": "api-key-secret-3f9e", "DATABASE_PASSWORD": "db-password-secret-a0c4"})


def test_config_secret_values_never_in_repr_or_public_view(monkeypatch: pytest.MonkeyPatch) -> None:
    # given every secret set
    _every_secret_set(monkeypatch)
    # when the settings are built and printed
    settings = Settings()
    shown = [repr(settings), str(settings), str(settings.public_view()), str(settings.model_dump())]
    # then no secret value appears anywhere
    for text in shown:
        for value in [*ALL_SECRET_VALUES, "api-key-secret-3f9e", "db-password-secret-a0c4"]:
            assert value not in text


def test_config_secret_values_never_in_error_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # given every secret set, every toggle on and the configuration invalid elsewhere
    _every_secret_set(monkeypatch)
    _set(monkeypatch, dict.fromkeys(TOGGLES, "1"))
    _set(monkeypatch, {"LOAN_LIMIT_GBP": "-1", "TRADING_WINDOW_UTC": "99:99-00:00", "ICE_API_URL": "nope"})
    # when the settings are built
    error = _build_error()
    # then the problems are reported and no secret value appears
    for value in [*ALL_SECRET_VALUES, "api-key-secret-3f9e", "db-password-secret-a0c4"]:
        assert value not in str(error)
        assert value not in repr(error)


@pytest.mark.parametrize("env", [row.env for row in catalog() if row.secret])
def test_config_malformed_secret_value_is_named_but_never_shown(env: str) -> None:
    # given a secret setting given a value of the wrong shape (a mapping instead of text)
    leaked = f"malformed-{env.lower()}-9d8e"
    # when the settings are validated
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_mapping({env: {"nested": leaked}})  # type: ignore[dict-item]
    # then the variable is named and the value is not shown
    assert any(problem.startswith(env) for problem in excinfo.value.messages)
    assert leaked not in str(excinfo.value)


def test_config_secret_holding_a_template_placeholder_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a credential still holding the env template's placeholder text
    _set(monkeypatch, {"USE_LIVE_FEED": "1", **TOGGLE_SETTINGS["USE_LIVE_FEED"]})
    monkeypatch.setenv("LIVE_API_SECRET", "set LIVE_API_SECRET (issued by the exchange to the trading desk)")
    # when the settings are built
    error = _build_error()
    # then the credential is reported as missing
    assert [p.split(" ", 1)[0] for p in other_problems(error)] == ["LIVE_API_SECRET"]


# -- nothing at import time --------------------------------------------------------------------------


def test_config_import_has_no_side_effect_even_with_a_broken_environment(tmp_path: Path) -> None:
    # given an environment and a .env that are both invalid
    (tmp_path / ".env").write_text("TRADING_WINDOW_UTC=garbage\nUSE_ICE_LIVE=1\n", encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.upper().startswith(("AWS_", "VAULT_"))},
        "LOAN_LIMIT_GBP": "-1",
        "SECRETS_BACKEND": "vault",
        "VAULT_ADDR": "http://127.0.0.1:9",
        "VAULT_TOKEN": "hvs.import-time-token",
        "VAULT_SECRET_PATH": "flash-green",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    code = (
        "import sys, bot.config, bot.secrets\n"
        "loaded = sorted(m for m in ('hvac', 'boto3', 'botocore', 'requests') if m in sys.modules)\n"
        "print('loaded:', loaded)\n"
    )
    # when bot.config and bot.secrets are imported
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    # then the import succeeds, reads nothing, connects nowhere, and loads no backend client
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded: []"
