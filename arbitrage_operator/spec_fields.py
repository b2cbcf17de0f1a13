"""The spec ↔ environment mapping: which spec field sets which bot setting, and how.

The table is `bot.config.catalog()`: each row names a setting's environment variable and, when
the spec sets it, its path in the spec (`crd`). Most paths hold the setting's value as is
(`spec_rows()`, converted by `env_value()`). Five fields are not plain values and are listed
once, in `SPECIAL_FIELDS`: the kill switch, the secret backend and the three Secret references.
The spec builder, the CRD, the status, the manifests and the docs all read them from here.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from bot.config import SettingInfo, Settings, catalog

SECRET_BACKENDS = ("kubernetes", "vault", "aws")


@dataclass(frozen=True)
class SpecialField:
    """A spec field the operator handles by name: it decides a setting but is not its value."""

    env: str  # the bot setting it decides
    path: str  # its dotted path in the spec
    source: str  # how docs/operator.md describes it, after the path
    default_key: str | None = None  # a Secret reference {name, key}: the key when none is given


PAUSED = SpecialField("TRADING_ENABLED", "paused", "(inverted: paused → 0)")
SECRETS_BACKEND = SpecialField("SECRETS_BACKEND", "secrets.backend", "(`kubernetes` leaves it unset)")
API_KEY_REF = SpecialField(
    "API_KEY", "apiKeySecretRef", "(secretKeyRef), else the secret backend", default_key="API_KEY"
)
DATABASE_URL_REF = SpecialField(
    "DATABASE_URL",
    "journal.databaseUrlSecretRef",
    "(secretKeyRef); unset means SQLite on the journal volume",
    default_key="DATABASE_URL",
)
VAULT_TOKEN_REF = SpecialField(
    "VAULT_TOKEN", "secrets.vault.tokenSecretRef", "(secretKeyRef)", default_key="VAULT_TOKEN"
)
SPECIAL_FIELDS: tuple[SpecialField, ...] = (
    PAUSED,
    SECRETS_BACKEND,
    API_KEY_REF,
    DATABASE_URL_REF,
    VAULT_TOKEN_REF,
)
# The Secret whose keys are the credentials' environment names (secrets.backend kubernetes).
CREDENTIALS_PATH = "secrets.kubernetes.secretName"
SPECIAL_BY_ENV: dict[str, SpecialField] = {field.env: field for field in SPECIAL_FIELDS}
SECRET_REFS: tuple[SpecialField, ...] = tuple(field for field in SPECIAL_FIELDS if field.default_key)


def get_path(spec: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of the spec, or None when any part is absent."""
    node: Any = spec
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


# --------------------------------------------------------------------------------------------
# The settings table, read once per process on first use (it is fixed for the life of the code)


@functools.cache
def settings_table() -> tuple[SettingInfo, ...]:
    """Every row of the bot's settings table."""
    return tuple(catalog())


@functools.cache
def rows_by_env() -> dict[str, SettingInfo]:
    """The settings table by environment variable."""
    return {row.env: row for row in settings_table()}


@functools.cache
def special_paths() -> frozenset[str]:
    """The paths the settings table marks for the special fields (it marks DATABASE_URL at `journal`)."""
    return frozenset(row.crd for row in settings_table() if row.crd and row.env in SPECIAL_BY_ENV)


@functools.cache
def spec_rows() -> tuple[SettingInfo, ...]:
    """Catalog rows whose value is a plain value at their spec path."""
    return tuple(row for row in settings_table() if row.crd and row.env not in SPECIAL_BY_ENV)


@functools.cache
def hydrated_secret_envs() -> tuple[str, ...]:
    """Secret settings the pod may take from the secret backend (or a Secret's keys)."""
    return tuple(row.env for row in settings_table() if row.secret and row.hydrated)


# --------------------------------------------------------------------------------------------
# Kinds of values and their environment strings

Kind = Literal["bool", "int", "decimal", "string", "list", "enum", "path", "secret"]


@dataclass(frozen=True)
class SettingKind:
    """How a setting's value is written in the spec: its kind, bounds and allowed values."""

    kind: Kind
    minimum: Decimal | None = None
    exclusive_minimum: bool = False
    maximum: Decimal | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False


def setting_kind(info: SettingInfo) -> SettingKind:
    """The spec-side kind of one catalog row, read from the `Settings` field's type."""
    model_field = Settings.model_fields[info.field]
    annotation = model_field.annotation
    nullable = False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        nullable = True
        non_null = [a for a in args if a is not type(None)]
        annotation = non_null[0] if len(non_null) == 1 else annotation
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    exclusive = False
    for meta in model_field.metadata:
        if getattr(meta, "ge", None) is not None:
            minimum = Decimal(str(meta.ge))
        if getattr(meta, "gt", None) is not None:
            minimum, exclusive = Decimal(str(meta.gt)), True
        if getattr(meta, "le", None) is not None:
            maximum = Decimal(str(meta.le))
    if info.secret:
        return SettingKind("secret", nullable=nullable)
    if typing.get_origin(annotation) is Literal:
        return SettingKind(
            "enum", choices=tuple(str(a) for a in typing.get_args(annotation)), nullable=nullable
        )
    if annotation is bool:
        return SettingKind("bool", nullable=nullable)
    if annotation is int:
        return SettingKind("int", minimum, exclusive, maximum, nullable=nullable)
    if annotation is Decimal:
        return SettingKind("decimal", minimum, exclusive, maximum, nullable=nullable)
    if typing.get_origin(annotation) is list:
        return SettingKind("list", nullable=nullable)
    if annotation is Path:
        return SettingKind("path", nullable=nullable)
    return SettingKind("string", nullable=nullable)


@functools.cache
def spec_row_kinds() -> tuple[tuple[SettingInfo, SettingKind], ...]:
    """Each plain row with its kind."""
    return tuple((row, setting_kind(row)) for row in spec_rows())


def env_value(value: Any, kind: SettingKind) -> tuple[str | None, str | None]:
    """A spec value as its environment string, or the reason it cannot be one."""
    if isinstance(value, Mapping):
        return None, "must be a single value, not an object"
    if kind.kind == "bool":
        if isinstance(value, bool):
            return ("1" if value else "0"), None
        return None, f"must be true or false, got {value!r}"
    if kind.kind == "list":
        if isinstance(value, str):
            items = [value]
        elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            items = list(value)
        else:
            return None, "must be a list of strings"
        if any("," in item for item in items):
            return None, "list items must not contain commas"
        return ",".join(items), None
    if isinstance(value, Sequence) and not isinstance(value, str):
        return None, "must be a single value, not a list"
    if isinstance(value, float):
        return None, (
            f'must be written as a string such as "{value}" or an integer: '
            "floating-point numbers are not accepted (money and limits are exact decimals)"
        )
    if isinstance(value, bool):
        return None, f"must be a {'number' if kind.kind in ('int', 'decimal') else 'string'}, got {value}"
    if kind.kind in _NUMBERS:
        pattern, wanted = _NUMBERS[kind.kind]
        if isinstance(value, int):
            return str(value), None
        if isinstance(value, str) and pattern.fullmatch(value.strip()):
            return value.strip(), None
        return None, f"must be {wanted}, got {value!r}"
    return str(value), None


# What an int or decimal setting accepts as a string, and how the refusal names it.
_NUMBERS: dict[str, tuple[re.Pattern[str], str]] = {
    "int": (re.compile(r"-?\d+"), "an integer"),
    "decimal": (re.compile(r"-?\d+(\.\d+)?"), 'a decimal number such as "100000" or "0.50"'),
}
