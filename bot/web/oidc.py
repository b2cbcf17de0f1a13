"""OIDC bearer tokens: signature against the identity provider's JWKS, issuer, audience, expiry, roles.

Keys are cached and fetched again when a token names a `kid` the cache does not hold (key
rotation), at most once per `min_refresh_s` so a stream of made-up `kid`s cannot hammer the
identity provider. A failed fetch is remembered for `failure_backoff_s`: while the provider is
down, requests are answered at once from what is cached (or refused), instead of each one waiting
for a fetch to time out. `alg: none` is refused before any key is looked at, whatever the settings say.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)


class TokenError(Exception):
    """The token is not acceptable. `reason` is a short, fixed label (safe for logs and metrics)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str
    roles: frozenset[str]
    claims: Mapping[str, Any]


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated segments: worth handing to the verifier rather than the key check."""
    return token.count(".") == 2


def token_roles(claims: Mapping[str, Any]) -> frozenset[str]:
    """Roles from `roles` (list or space-separated string), `scope`/`scp`, and `realm_access.roles`."""
    found: set[str] = set()
    found |= _as_names(claims.get("roles"))
    found |= _as_names(claims.get("scope"))
    found |= _as_names(claims.get("scp"))
    realm = claims.get("realm_access")
    if isinstance(realm, Mapping):
        found |= _as_names(realm.get("roles"))
    return frozenset(found)


def _as_names(value: Any) -> set[str]:
    if isinstance(value, str):
        return {part for part in value.split() if part}
    if isinstance(value, list | tuple):
        return {str(item) for item in value if isinstance(item, str) and item}
    return set()


class JwksCache:
    """The identity provider's signing keys by `kid`, fetched over HTTP(S) on demand."""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        ttl_s: float = 300.0,
        min_refresh_s: float = 10.0,
        failure_backoff_s: float = 10.0,
    ) -> None:
        self._url = url
        self._http = http
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._failure_backoff_s = failure_backoff_s
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key named `kid` (or the only key when the token names none); raises `TokenError`."""
        now = time.monotonic()
        if self._fetched_at is None or now - self._fetched_at > self._ttl_s:
            await self._refresh(force=True)
        found = self._lookup(kid)
        if found is None:
            await self._refresh(force=False)  # rotation: the provider may have a new key
            found = self._lookup(kid)
        if found is None:
            raise TokenError("unknown signing key")
        return found

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._failed_at is not None and now - self._failed_at < self._failure_backoff_s:
                if not self._keys:  # the provider was down a moment ago: do not wait on it again
                    raise TokenError("identity provider keys unavailable")
                return
            if self._fetched_at is not None:
                age = now - self._fetched_at
                if not force and age < self._min_refresh_s:
                    return
                if force and age <= self._ttl_s:
                    return  # another request refreshed while this one waited
            try:
                response = await self._http.get(self._url)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("could not fetch the identity provider's keys: %s", type(exc).__name__)
                self._failed_at = time.monotonic()
                if not self._keys:
                    raise TokenError("identity provider keys unavailable") from None
                return
            self._keys = _parse_jwks(document)
            self._fetched_at = time.monotonic()
            self._failed_at = None


def _parse_jwks(document: Any) -> dict[str | None, jwt.PyJWK]:
    keys: dict[str | None, jwt.PyJWK] = {}
    entries = document.get("keys", []) if isinstance(document, Mapping) else []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[entry.get("kid")] = jwt.PyJWK(dict(entry))
        except jwt.exceptions.PyJWKError:
            log.warning("skipping an unusable key in the identity provider's JWKS (kid %s)", entry.get("kid"))
    return keys


class OidcVerifier:
    """Verifies bearer JWTs for one issuer and audience with the allowed algorithms."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Iterable[str],
        keys: JwksCache,
        leeway_s: float = 30.0,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        # `none` is never accepted, whatever the configuration says.
        self._algorithms = tuple(alg for alg in algorithms if alg and alg.lower() != "none")
        self._keys = keys
        self._leeway_s = leeway_s

    async def verify(self, token: str) -> VerifiedToken:
        """Claims of a valid token; raises `TokenError` with a fixed reason otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.exceptions.PyJWTError:
            raise TokenError("malformed token") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise TokenError("algorithm not allowed")
        kid = header.get("kid")
        key = await self._keys.key(kid if isinstance(kid, str) else None)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.exceptions.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.exceptions.InvalidAudienceError:
            raise TokenError("wrong audience") from None
        except jwt.exceptions.InvalidIssuerError:
            raise TokenError("wrong issuer") from None
        except jwt.exceptions.PyJWTError:
            raise TokenError("invalid token") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise TokenError("token has no subject")
        return VerifiedToken(subject=subject, roles=token_roles(claims), claims=claims)
