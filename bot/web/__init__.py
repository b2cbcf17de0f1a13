"""The bot's REST API and control panel (`uvicorn bot.web:api`, or `flash-green api` / `run`).

Importing this package builds nothing and reads nothing: `api` creates the application on the
server's first event (the lifespan start-up), which is when the settings are read.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.config import Settings
    from bot.web.context import ApiOptions

__all__ = ["api", "create_app", "serve"]


def create_app(
    settings: Settings | None = None,
    *,
    start_orchestrator: bool = False,
    options: ApiOptions | None = None,
) -> FastAPI:
    """The API and control panel; see `bot.web.app.create_app`."""
    from bot.web.app import create_app as build

    return build(settings, start_orchestrator=start_orchestrator, options=options)


class _LazyApi:
    """An ASGI app that builds the real one on its first call (settings are read at start-up)."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)


api = _LazyApi()


def serve(settings: Settings, *, start_orchestrator: bool) -> None:
    """Run the API with production server settings: one uvicorn worker, uvloop, httptools, no access log."""
    import uvicorn

    from bot.logs import configure, log_secrets

    configure(settings.log_level, settings.log_format, log_secrets(settings))
    app = create_app(settings, start_orchestrator=start_orchestrator)
    # uvicorn re-raises SIGTERM/SIGINT once it has shut down; with these handlers in place the
    # re-raised signal is absorbed and a clean shutdown exits 0, as the orchestrator does
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(app, **server_options(settings))


def server_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings production uses (the benchmark serves its ceiling with the same)."""
    from bot.domain.shutdown import ShutdownBudget

    # The drain covers a control-plane stop waiting for the loop; then the lifespan stops the loop.
    # The pod's terminationGracePeriodSeconds (the operator's Deployment) is sized on the same
    # budget: drain, then the loop's order deadline, then a margin.
    budget = ShutdownBudget.for_timeout(settings.order_timeout_secs)
    return {
        "host": settings.api_host,
        "port": settings.api_port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_config": None,  # keep bot.logs' handlers (secret masking, JSON)
        "proxy_headers": False,  # forwarded headers are trusted by bot.web.auth, from TRUSTED_PROXIES only
        "server_header": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": budget.api_drain_s,
    }
