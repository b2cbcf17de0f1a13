"""An ArbitrageBot's status, computed purely from what the operator knows.

Conditions follow the Kubernetes API conventions: keyed by `type`, `status` True/False/Unknown,
a one-word CamelCase `reason`, a human `message`, `observedGeneration`, and a
`lastTransitionTime` that changes only when `status` changes (a new message alone keeps it).

- ConfigValid: the spec maps to valid bot settings and the referenced Secrets hold the keys.
- Ready: the bot's Deployment reports availability (its pod passed the /readyz probe).
- Trading: valid, ready, not paused, inside the UTC trading window (weekends only if allowed).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arbitrage_operator.spec import BotConfig
from arbitrage_operator.spec_fields import PAUSED, get_path
from bot.config import Settings
from bot.domain.window import OUTSIDE_WINDOW, TRADING_DISABLED, WEEKEND, market_closed, parse_window

CONDITION_TYPES = ("ConfigValid", "Ready", "Trading")


@dataclass(frozen=True)
class Condition:
    """One condition before it is stamped with times and generation."""

    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


def now_rfc3339(at: datetime.datetime | None = None) -> str:
    """A UTC timestamp as Kubernetes writes it."""
    moment = at or datetime.datetime.now(datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_problems(problems: Sequence[str]) -> str:
    """Every problem in one message (the same text in the status, the event and the webhook)."""
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"invalid configuration ({len(problems)} problem(s)):\n{lines}"


def config_valid_condition(config: BotConfig) -> Condition:
    """ConfigValid from the validated configuration."""
    if config.valid:
        return Condition("ConfigValid", "True", "Valid", "The spec maps to valid bot settings.")
    if config.spec_problems:
        # The platform's refusals (ImageNotAllowed, ...) name themselves; any other is InvalidSpec.
        reason = config.reasons[0] if config.reasons else "InvalidSpec"
    elif config.missing_secrets:
        reason = "SecretNotFound"
    else:
        reason = "SecretKeyMissing"
    return Condition("ConfigValid", "False", reason, format_problems(config.problems))


def deployment_available(deployment: Mapping[str, Any] | None) -> bool:
    """True when the Deployment reports Available=True with at least one available replica."""
    if not deployment:
        return False
    status = deployment.get("status") or {}
    available = next((c for c in status.get("conditions") or [] if c.get("type") == "Available"), None)
    return bool(
        available and available.get("status") == "True" and (status.get("availableReplicas") or 0) >= 1
    )


def ready_condition(deployment: Mapping[str, Any] | None, *, config_valid: bool = True) -> Condition:
    """Ready from the bot's Deployment (None when there is none)."""
    if deployment is None:
        why = "the configuration is invalid" if not config_valid else "it is being created"
        return Condition("Ready", "False", "NotDeployed", f"The bot has no Deployment: {why}.")
    if deployment_available(deployment):
        return Condition("Ready", "True", "DeploymentAvailable", "The bot's pod is running and ready.")
    status = deployment.get("status") or {}
    detail = next(
        (
            c.get("message")
            for c in status.get("conditions") or []
            if c.get("type") == "Available" and c.get("message")
        ),
        None,
    )
    message = "Waiting for the bot's pod to pass its readiness probe (/readyz)."
    if detail:
        message += f" Deployment: {detail}"
    return Condition("Ready", "False", "DeploymentUnavailable", message)


NAME_CONFLICT = "NameConflict"


def name_conflict_condition(conflicts: Sequence[str]) -> Condition:
    """Ready=False: objects holding the children's names belong to someone else (left untouched)."""
    return Condition(
        "Ready",
        "False",
        NAME_CONFLICT,
        f"{'; '.join(conflicts)}: the operator leaves it untouched and creates no child of this bot. "
        "Rename or remove that object, or give the bot another name.",
    )


def trading_window_of(spec: Mapping[str, Any]) -> tuple[str, bool]:
    """The spec's window text and weekend flag, with the bot's defaults."""
    window = get_path(spec, "tradingWindow.utc")
    weekends = get_path(spec, "tradingWindow.allowWeekends")
    default_window = str(Settings.model_fields["trading_window_utc"].default)
    default_weekends = bool(Settings.model_fields["allow_weekend_trading"].default)
    return (
        window if isinstance(window, str) else default_window,
        weekends if isinstance(weekends, bool) else default_weekends,
    )


def trading_condition(
    spec: Mapping[str, Any], *, config_valid: bool, ready: bool, now: datetime.datetime
) -> Condition:
    """Trading: valid, ready, not paused, inside the window (and not a weekend unless allowed)."""
    if not config_valid:
        if ready:
            return Condition(
                "Trading",
                "Unknown",
                "ConfigInvalid",
                "The spec is invalid; the running bot keeps its previous configuration until the spec is "
                "fixed.",
            )
        return Condition("Trading", "False", "ConfigInvalid", "The spec is invalid; no bot runs.")
    window_text, weekends = trading_window_of(spec)
    try:
        window = parse_window(window_text)
    except ValueError:
        return Condition(
            "Trading", "Unknown", "ConfigInvalid", f"Trading window {window_text!r} cannot be read."
        )
    # the bot's own definition of "the market is open", as its guard, gauge and /state use it
    paused = get_path(spec, PAUSED.path) is True
    closed = market_closed(now, window, allow_weekend=weekends, trading_enabled=not paused)
    if closed == TRADING_DISABLED:
        return Condition(
            "Trading",
            "False",
            "Paused",
            "spec.paused is true: trading is stopped (TRADING_ENABLED=0), the API stays up.",
        )
    if not ready:
        return Condition("Trading", "False", "NotReady", "The bot's pod is not ready.")
    if closed == WEEKEND:
        return Condition(
            "Trading",
            "False",
            "Weekend",
            "It is a weekend (UTC) and spec.tradingWindow.allowWeekends is false.",
        )
    if closed == OUTSIDE_WINDOW:
        return Condition("Trading", "False", "OutsideWindow", f"Outside the trading window {window} UTC.")
    return Condition("Trading", "True", "InsideWindow", f"Inside the trading window {window} UTC.")


def merge_conditions(
    existing: Iterable[Mapping[str, Any]] | None,
    updates: Iterable[Condition],
    *,
    generation: int | None,
    now: str,
) -> list[dict[str, Any]]:
    """The new conditions list: `lastTransitionTime` is kept unless `status` changed."""
    previous = {c.get("type"): c for c in existing or [] if isinstance(c, Mapping)}
    merged: dict[str, dict[str, Any]] = {t: dict(c) for t, c in previous.items() if isinstance(t, str)}
    for update in updates:
        old = previous.get(update.type)
        unchanged = old is not None and old.get("status") == update.status and old.get("lastTransitionTime")
        condition: dict[str, Any] = {
            "type": update.type,
            "status": update.status,
            "reason": update.reason,
            "message": update.message,
            "lastTransitionTime": old["lastTransitionTime"] if unchanged and old is not None else now,
        }
        if generation is not None:
            condition["observedGeneration"] = generation
        merged[update.type] = condition
    order = {t: i for i, t in enumerate(CONDITION_TYPES)}
    return [merged[t] for t in sorted(merged, key=lambda t: (order.get(t, len(order)), t))]


def condition_of(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    """The condition of one type, if present."""
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def phase(conditions: Iterable[Mapping[str, Any]] | None, spec: Mapping[str, Any]) -> str:
    """One word for humans: Pending, Invalid, Starting, Paused, Trading or Idle."""
    conditions = list(conditions or [])
    valid = condition_of(conditions, "ConfigValid")
    ready = condition_of(conditions, "Ready")
    trading = condition_of(conditions, "Trading")
    if valid is None:
        return "Pending"
    if valid.get("status") == "False":
        return "Invalid"
    if ready is None or ready.get("status") != "True":
        return "Starting"
    if get_path(spec, PAUSED.path) is True:
        return "Paused"
    if trading is not None and trading.get("status") == "True":
        return "Trading"
    return "Idle"


def bot_status(
    spec: Mapping[str, Any],
    *,
    generation: int | None,
    existing: Mapping[str, Any] | None,
    valid: Condition,
    deployment: Mapping[str, Any] | None,
    now: datetime.datetime,
    ready: Condition | None = None,
) -> dict[str, Any]:
    """The status fields to write after a reconciliation or a Deployment change.

    `ready` overrides what the Deployment says (a name conflict: the bot has no Deployment of its own).
    """
    config_valid = valid.status == "True"
    ready = ready or ready_condition(deployment, config_valid=config_valid)
    trading = trading_condition(spec, config_valid=config_valid, ready=ready.status == "True", now=now)
    conditions = merge_conditions(
        (existing or {}).get("conditions"),
        [valid, ready, trading],
        generation=generation,
        now=now_rfc3339(now),
    )
    out: dict[str, Any] = {"conditions": conditions, "phase": phase(conditions, spec)}
    if generation is not None:
        out["observedGeneration"] = generation
    return out


def refreshed_trading(
    spec: Mapping[str, Any], existing: Mapping[str, Any] | None, *, now: datetime.datetime
) -> dict[str, Any] | None:
    """The status fields to write when the clock alone changed Trading; None when nothing changed."""
    conditions = list((existing or {}).get("conditions") or [])
    valid = condition_of(conditions, "ConfigValid")
    if valid is None:
        return None  # never reconciled yet: the reconciliation writes everything
    ready = condition_of(conditions, "Ready")
    trading = trading_condition(
        spec,
        config_valid=valid.get("status") == "True",
        ready=ready is not None and ready.get("status") == "True",
        now=now,
    )
    current = condition_of(conditions, "Trading")
    if _says(current, trading):
        return None
    generation = current.get("observedGeneration") if current is not None else valid.get("observedGeneration")
    merged = merge_conditions(conditions, [trading], generation=generation, now=now_rfc3339(now))
    return {"conditions": merged, "phase": phase(merged, spec)}


def refreshed_ready(
    spec: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    deployment: Mapping[str, Any] | None,
    *,
    now: datetime.datetime,
) -> dict[str, Any] | None:
    """The status fields to write when the Deployment's availability changed; None when it did not."""
    conditions = list((existing or {}).get("conditions") or [])
    valid = condition_of(conditions, "ConfigValid")
    if valid is None:
        return None  # never reconciled yet: the reconciliation writes everything
    config_valid = valid.get("status") == "True"
    ready = ready_condition(deployment, config_valid=config_valid)
    current = condition_of(conditions, "Ready")
    if current is not None and current.get("reason") == NAME_CONFLICT:
        return None  # a Deployment of that name is not this bot's: only a reconciliation clears it
    if _says(current, ready):
        return None
    trading = trading_condition(spec, config_valid=config_valid, ready=ready.status == "True", now=now)
    generation = valid.get("observedGeneration")
    merged = merge_conditions(conditions, [ready, trading], generation=generation, now=now_rfc3339(now))
    return {"conditions": merged, "phase": phase(merged, spec)}


def _says(current: Mapping[str, Any] | None, condition: Condition) -> bool:
    """True when a written condition already says what `condition` says (times aside)."""
    return current is not None and (current.get("status"), current.get("reason"), current.get("message")) == (
        condition.status,
        condition.reason,
        condition.message,
    )


# Every reason a condition can carry, for the docs and the tests (one place).
REASONS: dict[str, dict[str, str]] = {
    "ConfigValid": {
        "Valid": "True: the spec maps to valid bot settings and the referenced Secrets hold the "
        "required keys.",
        "InvalidSpec": "False: the spec itself is invalid (the admission webhook refuses the same spec); "
        "the message lists every problem by spec path and environment variable.",
        "SecretNotFound": "False: a Secret the spec references does not exist in the bot's "
        "namespace; checked again with backoff (5 s doubling to 5 min) until it does.",
        "SecretKeyMissing": "False: a referenced Secret lacks a key a feature needs; checked again "
        "with backoff.",
        "ImageNotAllowed": "False: spec.image is not the operator's default image nor in its allowlist "
        "(FLASH_GREEN_ALLOWED_IMAGES); the admission webhook refuses the same spec.",
        "ServiceAccountNotAllowed": "False: spec.serviceAccountName is not in the operator's allowlist "
        "(FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS); the admission webhook refuses the same spec.",
        "CredentialsInUrl": "False: a URL in the spec carries credentials (user:password@ or a "
        "token=-like parameter); keep them in a Secret. The admission webhook refuses the same spec.",
    },
    "Ready": {
        "DeploymentAvailable": "True: the bot's Deployment reports Available (its pod passed /readyz).",
        "DeploymentUnavailable": "False: the Deployment exists but its pod is not ready yet (or no longer).",
        "NotDeployed": "False: there is no Deployment (being created, or the configuration was never valid).",
        "NameConflict": "False: an object a child would be named as (e.g. the Service N) exists and is not "
        "owned by this bot; it is left untouched, no child is written, a Warning Event names it, and the "
        "operator looks again with backoff.",
    },
    "Trading": {
        "InsideWindow": "True: valid, ready, not paused, inside the trading window.",
        "Paused": "False: spec.paused is true (TRADING_ENABLED=0); the API stays up.",
        "NotReady": "False: the bot's pod is not ready.",
        "OutsideWindow": "False: outside spec.tradingWindow.utc.",
        "Weekend": "False: Saturday or Sunday (UTC) and spec.tradingWindow.allowWeekends is false.",
        "ConfigInvalid": "False when no bot runs; Unknown when an earlier Deployment keeps running "
        "its previous configuration while the spec is invalid.",
    },
}
