"""Route guards: a reader for the data endpoints, a control-plane caller for the control plane.

Order of a guard: lock-out after repeated failed authentications (429), authentication (401),
role (403), and for the control plane its own rate limit (429). With no credential configured the
control plane refuses every request (403) before looking at what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request

from bot.web.audit import DRAFT_KEY, AuditDraft, body_parameters
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


def context(request: Request) -> ApiContext:
    ctx: ApiContext | None = getattr(request.app.state, "ctx", None)
    if ctx is None:
        raise ApiError(503, "the API is starting")
    return ctx


async def _authenticate(request: Request, ctx: ApiContext, draft: AuditDraft | None) -> Principal:
    client = client_address(request, ctx.auth.trusted_proxies)
    lockout = ctx.limits.locked_out(client)
    if not lockout.allowed:
        ctx.metrics.rate_limited.labels("auth_failures").inc()
        raise ApiError(
            429,
            "too many failed authentications from this address; retry later",
            retry_after_s=lockout.retry_after_s,
        )
    try:
        principal = await ctx.auth.authenticate(request)
    except AuthFailure as failure:
        ctx.limits.auth_failed(client)
        ctx.metrics.auth_failures.labels(failure.reason).inc()
        if draft is not None:
            draft.principal = failure.principal
        raise ApiError(401, failure.detail, headers={"WWW-Authenticate": "Bearer"}) from None
    if draft is not None:
        draft.principal = principal.name
        draft.roles = tuple(sorted(principal.roles))
    return principal


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


async def controller(request: Request) -> Caller:
    """A control-plane caller, rate limited; fills in the call's audit record as it goes."""
    ctx = context(request)
    draft: AuditDraft | None = request.scope.get(DRAFT_KEY)
    if draft is not None:
        draft.client = client_address(request, ctx.auth.trusted_proxies)
        draft.parameters.update(ctx.redact(body_parameters(await request.body())))
    if not ctx.auth.configured:
        raise ApiError(
            403,
            "the control plane is disabled: no credential is configured on this server, so every request "
            "is refused (set API_KEY or OIDC_ISSUER/OIDC_AUDIENCE/OIDC_JWKS_URL)",
        )
    principal = await _authenticate(request, ctx, draft)
    if not ctx.auth.can_control(principal):
        ctx.metrics.forbidden.labels("control").inc()
        raise ApiError(
            403, f"the control plane needs one of the roles: {', '.join(sorted(ctx.auth.control_roles))}"
        )
    verdict = ctx.limits.control_call(principal.name)
    if not verdict.allowed:
        ctx.metrics.rate_limited.labels("control_plane").inc()
        raise ApiError(
            429, "control-plane rate limit reached; retry later", retry_after_s=verdict.retry_after_s
        )
    return Caller(principal, ctx)
