"""What the control plane may change when it starts the trading loop, and the environment it passes.

An override is `ENV_NAME=value` for a known, non-secret setting whose `override` rule in the
settings table allows that value (limits only lowered, trading and weekends only switched off, the
window only narrowed; identity, journal, venues and the API never): `bot.config.overrides`. The
merged settings must then pass the bot's own validation. The loop's environment carries exactly
the configuration the API validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings, catalog
from bot.config.overrides import override_problems


def render_setting(value: Any) -> str:
    """A setting's value as its environment variable would spell it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, Decimal | Path):
        return str(value)
    return str(value)


def settings_env(settings: Settings, *, include_secrets: bool) -> dict[str, str | None]:
    """Every setting as env name -> text (None when unset); secrets only when asked for."""
    out: dict[str, str | None] = {}
    for info in catalog():
        value = getattr(settings, info.field)
        if info.secret:
            if not include_secrets:
                continue
            value = value.get_secret_value() if value is not None else None
        out[info.env] = None if value is None else render_setting(value)
    return out


def validate_overrides(settings: Settings, overrides: Mapping[str, str]) -> tuple[Settings | None, list[str]]:
    """The effective settings with `overrides` applied, validated by the bot's own rules."""
    problems = override_problems(settings, overrides)
    if problems:
        return None, [p.message for p in problems]
    merged = {k: v for k, v in settings_env(settings, include_secrets=True).items() if v is not None}
    merged.update(overrides)
    try:
        return Settings.from_mapping(merged, hydrate=False), []
    except ConfigError as exc:
        return None, exc.messages


def child_environment(
    settings: Settings, overrides: Mapping[str, str], base: Mapping[str, str]
) -> dict[str, str]:
    """The orchestrator's environment: `base`, then the API's effective settings, then the overrides.

    The child runs with exactly the configuration this API validated (including values read from
    an env file or a secret backend); a setting unset here is removed, so nothing stale leaks in.
    """
    env = dict(base)
    for name, value in settings_env(settings, include_secrets=True).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env.update(overrides)
    env["PYTHONUNBUFFERED"] = "1"
    return env
