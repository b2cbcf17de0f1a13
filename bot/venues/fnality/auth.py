"""The repo venue's header: the desk's bearer token."""

from __future__ import annotations


def fnality_headers(token: str) -> dict[str, str]:
    """`Authorization: Bearer <token>`."""
    return {"Authorization": f"Bearer {token}"}
