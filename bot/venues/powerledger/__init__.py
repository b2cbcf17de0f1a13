"""Powerledger, the power leg: a REST venue (see docs/venues.md for every request and reply)."""

from bot.venues.powerledger.client import build_powerledger_venue, powerledger_dialect

__all__ = ["build_powerledger_venue", "powerledger_dialect"]
