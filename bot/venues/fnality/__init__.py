"""The Fnality / HQLAˣ repo venue, the futures leg: a REST venue (see docs/venues.md)."""

from bot.venues.fnality.client import build_fnality_venue, fnality_dialect

__all__ = ["build_fnality_venue", "fnality_dialect"]
