"""Open probes: liveness (`/healthz`) and readiness (`/readyz`, or `/healthz?probe=readiness`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bot import __version__
from bot.venues.base import VenueHealth
from bot.web.context import ApiContext
from bot.web.errors import declared
from bot.web.readiness import Check
from bot.web.schemas import CheckResult, HealthResponse, ReadinessResponse, VenueStatus

router = APIRouter(tags=["health"])

_LIVE = HealthResponse(version=__version__).model_dump_json().encode()


@router.get(
    "/healthz",
    response_model=HealthResponse | ReadinessResponse,
    responses={
        503: {"model": ReadinessResponse, "description": "Not ready (with probe=readiness)."},
        **declared(422),
    },
    summary="Liveness; with probe=readiness, the readiness report",
)
async def healthz(
    request: Request,
    probe: Literal["liveness", "readiness"] = Query(
        "liveness", description="`readiness` answers as /readyz (kept for the original's callers)."
    ),
) -> Response:
    """200 while the process serves requests. `?probe=readiness` runs the readiness checks."""
    if probe == "readiness":
        return await readyz(request)
    return Response(content=_LIVE, media_type="application/json")


@router.get(
    "/readyz",
    response_model=ReadinessResponse,
    responses={503: {"model": ReadinessResponse, "description": "Not ready: a failing check is named."}},
    summary="Readiness: configuration, journal, trading loop, venues",
)
async def readyz(request: Request) -> Response:
    """200 when the journal answers, every enabled venue is reachable and the loop has not failed."""
    ctx: ApiContext | None = getattr(request.app.state, "ctx", None)
    if ctx is None:
        report = ReadinessResponse(
            ready=False,
            orchestrator="unknown",
            checks=[CheckResult(name="startup", status="fail", detail="starting")],
        )
        return Response(report.model_dump_json(), status_code=503, media_type="application/json")
    checks = [Check("config", "ok", "settings validated at start-up")]
    checks.append(await _journal(ctx))
    loop = ctx.supervisor.status()
    if ctx.supervisor.failed:
        checks.append(Check("orchestrator", "fail", f"exited with code {loop.exit_code}"))
    else:
        checks.append(Check("orchestrator", "ok", loop.state))
    probed = await ctx.venues.round()
    checks += probed.checks
    ready = all(check.status != "fail" for check in checks)
    report = ReadinessResponse(
        ready=ready,
        orchestrator=loop.state,
        checks=[CheckResult(name=c.name, status=c.status, detail=c.detail) for c in checks],
        venues=[venue_status(health) for health in probed.venues],
    )
    return Response(
        report.model_dump_json(), status_code=200 if ready else 503, media_type="application/json"
    )


async def _journal(ctx: ApiContext) -> Check:
    try:
        await run_in_threadpool(ctx.journal.ping)
    except Exception:
        return Check("journal", "fail", "unreachable")
    return Check("journal", "ok", "reachable")


def venue_status(health: VenueHealth) -> VenueStatus:
    latency = health.last_latency_s
    return VenueStatus(
        venue=health.venue,
        leg=health.leg,
        up=health.up,
        breaker=health.breaker,
        last_outcome=health.last_outcome,
        last_latency_ms=round(latency * 1000, 3) if latency is not None else None,
        consecutive_failures=health.consecutive_failures,
    )
