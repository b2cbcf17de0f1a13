"""Authenticated reads: who am I, metrics, PnL, trades, open orders, spreads, state, audit log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.types import DecoratedCallable
from pydantic import AwareDatetime, BaseModel
from starlette.responses import Response

from bot.config.toggles import trading_mode
from bot.domain.window import market_closed
from bot.journal.records import TradeRecord
from bot.web import present
from bot.web.context import ApiContext
from bot.web.errors import READER_ERRORS, declared
from bot.web.guards import SECURED, Caller, auditor, authenticated, reader
from bot.web.hot import HotGet, IntQuery
from bot.web.schemas import (
    AuditPage,
    OpenOrdersResponse,
    PnlResponse,
    SpreadsResponse,
    StateResponse,
    TradesPage,
    WhoAmI,
)

router = APIRouter()

MAX_PAGE = 500
MAX_SPREAD_POINTS = 1000
MAX_HISTORY_DAYS = 366
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
JOURNAL_ERRORS = {**READER_ERRORS, **declared(503)}

Reader = Annotated[Caller, Depends(reader)]


def journal_read(
    path: str, model: type[BaseModel], *, tags: Sequence[str] = ("data",), **extra: Any
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """Declare a GET route that reads the journal: response model, refusals (503 included), credentials."""
    return router.get(
        path, response_model=model, responses=JOURNAL_ERRORS, tags=list(tags), openapi_extra=SECURED, **extra
    )


def _json(model: object) -> Response:
    # Serialised by pydantic in one pass; the route's response_model documents the shape.
    return Response(model.model_dump_json(), media_type="application/json")  # type: ignore[attr-defined]


@router.get(
    "/whoami", response_model=WhoAmI, responses=READER_ERRORS, tags=["identity"], openapi_extra=SECURED
)
async def whoami(call: Annotated[Caller, Depends(authenticated)]) -> WhoAmI:
    """The caller's identity and roles, and whether it may read and use the control plane."""
    principal, auth = call.principal, call.ctx.auth
    return WhoAmI(
        principal=principal.name,
        method=principal.method,
        roles=sorted(principal.roles),
        can_read=auth.can_read(principal),
        can_control=auth.can_control(principal),
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {PROMETHEUS_TEXT: {"schema": {"type": "string"}}},
            "description": "Prometheus text.",
        },
        **READER_ERRORS,
    },
    tags=["data"],
    openapi_extra=SECURED,
)
async def metrics(call: Reader) -> Response:
    """The orchestrator's series (from its exporter on loopback) followed by the API's own."""
    ctx = call.ctx
    body = b""
    port = ctx.supervisor.metrics_port
    up = 0
    if port:
        try:
            answer = await ctx.http.get(f"http://127.0.0.1:{port}/metrics", timeout=2.0)
            if answer.status_code == 200:
                body = answer.content
                up = 1
        except httpx.HTTPError:
            pass
    ctx.metrics.orchestrator_metrics_up.set(up)
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return Response(body + ctx.metrics.exposition(), media_type=PROMETHEUS_TEXT)


DAYS = IntQuery("days", default=7, ge=1, le=MAX_HISTORY_DAYS, description="Days of history, today included.")


async def pnl(request: Request) -> Response:
    """Today's realised PnL and losses, and one entry per UTC day before it (one indexed query)."""
    call = await reader(request)
    days = DAYS.read(request)
    ctx = call.ctx
    now = datetime.now(UTC)
    today = now.date()
    history = await ctx.read(lambda: ctx.journal.pnl_history(today - timedelta(days=days - 1), today))
    entries = [present.daily_fields(entry) for entry in history]
    # Validated from plain fields in one call into pydantic's core (no model built per day).
    body = PnlResponse.model_validate(
        {
            "as_of": now,
            "daily_loss_limit_gbp": ctx.supervisor.effective_settings.max_daily_loss_gbp,
            "today": entries[-1],
            "history": entries,
        }
    )
    return _json(body)


# Polled by dashboards: served without FastAPI's per-request machinery (see bot/web/hot.py).
HOT_ROUTES = (
    HotGet(
        "/pnl",
        pnl,
        PnlResponse,
        JOURNAL_ERRORS,
        summary="Pnl",
        tags=["data"],
        parameters=(DAYS,),
        extra=SECURED,
    ),
)


@journal_read("/trades", TradesPage)
async def trades(
    call: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size, at most {MAX_PAGE}.")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    since: Annotated[
        AwareDatetime | None, Query(description="Executed at or after (ISO 8601 with zone).")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="Executed before (ISO 8601 with zone).")] = None,
) -> Response:
    """Executed trades in [since, until), newest first, with the total matching the filter.

    `since` at or after `until` is an empty interval: an empty page.
    """
    journal = call.ctx.journal

    def page() -> tuple[list[TradeRecord], int]:
        items = journal.trades(since=since, until=until, limit=limit, offset=offset)
        return items, journal.count_trades(since=since, until=until)

    items, total = await call.ctx.read(page)
    return _json(
        TradesPage(
            items=[present.trade(item) for item in items],
            total=total,
            limit=limit,
            offset=offset,
            since=since,
            until=until,
        )
    )


@journal_read("/orders/open", OpenOrdersResponse)
async def open_orders(call: Reader) -> Response:
    """Orders not final yet (in flight in the current cycle, or awaiting recovery)."""
    orders = await call.ctx.read(call.ctx.journal.open_orders)
    return _json(OpenOrdersResponse(items=[present.order(item) for item in orders]))


@journal_read("/spreads", SpreadsResponse)
async def spreads(
    call: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_SPREAD_POINTS)] = 200,
    since: Annotated[
        AwareDatetime | None, Query(description="Points at or after (ISO 8601 with zone).")
    ] = None,
) -> Response:
    """Recent spreads (futures fill minus power fill) of executed trades, oldest first."""
    records = await call.ctx.read(lambda: call.ctx.journal.trades(since=since, limit=limit))
    return _json(SpreadsResponse(items=present.spread_points(records), source="trades"))


def _state(ctx: ApiContext) -> StateResponse:
    now = datetime.now(UTC)
    settings = ctx.supervisor.effective_settings
    closed = market_closed(
        now,
        settings.trading_window,
        allow_weekend=settings.allow_weekend_trading,
        trading_enabled=settings.trading_enabled,
    )
    return StateResponse(
        as_of=now,
        simulated=settings.simulated,
        mode=trading_mode(settings),
        trading_window_open=closed is None,
        market_profile=settings.sim_profile,
        settings=settings.public_view(),
        orchestrator=present.loop_summary(ctx.supervisor.status()),
        blocked_today=present.blocked(ctx.journal.skipped_counts(now.date())),
    )


@journal_read("/state", StateResponse)
async def state(call: Reader) -> Response:
    """The loop's effective non-secret settings (the API's, with the running loop's overrides), its
    state, and today's blocked-cycle reasons."""
    return _json(await call.ctx.read(lambda: _state(call.ctx)))


@journal_read(
    "/ui/state", StateResponse, deprecated=True, summary="Same as /state (the original control panel's path)"
)
async def ui_state(call: Reader) -> Response:
    return await state(call)


@journal_read("/audit", AuditPage, tags=["control plane"])
async def audit_log(
    call: Annotated[Caller, Depends(auditor)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Control-plane calls, newest first (needs a control-plane role)."""
    records = await call.ctx.read(lambda: call.ctx.journal.audit_log(limit=limit, offset=offset))
    return _json(AuditPage(items=[present.audit(r) for r in records], limit=limit, offset=offset))
