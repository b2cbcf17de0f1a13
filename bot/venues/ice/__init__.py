"""ICE, the futures leg: a REST venue (see docs/venues.md for every request and reply)."""

from bot.venues.ice.client import build_ice_venue, ice_dialect

__all__ = ["build_ice_venue", "ice_dialect"]
