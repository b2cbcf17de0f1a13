"""Who is calling: the API key, an OIDC token, or a client certificate vouched for by a trusted proxy.

Layers a desk can choose from, checked in this order:

1. `X-API-Key: <key>` or `Authorization: Bearer <key>` against API_KEY, in constant time;
2. `Authorization: Bearer <JWT>` verified against the identity provider (see `oidc.py`);
3. the client-certificate subject header (CLIENT_CERT_HEADER), believed only when the TCP peer
   is one of TRUSTED_PROXIES (anyone who reaches the pod directly could write that header) and
   the proxy's verification header (CLIENT_CERT_VERIFY_HEADER) says `SUCCESS`: a proxy that
   requests certificates optionally forwards a subject it did not verify, or none at all.

A credential that is presented and wrong is refused; it never falls through to a weaker layer.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from starlette.requests import HTTPConnection

from bot.config import Settings
from bot.web.oidc import OidcVerifier, TokenError, looks_like_jwt

Method = Literal["api-key", "oidc", "client-cert"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# What nginx ($ssl_client_verify), HAProxy and Traefik-style proxies send for a verified certificate.
VERIFIED = "SUCCESS"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. `name` is safe to log: a fingerprint or a subject, never a secret."""

    name: str
    method: Method
    roles: frozenset[str]


class AuthFailure(Exception):
    """Authentication failed. `reason` is a fixed label; `principal` names who tried, when known."""

    def __init__(self, reason: str, detail: str, principal: str = "anonymous") -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.principal = principal


def key_fingerprint(key: str) -> str:
    """First 12 hex digits of the key's SHA-256: identifies a key in audit records without revealing it."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES entries as networks; a bare address is a /32 (or /128)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def address_in(address: str, networks: Sequence[Network]) -> bool:
    """Whether `address` is an IP inside one of `networks` (anything unparsable is not)."""
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def peer_address(conn: HTTPConnection) -> str:
    """The TCP peer as the server saw it."""
    client = conn.scope.get("client")
    return str(client[0]) if client else "unknown"


def client_address(conn: HTTPConnection, trusted: Sequence[Network]) -> str:
    """The caller's address: the peer, or behind a trusted proxy the nearest untrusted X-Forwarded-For hop."""
    peer = peer_address(conn)
    if not address_in(peer, trusted):
        return peer
    forwarded = conn.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not address_in(hop, trusted):
            return hop
    return peer


def is_https(conn: HTTPConnection, trusted: Sequence[Network]) -> bool:
    """TLS to this server, or X-Forwarded-Proto: https from a trusted proxy (never from anyone else)."""
    if conn.scope.get("scheme") in ("https", "wss"):
        return True
    if address_in(peer_address(conn), trusted):
        return conn.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower() == "https"
    return False


class Authenticator:
    """Turns a request's credentials into a `Principal`, or raises `AuthFailure`."""

    def __init__(self, settings: Settings, oidc: OidcVerifier | None) -> None:
        key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
        # Compared as digests: equal length whatever is sent, and the key itself is not kept around.
        self._key_digest = hashlib.sha256(key.encode()).digest() if key else None
        self._key_name = f"api-key:{key_fingerprint(key)}" if key else ""
        self._key_roles = frozenset(settings.api_key_roles)
        self._oidc = oidc
        self._trusted = parse_networks(settings.trusted_proxies)
        self._cert_header = settings.client_cert_header.lower()
        self._cert_verify_header = settings.client_cert_verify_header.lower()
        self._cert_roles = frozenset(settings.client_cert_roles)
        self.reader_roles = frozenset(settings.reader_roles)
        self.control_roles = frozenset(settings.control_plane_roles)
        self._may_read = self.reader_roles | self.control_roles

    @property
    def trusted_proxies(self) -> tuple[Network, ...]:
        return self._trusted

    @property
    def configured(self) -> bool:
        """Whether any credential could ever be accepted (API key, OIDC, or certificates via a proxy)."""
        return self._key_digest is not None or self._oidc is not None or bool(self._trusted)

    def can_read(self, principal: Principal) -> bool:
        return not self._may_read.isdisjoint(principal.roles)

    def can_control(self, principal: Principal) -> bool:
        return not self.control_roles.isdisjoint(principal.roles)

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        """The caller, from the first credential presented; raises `AuthFailure` when none is valid."""
        api_key = conn.headers.get("x-api-key")
        if api_key is not None:
            return self._check_key(api_key.strip())
        authorization = conn.headers.get("authorization")
        if authorization is not None:
            scheme, _, credential = authorization.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                raise AuthFailure("bad_scheme", "use 'Authorization: Bearer <key or token>'")
            return await self._check_bearer(credential.strip())
        subject = conn.headers.get(self._cert_header)
        if subject is not None and address_in(peer_address(conn), self._trusted):
            subject = subject.strip()
            if subject and conn.headers.get(self._cert_verify_header, "").strip() == VERIFIED:
                return Principal(name=f"cert:{subject[:200]}", method="client-cert", roles=self._cert_roles)
            if subject:
                raise AuthFailure("unverified_cert", "missing or invalid credentials")
        if not self.configured:
            raise AuthFailure(
                "not_configured",
                "no credential is configured on this server: set API_KEY or OIDC_* (see docs/security.md)",
            )
        if subject is not None:
            # A certificate header from an address that is not a trusted proxy: anyone could have written it.
            raise AuthFailure("untrusted_cert_header", "missing or invalid credentials")
        raise AuthFailure("missing", "missing or invalid credentials")

    def _check_key(self, presented: str) -> Principal:
        if self._key_digest is not None and presented:
            digest = hashlib.sha256(presented.encode()).digest()
            if hmac.compare_digest(digest, self._key_digest):
                return Principal(name=self._key_name, method="api-key", roles=self._key_roles)
        who = f"api-key:{key_fingerprint(presented)}" if presented else "anonymous"
        raise AuthFailure("wrong_key", "missing or invalid credentials", principal=who)

    async def _check_bearer(self, credential: str) -> Principal:
        if self._key_digest is not None:
            digest = hashlib.sha256(credential.encode()).digest()
            if hmac.compare_digest(digest, self._key_digest):
                return Principal(name=self._key_name, method="api-key", roles=self._key_roles)
        if self._oidc is not None and looks_like_jwt(credential):
            try:
                token = await self._oidc.verify(credential)
            except TokenError as exc:
                raise AuthFailure(
                    "bad_token", f"invalid token: {exc.reason}", principal="unverified-token"
                ) from None
            return Principal(name=f"oidc:{token.subject[:200]}", method="oidc", roles=token.roles)
        if looks_like_jwt(credential):
            raise AuthFailure("bad_token", "missing or invalid credentials", principal="unverified-token")
        raise AuthFailure(
            "wrong_key", "missing or invalid credentials", principal=f"api-key:{key_fingerprint(credential)}"
        )
