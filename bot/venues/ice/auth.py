"""ICE's headers: the desk's API key and secret, sent as they are on every request."""

from __future__ import annotations


def ice_headers(api_key: str, api_secret: str) -> dict[str, str]:
    """`X-API-KEY` and `X-API-SECRET`."""
    return {"X-API-KEY": api_key, "X-API-SECRET": api_secret}
