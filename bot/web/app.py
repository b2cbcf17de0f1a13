"""The app factory: routes, middleware and the start-up that builds everything from the settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from bot import __version__
from bot.config import Settings
from bot.web.audit import DRAFT_KEY, AuditMiddleware
from bot.web.auth import is_https
from bot.web.context import ApiContext, ApiOptions, build_context
from bot.web.errors import ApiError, install_handlers
from bot.web.guards import declare_security_schemes
from bot.web.hot import mount_hot_routes
from bot.web.intake import BodyLimit, ControlPlaneGate
from bot.web.routes import control, data, health, replay, ui
from bot.web.supervisor import OrchestratorConflict, OverrideRejected
from bot.web.telemetry import ApiMetrics, RequestMetricsMiddleware

log = logging.getLogger(__name__)

# Probes come from the kubelet over plain HTTP inside the pod.
_HTTPS_EXEMPT = ("/healthz", "/readyz")

DESCRIPTION = """\
REST API of one flash-green bot: health and readiness (open), PnL, trades, open orders, spreads,
state and metrics (reader role), and the control plane (control-plane role, rate limited, audited).

Credentials: `X-API-Key: <API_KEY>`, `Authorization: Bearer <API_KEY>`, or `Authorization: Bearer
<OIDC access token>`; behind a trusted proxy, a verified client-certificate subject header.
Money is a decimal string in GBP; times are ISO 8601 UTC. A request body over 64 KiB is refused
(413). See docs/api.md and docs/security.md.
"""


class RequireHttps:
    """With REQUIRE_HTTPS, refuse plain-HTTP requests (X-Forwarded-Proto counts only from trusted proxies)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = getattr(scope["app"].state, "ctx", None) if scope["type"] == "http" else None
        if ctx is not None and ctx.settings.require_https and not scope["path"].startswith(_HTTPS_EXEMPT):
            from starlette.requests import HTTPConnection

            if not is_https(HTTPConnection(scope), ctx.auth.trusted_proxies):
                draft = scope.get(DRAFT_KEY)
                if draft is not None:
                    draft.refuse("https_required")
                response = ApiError(
                    403, "HTTPS is required: call this API through its TLS endpoint"
                ).response()
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    start_orchestrator: bool = False,
    options: ApiOptions | None = None,
) -> FastAPI:
    """The API and control panel. With `settings=None` they are built from the environment at start-up.

    `start_orchestrator=True` starts the trading loop with the server and stops it at shutdown
    (what a pod and `make run` use).
    """
    opts = options or ApiOptions()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        effective = settings
        if effective is None:
            effective = Settings()  # a ConfigError stops the server with every problem listed
            from bot.logs import configure, log_secrets

            configure(effective.log_level, effective.log_format, log_secrets(effective))
        ctx = await run_in_threadpool(build_context, effective, opts, metrics)
        app.state.ctx = ctx
        try:
            if start_orchestrator:
                await _start_loop(ctx)
            yield
        finally:
            app.state.ctx = None
            await ctx.close()

    app = FastAPI(
        title="flash-green bot API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN; /openapi.json and docs/api.md document the API
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.ctx = None
    install_handlers(app)
    declare_security_schemes(app)
    app.include_router(health.router)
    app.include_router(data.router)
    mount_hot_routes(app, data.HOT_ROUTES)
    app.include_router(control.router)
    app.include_router(replay.router)
    ui.mount_panel(app)
    # Outermost last: metrics see every response, the audit sees HTTPS refusals of the control plane,
    # the gate admits a control-plane caller before the body cap lets its body be read at all.
    app.add_middleware(BodyLimit)
    app.add_middleware(ControlPlaneGate)
    if settings is None or settings.require_https:  # known only at start-up, or asked for
        app.add_middleware(RequireHttps)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app


async def _start_loop(ctx: ApiContext) -> None:
    """Start the trading loop with the server; a failure is logged, the API keeps serving."""
    try:
        status = await ctx.supervisor.start({})
    except (OrchestratorConflict, OverrideRejected) as exc:
        log.error("the orchestrator was not started with the server: %s", exc)
        return
    if status.state == "exited":
        log.error("the orchestrator exited at once with code %s", status.exit_code)
