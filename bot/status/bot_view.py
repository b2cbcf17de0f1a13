"""One bot's API answers as a summary record (for JSON/YAML) and as tables (pure, no I/O).

The record is the one fact; the table is drawn from it, so `-o json` and the table cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.redaction import redact_url
from bot.status.api_reader import Answers
from bot.status.output import MISSING, Section, health_style

# Orchestrator states in which a loop is running (here, or elsewhere holding the journal's lock).
LOOP_RUNNING = ("running", "external")
BLOCKED_SHOWN = 3


def summary(answers: Answers, url: str, *, detail: bool = False) -> dict[str, Any]:
    """What `flash-green status` reports, in plain JSON types (money as exact decimal strings)."""
    state, readiness = answers.state, answers.readiness
    loop = str((state.get("orchestrator") or {}).get("state", "unknown"))
    window_open = bool(state.get("trading_window_open"))
    ready = bool(readiness.get("ready"))
    blocked = [_blocked(row) for row in state.get("blocked_today") or []]
    why_not = _why_not(ready, window_open, loop, readiness.get("checks") or [])
    today = (answers.pnl.get("today") or {}) if answers.pnl else {}
    items = answers.trades.get("items") or []
    journal = next((c for c in readiness.get("checks") or [] if c.get("name") == "journal"), None)
    record: dict[str, Any] = {
        "url": redact_url(url),
        "version": answers.health.get("version"),
        "ready": ready,
        "mode": state.get("mode"),
        "trading": not why_not,
        "why_not_trading": why_not,
        "trading_window_open": window_open,
        "orchestrator": loop,
        "pnl_today_gbp": today.get("realised_gbp"),
        "trades_today": today.get("trades"),
        "last_trade": _trade(items[0]) if items else None,
        "venues": [_venue(v) for v in readiness.get("venues") or []],
        "journal": {"status": journal.get("status"), "detail": journal.get("detail")} if journal else None,
        "blocked_today": blocked,
    }
    if detail:
        record["recent_trades"] = [_trade(item) for item in items]
    return record


def sections(record: Mapping[str, Any]) -> list[Section]:
    """The summary table, then (when the record has them) recent trades and blocked reasons."""
    rows: list[tuple[str, str, str | None]] = [
        ("bot", str(record["url"]), None),
        ("mode", str(record["mode"] or MISSING).upper(), "bold"),
        ("trading", _trading_text(record), health_style(bool(record["trading"]))),
        ("ready", "yes" if record["ready"] else "no", health_style(bool(record["ready"]))),
        ("orchestrator", str(record["orchestrator"]), None),
        ("PnL today", _gbp(record["pnl_today_gbp"]), _money_style(record["pnl_today_gbp"])),
        ("trades today", _text(record["trades_today"]), None),
        ("last trade", _last_trade_text(record["last_trade"]), None),
    ]
    for venue in record["venues"]:
        rows.append(
            (f"venue {venue['venue']} ({venue['leg']})", _venue_text(venue), health_style(venue["up"]))
        )
    journal = record["journal"]
    if journal:
        text = f"{journal['status']}" + (f" ({journal['detail']})" if journal.get("detail") else "")
        rows.append(("journal", text, health_style(journal["status"] == "ok")))
    else:
        rows.append(("journal", MISSING, None))
    if record["blocked_today"] and "recent_trades" not in record:
        top = record["blocked_today"][:BLOCKED_SHOWN]
        rows.append(("blocked today", ", ".join(f"{b['reason']} x{b['count']}" for b in top), "yellow"))
    rows.append(("version", _text(record["version"]), None))
    out = [
        Section(
            title=None,
            columns=("", "status"),
            rows=[(name, value) for name, value, _ in rows],
            styles=[("bold", style) for _, _, style in rows],
        )
    ]
    if "recent_trades" in record:
        out.append(
            Section(
                title="Recent trades",
                columns=("cycle", "executed at", "MWh", "spread GBP/MWh", "net GBP"),
                rows=[
                    (t["cycle_id"], t["executed_at"], t["quantity_mwh"], t["spread_gbp"], t["net_gbp"])
                    for t in record["recent_trades"]
                ],
                styles=[
                    (None, None, None, None, _money_style(t["net_gbp"])) for t in record["recent_trades"]
                ],
            )
        )
        out.append(
            Section(
                title="Blocked today",
                columns=("outcome", "reason", "count"),
                rows=[(b["outcome"], b["reason"], str(b["count"])) for b in record["blocked_today"]],
            )
        )
    return out


def _why_not(ready: bool, window_open: bool, loop: str, checks: Sequence[Mapping[str, Any]]) -> list[str]:
    reasons = []
    if not ready:
        failing = [
            f"{c.get('name')}: {c.get('detail') or 'fail'}" for c in checks if c.get("status") == "fail"
        ]
        reasons.append("not ready (" + "; ".join(failing) + ")" if failing else "not ready")
    if not window_open:
        reasons.append("trading window closed (outside the UTC window, a weekend, or TRADING_ENABLED=0)")
    if loop not in LOOP_RUNNING:
        reasons.append(f"orchestrator {loop}")
    return reasons


def _trading_text(record: Mapping[str, Any]) -> str:
    if record["trading"]:
        return "yes"
    return "no: " + "; ".join(record["why_not_trading"])


def _trade(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cycle_id": item.get("cycle_id"),
        "executed_at": item.get("executed_at"),
        "quantity_mwh": item.get("quantity_mwh"),
        "spread_gbp": item.get("spread_gbp"),
        "net_gbp": item.get("net_gbp"),
    }


def _venue(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "venue": item.get("venue"),
        "leg": item.get("leg"),
        "up": item.get("up"),
        "breaker": item.get("breaker"),
        "last_outcome": item.get("last_outcome"),
    }


def _blocked(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"outcome": item.get("outcome"), "reason": item.get("reason"), "count": item.get("count")}


def _venue_text(venue: Mapping[str, Any]) -> str:
    up = {True: "up", False: "down", None: "not probed yet"}[venue["up"]]
    return f"{up}, breaker {venue['breaker']}"


def _last_trade_text(trade: Mapping[str, Any] | None) -> str:
    if not trade:
        return MISSING
    return f"{trade['executed_at']}  net {_gbp(trade['net_gbp'])}  ({trade['cycle_id']})"


def _gbp(value: Any) -> str:
    return MISSING if value is None else f"£{value}"


def _text(value: Any) -> str:
    return MISSING if value is None else str(value)


def _money_style(value: Any) -> str | None:
    if value is None:
        return None
    return "red" if str(value).startswith("-") else "green"
