"""Powerledger's headers: the org-scoped token (bearer, or X-PL-API-Key) and the org."""

from __future__ import annotations

from typing import Literal

AuthScheme = Literal["bearer", "api-key"]


def powerledger_headers(token: str, org: str, scheme: AuthScheme = "bearer") -> dict[str, str]:
    """`Authorization: Bearer <token>` (or `X-PL-API-Key: <token>` under api-key) and `X-PL-Org`."""
    credential = {"Authorization": f"Bearer {token}"} if scheme == "bearer" else {"X-PL-API-Key": token}
    return {**credential, "X-PL-Org": org}
