"""The settings table: one row per setting, read by the operator, the docs, the API and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bot.config.fields import Override
from bot.config.toggles import required_by


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
    issuer: str | None  # who issues the value, quoted in errors
    override: Override  # what the control plane may do with it (bot.config.fields.Override)


@cache
def _rows() -> tuple[SettingInfo, ...]:
    from bot.config.settings import Settings

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
                required_by=required_by(env),
                issuer=extra.get("issuer"),  # type: ignore[arg-type]
                override=extra.get("override", "never"),  # type: ignore[arg-type]
            )
        )
    return tuple(rows)


def catalog() -> list[SettingInfo]:
    """The settings table: what the operator, docs/configuration.md and the tests read."""
    return list(_rows())


def setting_named(env: str) -> SettingInfo | None:
    """The row of `env` (its exact env name), or None."""
    return next((row for row in _rows() if row.env == env), None)


def secret_env_names() -> list[str]:
    """Env names of every secret setting."""
    return [row.env for row in _rows() if row.secret]


def hydrated_env_names() -> list[str]:
    """Env names fetched from the secret backend (the README's list plus two credentials)."""
    return [row.env for row in _rows() if row.hydrated]


def parse_env_file(path: str | Path) -> dict[str, str]:
    """Read a dotenv file into a mapping (comments and blank lines ignored)."""
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}
