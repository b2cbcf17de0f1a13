"""What the control plane may change when it starts the trading loop: it can tighten, never loosen.

Each setting's rule is the `override` property in the settings table (bot.config.fields.Override);
this module only applies it. A refusal is a `ConfigProblem` naming the key and saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.config.catalog import SettingInfo, catalog
from bot.config.problems import ConfigProblem
from bot.config.rules import truthy
from bot.domain.window import TradingWindow, parse_window

MAX_OVERRIDE_VALUE = 1000  # characters; an override is a setting's text, never a document

_NEVER_BECAUSE = (
    "identity, journal, venues, credentials and where they are sent are the deployment's choice; "
    "change them in the bot's resource or environment"
)


def override_problems(current: Any, overrides: Mapping[str, str]) -> list[ConfigProblem]:
    """One problem per override the control plane must refuse, given the running `current` settings."""
    rows = {row.env: row for row in catalog()}
    problems = []
    for key, value in overrides.items():
        row = rows.get(key)
        if row is None:
            upper = key.strip().upper()
            hint = f"use {upper}" if upper in rows else "see docs/configuration.md"
            problems.append(ConfigProblem(key, f"{key} is not a setting of this bot: {hint}"))
        elif row.secret:
            problems.append(ConfigProblem(key, f"{key} is a secret and cannot be set from the control plane"))
        elif len(value) > MAX_OVERRIDE_VALUE or "\x00" in value:
            problems.append(ConfigProblem(key, f"{key}: value too long or not text"))
        else:
            reason = _refusal(row, getattr(current, row.field), value)
            if reason:
                problems.append(
                    ConfigProblem(key, f"{key} cannot be overridden from the control plane: {reason}")
                )
    return problems


def _refusal(row: SettingInfo, running: Any, proposed: str) -> str | None:
    """Why `proposed` loosens `row` compared with the `running` value; None when it may be applied."""
    rule = row.override
    if rule == "any":
        return None
    if rule == "never":
        return _NEVER_BECAUSE
    if rule == "off":
        if truthy(proposed) and not running:
            return (
                f"it is off for this bot and may only be switched off here (running value {_shown(running)})"
            )
        return None
    if rule == "narrower":
        try:
            wanted = parse_window(proposed)
        except ValueError:
            return None  # malformed: the bot's own validation names it
        if not _inside(wanted, parse_window(str(running))):
            return f"{proposed} reaches outside the bot's window {running}; only a narrower window may be set"
        return None
    number = _decimal(proposed)
    if number is None:
        return None  # malformed: the bot's own validation names it
    if rule == "lower" and number > Decimal(str(running)):
        return f"it may only be lowered (running value {running})"
    if rule == "higher" and number < Decimal(str(running)):
        return f"it may only be raised (running value {running})"
    return None


def _inside(inner: TradingWindow, outer: TradingWindow) -> bool:
    """Every minute `inner` is open, `outer` is open too."""
    return all(outer.is_open_minute(m) for m in range(24 * 60) if inner.is_open_minute(m))


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None


def _shown(value: Any) -> str:
    return "1" if value is True else "0" if value is False else str(value)
