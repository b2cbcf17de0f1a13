"""ArbitrageBot objects as rows and a detail view for `kubectl flash-green status` (pure, no I/O).

The PnL and trade fields (`pnlTodayGBP`, `tradesToday`, `lastTradeAt`) are what the operator read
from the bot's API; until it has read a bot (not ready yet) they are absent and show as "—":
absent is a normal state, not an error.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from bot.status.output import MISSING, Section, health_style

# Status fields read when present (declared in the CRD, written by arbitrage_operator/live_status.py).
PNL_FIELD = "pnlTodayGBP"
TRADES_FIELD = "tradesToday"
LAST_TRADE_FIELD = "lastTradeAt"
DEFAULT_IMAGE = "(operator default)"
ROW_COLUMNS = (
    "NAME",
    "NAMESPACE",
    "PHASE",
    "READY",
    "TRADING",
    "PNL TODAY",
    "TRADES",
    "LAST TRADE",
    "IMAGE",
    "AGE",
)
EVENTS_SHOWN = 10


def bot_row(obj: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """One bot's row in plain JSON types: its identity, phase, conditions, PnL, image and age."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    ready, trading = _condition(status, "Ready"), _condition(status, "Trading")
    created = meta.get("creationTimestamp")
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "phase": status.get("phase"),
        "ready": _brief(ready),
        "trading": _brief(trading),
        "pnl_today_gbp": status.get(PNL_FIELD),
        "trades_today": status.get(TRADES_FIELD),
        "last_trade_at": status.get(LAST_TRADE_FIELD),
        "image": spec.get("image") or DEFAULT_IMAGE,
        "created": created,
        "age": age(created, now),
    }


def bot_detail(
    obj: Mapping[str, Any], events: Sequence[Mapping[str, Any]], now: datetime.datetime
) -> dict[str, Any]:
    """The row, every condition with its message, and the most recent events (oldest first)."""
    status = obj.get("status") or {}
    return {
        **bot_row(obj, now),
        "observed_generation": status.get("observedGeneration"),
        "generation": (obj.get("metadata") or {}).get("generation"),
        "conditions": [
            {
                "type": c.get("type"),
                "status": c.get("status"),
                "reason": c.get("reason"),
                "message": c.get("message"),
                "last_transition": c.get("lastTransitionTime"),
            }
            for c in status.get("conditions") or []
        ],
        "events": [_event(e, now) for e in list(events)[-EVENTS_SHOWN:]],
    }


def list_sections(rows: Sequence[Mapping[str, Any]]) -> list[Section]:
    """One table, one row per bot."""
    return [
        Section(
            title=None,
            columns=ROW_COLUMNS,
            rows=[_cells(row) for row in rows],
            styles=[_row_styles(row) for row in rows],
        )
    ]


def detail_sections(detail: Mapping[str, Any]) -> list[Section]:
    """The bot's row, its conditions, then its recent events."""
    return [
        *list_sections([detail]),
        Section(
            title="Conditions",
            columns=("TYPE", "STATUS", "REASON", "MESSAGE", "LAST TRANSITION"),
            rows=[
                tuple(_text(c[k]) for k in ("type", "status", "reason", "message", "last_transition"))
                for c in detail["conditions"]
            ],
            styles=[(None, _status_style(c["status"]), None, None, None) for c in detail["conditions"]],
        ),
        Section(
            title="Events",
            columns=("AGE", "TYPE", "REASON", "MESSAGE"),
            rows=[tuple(_text(e[k]) for k in ("age", "type", "reason", "message")) for e in detail["events"]],
            styles=[
                (None, "yellow" if e["type"] == "Warning" else None, None, None) for e in detail["events"]
            ],
        ),
    ]


def age(timestamp: str | None, now: datetime.datetime) -> str:
    """kubectl's short age: 45s, 12m, 5h, 3d."""
    if not timestamp:
        return MISSING
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return MISSING
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def event_time(event: Mapping[str, Any]) -> str:
    """When an event last happened, as RFC 3339 text ('' when it carries no time)."""
    meta = event.get("metadata") or {}
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or meta.get("creationTimestamp")
        or ""
    )


def _condition(status: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    found = next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)
    return dict(found) if found else None


def _brief(condition: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if condition is None:
        return None
    return {"status": condition.get("status"), "reason": condition.get("reason")}


def _event(event: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    at = event_time(event) or None
    return {
        "at": at,
        "age": age(at, now),
        "type": event.get("type"),
        "reason": event.get("reason"),
        "message": event.get("message"),
        "count": event.get("count"),
    }


def _cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    pnl = row["pnl_today_gbp"]
    return (
        _text(row["name"]),
        _text(row["namespace"]),
        _text(row["phase"]),
        _condition_text(row["ready"]),
        _condition_text(row["trading"]),
        MISSING if pnl is None else f"£{pnl}",
        _text(row["trades_today"]),
        _text(row["last_trade_at"]),
        _text(row["image"]),
        _text(row["age"]),
    )


def _row_styles(row: Mapping[str, Any]) -> tuple[str | None, ...]:
    ready, trading = row["ready"] or {}, row["trading"] or {}
    return ("bold", None, None, _status_style(ready.get("status")), _status_style(trading.get("status")))


def _condition_text(brief: Mapping[str, Any] | None) -> str:
    if not brief:
        return MISSING
    return f"{brief['status']} ({brief['reason']})" if brief.get("reason") else str(brief["status"])


def _status_style(status: Any) -> str | None:
    return health_style({"True": True, "False": False}.get(str(status)))


def _text(value: Any) -> str:
    return MISSING if value is None or value == "" else str(value)
