"""The rules between settings, and field errors turned into problems.

They work on the merged raw values (strings as the sources gave them, or values passed in), so that
a malformed field and a missing credential are reported in the same run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError

from bot.config.problems import BY_REFERENCE, ConfigProblem, is_placeholder, placeholder
from bot.config.toggles import BACKEND_REQUIREMENTS, TOGGLES

# Key under which the secret backend source hands its problems to validation (never a field name).
BACKEND_PROBLEMS = "__secret_backend_problems__"

_URL_SETTINGS = (
    "POWERLEDGER_API_URL",
    "ICE_API_URL",
    "FNALITY_REPO_API_URL",
    "HARDHAT_RPC",
    "VAULT_ADDR",
    "OIDC_JWKS_URL",
)

# The on-chain loan's identifiers: two contract addresses and the signing key (USE_WEB3_LOAN).
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_PRIVATE_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_CHAIN_FORMATS = (
    ("FLASH_LOAN_CONTRACT", _ADDRESS, "a contract address: 0x and 40 hex digits"),
    ("FLASH_LOAN_RECEIVER", _ADDRESS, "a contract address: 0x and 40 hex digits"),
    ("LENDER_KEY", _PRIVATE_KEY, "a secp256k1 private key: 64 hex digits, 0x optional"),
)

_HINTS: dict[str, str] = {
    "trading_window_utc": " (expected HH:MM-HH:MM in UTC, e.g. 05:00-21:00 or 22:00-06:00)",
    "secrets_backend": " (use vault, aws, or leave unset)",
    "futures_live_adapter": " (use ice_rest, fnality_repo or ccxt)",
    "powerledger_auth_scheme": " (use bearer or api-key)",
    "log_format": " (use text or json)",
}


@cache
def _fields() -> dict[str, tuple[Any, str | None, bool]]:
    """Field name -> (default, issuer, secret), read once from the settings table."""
    from bot.config.catalog import catalog

    return {row.field: (row.default, row.issuer, row.secret) for row in catalog()}


def issuer_of(env: str) -> str | None:
    """Who issues the value of `env`, as the settings table says."""
    row = _fields().get(env.lower())
    return row[1] if row else None


def present(raw: Mapping[str, Any], env: str) -> bool:
    """Whether `env` has a real value (a default counts; blank and template placeholders do not)."""
    value = raw.get(env.lower())
    if value is None:
        default = _fields()[env.lower()][0]
        return default is not None and default != ""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return str(value).strip() != "" and not is_placeholder(env, value)


def truthy(value: Any) -> bool:
    """A switch's raw value read as pydantic reads booleans."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "y", "t")


def _need(env: str, because: str) -> ConfigProblem:
    issuer = issuer_of(env)
    return ConfigProblem(env, f"{env} is required when {because}: {placeholder(env, issuer)}", issuer)


def cross_field_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    """Missing credentials, toggles without an adapter, placeholders, URLs and limits that disagree."""
    problems = toggle_problems(raw) + backend_requirement_problems(raw)
    named = {p.env for p in problems}
    problems += [p for p in _placeholder_problems(raw) if p.env not in named]
    return problems + _url_problems(raw) + _chain_format_problems(raw) + _limit_problems(raw)


def toggle_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    """For each toggle on: its missing settings, and a refusal when its adapter is not built."""
    problems: list[ConfigProblem] = []
    for toggle in TOGGLES:
        if not truthy(raw.get(toggle.field, False)):
            continue
        selected = str(raw.get(toggle.selector.lower()) or "").strip() if toggle.selector else ""
        route = toggle.route(selected)
        because = toggle.because(selected)
        problems += [_need(env, because) for env in route.requires if not present(raw, env)]
        if route.factory is None:
            problems.append(
                ConfigProblem(
                    toggle.env,
                    f"{because} selects the {route.adapter}, which this version does not ship: "
                    f"set {toggle.env}=0 to trade the simulated markets",
                )
            )
    return problems


def backend_requirement_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    """What the chosen secret backend needs before it can be asked for anything."""
    backend = str(raw.get("secrets_backend") or "").strip().lower()
    return [
        _need(env, f"SECRETS_BACKEND={backend}")
        for env in BACKEND_REQUIREMENTS.get(backend, ())
        if not present(raw, env)
    ]


def _placeholder_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    problems = []
    for name, value in raw.items():
        if name in _fields() and value is not None:
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            env = name.upper()
            if isinstance(text, str) and is_placeholder(env, text):
                issuer = issuer_of(env)
                message = f"{env} still holds the template placeholder: {placeholder(env, issuer)}"
                problems.append(ConfigProblem(env, message, issuer))
    return problems


def _url_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
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
            message = f"{env} must be an http(s) URL such as https://host:port/path, got {shown!r}"
            problems.append(ConfigProblem(env, message, issuer_of(env)))
    return problems


def _chain_format_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    """Addresses and the key in the shape the chain takes; the value itself is never shown."""
    problems = []
    for env, shape, expected in _CHAIN_FORMATS:
        value = raw.get(env.lower())
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or str(value).strip() in ("", BY_REFERENCE) or is_placeholder(env, value):
            continue
        if not shape.fullmatch(str(value).strip()):
            problems.append(ConfigProblem(env, f"{env} must be {expected}", issuer_of(env)))
    return problems


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _limit_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    loan = _decimal_or_none(raw.get("loan_limit_gbp", _fields()["loan_limit_gbp"][0]))
    notional = _decimal_or_none(raw.get("max_notional_per_trade", _fields()["max_notional_per_trade"][0]))
    if loan is not None and notional is not None and loan > 0 and notional > loan:
        message = (
            f"MAX_NOTIONAL_PER_TRADE ({notional}) must not exceed LOAN_LIMIT_GBP ({loan}): "
            "lower MAX_NOTIONAL_PER_TRADE or raise LOAN_LIMIT_GBP"
        )
        return [ConfigProblem("MAX_NOTIONAL_PER_TRADE", message)]
    return []


def field_problems(exc: ValidationError) -> list[ConfigProblem]:
    """One problem per field error, by env name; the input value is shown only for non-secrets."""
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = err.get("loc") or ()
        field = str(loc[0]) if loc else ""
        env = field.upper() if field else ""
        message = err.get("msg", "invalid value").removeprefix("Value error, ")
        secret = field not in _fields() or _fields()[field][2]
        hint = "" if secret else _HINTS.get(field, "")
        problems.append(ConfigProblem(env, f"{env or 'configuration'}: {message}{hint}", issuer_of(env)))
    return problems
