"""Route guards: a reader for the data endpoints, a control-plane caller for the control plane.

Order of a guard: authentication (401, or 429 once the address has failed too often), role (403),
and for the control plane its own rate limit (429). With no credential configured the control
plane refuses every request (403) before looking at what was sent.

The lock-out counts failed authentications per client address and refuses only further
*failures* from a locked-out address: a valid credential is always let through, so an anonymous
client sharing an address with the desk (an ingress without TRUSTED_PROXIES) cannot lock it out.

The control plane is admitted from the headers alone, by `bot.web.intake.ControlPlaneGate`,
before a byte of the body is read; the `controller` dependency only hands over what it admitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from starlette.requests import HTTPConnection

from bot.web.audit import DRAFT_KEY, AuditDraft, body_parameters, query_parameters
from bot.web.auth import AuthFailure, Principal, client_address
from bot.web.context import ApiContext
from bot.web.errors import ApiError

# The two ways of presenting a credential, as the OpenAPI document names them. The guards read
# the headers themselves (one dependency per route, on the hot path of every call), so a wrong
# credential is never silently ignored.
SECURITY_SCHEMES: dict[str, Any] = {
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "API_KEY"},
    "HTTPBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "API_KEY, or an OIDC access token (JWT)",
    },
}
SECURED: dict[str, Any] = {"security": [{"APIKeyHeader": []}, {"HTTPBearer": []}]}


def declare_security_schemes(app: FastAPI) -> None:
    """Add the credential schemes to the app's OpenAPI document (routes reference them via SECURED)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        return document

    app.openapi = openapi  # type: ignore[method-assign]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authorised caller and the API's shared context."""

    principal: Principal
    ctx: ApiContext


CALLER_KEY = "flash_green.caller"


def context(conn: HTTPConnection) -> ApiContext:
    ctx: ApiContext | None = getattr(conn.app.state, "ctx", None)
    if ctx is None:
        raise ApiError(503, "the API is starting")
    return ctx


async def _authenticate(conn: HTTPConnection, ctx: ApiContext, draft: AuditDraft | None) -> Principal:
    try:
        return await ctx.auth.authenticate(conn)
    except AuthFailure as failure:
        client = client_address(conn, ctx.auth.trusted_proxies)
        lockout = ctx.limits.locked_out(client)
        ctx.limits.auth_failed(client)
        ctx.metrics.auth_failures.labels(failure.reason).inc()
        if draft is not None:
            draft.principal = failure.principal
            draft.refuse(failure.reason if lockout.allowed else "locked_out")
        if not lockout.allowed:
            ctx.metrics.rate_limited.labels("auth_failures").inc()
            raise ApiError(
                429,
                "too many failed authentications from this address; retry later",
                retry_after_s=lockout.retry_after_s,
            ) from None
        raise ApiError(401, failure.detail, headers={"WWW-Authenticate": "Bearer"}) from None


async def reader(request: Request) -> Caller:
    """A caller holding a reader or control-plane role."""
    ctx = context(request)
    principal = await _authenticate(request, ctx, None)
    if not ctx.auth.can_read(principal):
        ctx.metrics.forbidden.labels("read").inc()
        raise ApiError(403, f"reading needs one of the roles: {', '.join(sorted(ctx.auth.reader_roles))}")
    return Caller(principal, ctx)


async def authenticated(request: Request) -> Caller:
    """Any authenticated caller, whatever its roles."""
    ctx = context(request)
    return Caller(await _authenticate(request, ctx, None), ctx)


async def auditor(request: Request) -> Caller:
    """A caller holding a control-plane role (reading the audit log is a control-plane matter)."""
    ctx = context(request)
    principal = await _authenticate(request, ctx, None)
    if not ctx.auth.can_control(principal):
        ctx.metrics.forbidden.labels("audit").inc()
        raise ApiError(
            403, f"the audit log needs one of the roles: {', '.join(sorted(ctx.auth.control_roles))}"
        )
    return Caller(principal, ctx)


async def admit_controller(conn: HTTPConnection, ctx: ApiContext, draft: AuditDraft | None) -> Caller:
    """A control-plane caller, judged from the headers alone (the body is not read yet).

    Raises `ApiError` (403 nothing configured, 401/429 authentication, 403 role, 429 rate limit)
    and notes the refusal's reason in the audit draft; on success the draft is admitted.
    """
    if draft is not None:
        draft.client = client_address(conn, ctx.auth.trusted_proxies)
    if not ctx.auth.configured:
        if draft is not None:
            draft.refuse("not_configured")
        raise ApiError(
            403,
            "the control plane is disabled: no credential is configured on this server, so every request "
            "is refused (set API_KEY or OIDC_ISSUER/OIDC_AUDIENCE/OIDC_JWKS_URL)",
        )
    principal = await _authenticate(conn, ctx, draft)
    if draft is not None:
        draft.principal = principal.name
        draft.roles = tuple(sorted(principal.roles))
    if not ctx.auth.can_control(principal):
        ctx.metrics.forbidden.labels("control").inc()
        if draft is not None:
            draft.refuse("missing_role")
        raise ApiError(
            403, f"the control plane needs one of the roles: {', '.join(sorted(ctx.auth.control_roles))}"
        )
    verdict = ctx.limits.control_call(principal.name)
    if not verdict.allowed:
        ctx.metrics.rate_limited.labels("control_plane").inc()
        if draft is not None:
            draft.refuse("rate_limited")
        raise ApiError(
            429, "control-plane rate limit reached; retry later", retry_after_s=verdict.retry_after_s
        )
    if draft is not None:
        query = query_parameters(conn.scope.get("query_string", b""))
        draft.admit(principal.name, tuple(sorted(principal.roles)), ctx.redact(query))
    return Caller(principal, ctx)


async def controller(request: Request) -> Caller:
    """The control-plane caller the gate admitted; its body's parameters go into the audit record."""
    caller: Caller | None = request.scope.get(CALLER_KEY)
    if caller is None:  # the gate runs in front of every /control route (see bot/web/app.py)
        raise ApiError(500, "the control-plane gate is not installed")
    draft: AuditDraft | None = request.scope.get(DRAFT_KEY)
    if draft is not None:
        draft.parameters.update(caller.ctx.redact(body_parameters(await request.body())))
    return caller
