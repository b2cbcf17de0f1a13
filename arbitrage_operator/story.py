"""What a status change tells a person reading `kubectl describe arb`: the Events to post (pure).

`announcements(old, new)` compares the status as it was with the status about to be written and
names each transition once, whichever writer caused it (a reconciliation, the Deployment
watcher, the trading clock or the bot's API report):

- a condition changing status: ConfigInvalid / ConfigValid, BecameReady / NotReady,
  TradingStarted / TradingStopped;
- Trading entering or leaving its `Paused` reason: Paused / Resumed (a pause says why trading
  stopped, so it replaces TradingStopped);
- the bot reporting its daily loss limit reached: DailyLossLimitHit;
- a venue's circuit breaker opening or closing: VenueCircuitOpen / VenueCircuitClosed.

The first status of a new bot is not a story (no condition had a value before): only a refusal
is announced then. That keeps a fleet of new bots from costing an Event each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arbitrage_operator.events import NORMAL, WARNING, Announcement

# Every reason the operator's own Events carry, with when (for docs/operator.md and the tests).
EVENT_REASONS: dict[str, str] = {
    "ConfigInvalid": "Warning: ConfigValid became False (or its problems changed); the message lists them.",
    "ConfigValid": "Normal: ConfigValid became True again after a refusal.",
    "BecameReady": "Normal: Ready became True (the bot's pod passed /readyz).",
    "NotReady": "Warning: Ready left True.",
    "TradingStarted": "Normal: Trading became True.",
    "TradingStopped": "Normal: Trading left True for a reason other than a pause (window closed, weekend, "
    "not ready, invalid spec).",
    "Paused": "Normal: spec.paused stopped trading.",
    "Resumed": "Normal: spec.paused was cleared.",
    "DailyLossLimitHit": "Warning: the bot reports today's losses at or above its daily loss limit; it "
    "blocks new cycles until the UTC day ends.",
    "VenueCircuitOpen": "Warning: a venue's circuit breaker opened (the bot stopped calling it after "
    "repeated failures).",
    "VenueCircuitClosed": "Normal: an open venue circuit closed again.",
}


def _condition(status: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in (status or {}).get("conditions") or [] if c.get("type") == type_), None)


def _config_valid(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Announcement]:
    before, after = _condition(old, "ConfigValid"), _condition(new, "ConfigValid")
    if after is None:
        return []
    if after.get("status") == "False":
        if before is None or (before.get("status"), before.get("message")) != ("False", after.get("message")):
            return [Announcement("ConfigInvalid", f"{after.get('reason')}: {after.get('message')}", WARNING)]
        return []
    if after.get("status") == "True" and before is not None and before.get("status") != "True":
        return [Announcement("ConfigValid", str(after.get("message")), NORMAL)]
    return []


def _ready(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Announcement]:
    before, after = _condition(old, "Ready"), _condition(new, "Ready")
    if before is None or after is None or before.get("status") == after.get("status"):
        return []
    if after.get("status") == "True":
        return [Announcement("BecameReady", str(after.get("message")), NORMAL)]
    if before.get("status") == "True":
        return [Announcement("NotReady", f"{after.get('reason')}: {after.get('message')}", WARNING)]
    return []


def _trading(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Announcement]:
    before, after = _condition(old, "Trading"), _condition(new, "Trading")
    if before is None or after is None:
        return []
    out: list[Announcement] = []
    paused_before, paused_after = before.get("reason") == "Paused", after.get("reason") == "Paused"
    if paused_after and not paused_before:
        out.append(Announcement("Paused", str(after.get("message")), NORMAL))
    elif paused_before and not paused_after and after.get("reason") != "ConfigInvalid":
        # (an invalid spec hides whether the bot is paused: the refusal is the story then)
        out.append(Announcement("Resumed", "spec.paused is false: trading may resume.", NORMAL))
    if before.get("status") != after.get("status"):
        if after.get("status") == "True":
            out.append(Announcement("TradingStarted", str(after.get("message")), NORMAL))
        elif before.get("status") == "True" and not paused_after:
            out.append(
                Announcement("TradingStopped", f"{after.get('reason')}: {after.get('message')}", NORMAL)
            )
    return out


def _loss_limit(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Announcement]:
    if (new or {}).get("dailyLossLimitHit") is True and (old or {}).get("dailyLossLimitHit") is not True:
        pnl = (new or {}).get("pnlTodayGBP")
        return [
            Announcement(
                "DailyLossLimitHit",
                f"Today's losses reached the daily loss limit (PnL today {pnl} GBP): no new cycle until the "
                "UTC day ends.",
                WARNING,
            )
        ]
    return []


def _venue_key(venue: Mapping[str, Any]) -> tuple[str, str]:
    return (str(venue.get("name")), str(venue.get("leg")))


def _circuits(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Announcement]:
    before = {_venue_key(v): v.get("breaker") for v in (old or {}).get("venues") or []}
    out = []
    for venue in (new or {}).get("venues") or []:
        name, leg = _venue_key(venue)
        was, now = before.get((name, leg)), venue.get("breaker")
        if now == "open" and was != "open":
            error = f" (last error: {venue['lastError']})" if venue.get("lastError") else ""
            out.append(
                Announcement("VenueCircuitOpen", f"The {leg} venue {name}'s circuit opened{error}.", WARNING)
            )
        elif was == "open" and now == "closed":
            out.append(
                Announcement("VenueCircuitClosed", f"The {leg} venue {name}'s circuit closed again.", NORMAL)
            )
    return out


def announcements(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Announcement]:
    """The Events that writing `new` over `old` deserves (fields absent from `new` are unchanged)."""
    merged = {**(old or {}), **(new or {})}
    return [
        *_config_valid(old, merged),
        *_ready(old, merged),
        *_trading(old, merged),
        *_loss_limit(old, merged),
        *_circuits(old, merged),
    ]
