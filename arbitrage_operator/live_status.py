"""A bot's own report on its resource: PnL today, trades, last trade, venues, journal (pure).

The operator reads each ready bot's API over its Service with the bot's API key (the key the
spec's Secret holds), exactly as `flash-green status` does (`bot.status.api_reader`), and writes
what it read into `status`. The bot pod keeps no Kubernetes token and writes nothing to the API
server: a compromised bot can neither forge its figures on the resource nor touch another's.

Only stable facts are written (no latency, no "read at" time), so an unchanged bot costs no write:
`changed_fields()` returns nothing when the status already says it all.

When the API cannot be read, `status.botApi.reachable` is false with the reason; the figures of
the same UTC day (`pnlDay`) stay as last read, so a network blip does not blank the PNL column, and
they are dropped once that day is over (they are no longer "today"). Venue and journal health are
not kept: unknown is not "up".
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from arbitrage_operator.spec_fields import DATABASE_URL_REF, get_path
from bot.status.api_reader import Answers

# Every status field this module owns (the rest belongs to the reconciliation and the watchers).
FIGURES = ("pnlTodayGBP", "pnlDay", "tradesToday", "lastTradeAt", "dailyLossLimitHit")
HEALTH = ("venues", "journal", "botApi")
FIELDS = FIGURES + HEALTH
NOT_READY = "The bot's pod is not ready: its API is not read."


def journal_engine(spec: Mapping[str, Any]) -> str:
    """`postgresql` when the spec names a DATABASE_URL Secret, else `sqlite` (the journal volume)."""
    return "postgresql" if get_path(spec, DATABASE_URL_REF.path) else "sqlite"


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _venue(item: Mapping[str, Any]) -> dict[str, Any]:
    outcome = item.get("last_outcome")
    venue: dict[str, Any] = {"name": str(item.get("venue")), "leg": str(item.get("leg"))}
    if item.get("up") is not None:
        venue["up"] = bool(item["up"])
    if item.get("breaker"):
        venue["breaker"] = str(item["breaker"])
    if outcome and outcome != "ok":
        venue["lastError"] = str(outcome)
    return venue


def from_answers(answers: Answers, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The status fields the bot's answers say (money as the exact decimal strings the API sends)."""
    today = answers.pnl.get("today") or {}
    pnl = _decimal(today.get("realised_gbp"))
    loss, limit = _decimal(today.get("loss_gbp")), _decimal(answers.pnl.get("daily_loss_limit_gbp"))
    items = answers.trades.get("items") or []
    checks = answers.readiness.get("checks") or []
    journal_check = next((c for c in checks if c.get("name") == "journal"), None)
    journal: dict[str, Any] = {"engine": journal_engine(spec)}
    if journal_check is not None:
        journal["reachable"] = journal_check.get("status") == "ok"
    fields: dict[str, Any] = {
        "pnlTodayGBP": str(pnl) if pnl is not None else None,
        "pnlDay": str(today["day"]) if today.get("day") else None,
        "tradesToday": int(today.get("trades") or 0),
        "lastTradeAt": _rfc3339(items[0].get("executed_at")) if items else None,
        "dailyLossLimitHit": bool(loss is not None and limit and loss >= limit),
        "venues": [_venue(v) for v in answers.readiness.get("venues") or []],
        "journal": journal,
        "botApi": {"reachable": True},
    }
    return fields


def unreachable(
    existing: Mapping[str, Any] | None, spec: Mapping[str, Any], message: str, *, now: datetime.datetime
) -> dict[str, Any]:
    """The status fields when the API could not be read: say why; keep today's figures only."""
    existing = existing or {}
    fields: dict[str, Any] = {
        "venues": None,
        "journal": {"engine": journal_engine(spec)},
        "botApi": {"reachable": False, "message": message},
    }
    if existing.get("pnlDay") and existing.get("pnlDay") != now.date().isoformat():
        fields.update(dict.fromkeys(("pnlTodayGBP", "pnlDay", "tradesToday", "dailyLossLimitHit")))
    return fields


def _rfc3339(value: Any) -> str | None:
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # the API always sends aware times; anything else is not trusted
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pruned(value: Any) -> Any:
    """Without None members: a merge patch deletes those, so the stored status never holds them."""
    if isinstance(value, Mapping):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _merge_value(current: Any, wanted: Any) -> Any:
    """The merge-patch value turning `current` into `wanted`: keys `wanted` lacks are nulled."""
    if isinstance(current, Mapping) and isinstance(wanted, Mapping):
        removed = {key: None for key in current if key not in wanted}
        return {**removed, **{key: _merge_value(current.get(key), value) for key, value in wanted.items()}}
    return wanted


def changed_fields(existing: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch of the fields whose value differs from the status as stored; empty when none.

    None (or an empty list) means absent: a merge patch deletes the field.
    """
    existing = existing or {}
    out: dict[str, Any] = {}
    for key, value in fields.items():
        wanted = _pruned(value)
        if wanted is None or wanted == []:
            if existing.get(key) not in (None, []):
                out[key] = None
        elif existing.get(key) != wanted:
            out[key] = _merge_value(existing.get(key), wanted)
    return out
