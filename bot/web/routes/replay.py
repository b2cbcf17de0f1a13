"""The control plane's replay: start a replay of a file in the bot's data directory, follow it, cancel
it, read its report (JSON, or the self-contained HTML page).

Under `/control/`, so every call needs a control-plane role, is rate limited and leaves an audit
record, as the other control calls do. One replay at a time (409 while one runs); files outside
DATA_DIR are refused (403). The work is `bot.replay.service`, the same code as `flash-green replay`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import FileResponse, Response

from bot.config import ConfigError
from bot.replay.backtest import config_message, parse_assignment, parse_sweep
from bot.replay.errors import ReplayError
from bot.replay.service import ReplayBusy, ReplayFileMissing, ReplayRefused, ReplayService
from bot.web.errors import CONTROL_ERRORS, ApiError, declared
from bot.web.guards import SECURED, Caller, controller

router = APIRouter(prefix="/control/replay", tags=["control plane"])
Controller = Annotated[Caller, Depends(controller)]


class ReplayStart(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {"file": "ticks/ticks-20260105T000000000000Z.parquet", "set": ["SLIPPAGE_BP=10"]}
        },
    )

    file: str = Field(
        min_length=1, max_length=500, description="Tick file or spot feed, relative to DATA_DIR."
    )
    futures: str | None = Field(default=None, max_length=500, description="Futures feed beside a spot feed.")
    set: list[str] = Field(default_factory=list, max_length=50, description="NAME=VALUE settings.")
    sweep: list[str] = Field(default_factory=list, max_length=5, description="NAME=V1,V2 sweeps.")
    from_: datetime | None = Field(default=None, alias="from", description="First change replayed (UTC).")
    to: datetime | None = Field(default=None, description="Last change replayed (UTC).")


class ReplayStatus(BaseModel):
    state: str = Field(description="idle, running, done, failed or cancelled.")
    replay_id: str | None
    file: str | None
    rows_read: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


def _service(request: Request, call: Caller) -> ReplayService:
    service: ReplayService | None = getattr(request.app.state, "replay", None)
    if service is None:
        service = request.app.state.replay = ReplayService(call.ctx.settings.data_dir)
    return service


def _status(service: ReplayService, code: int = 200) -> Response:
    body = ReplayStatus(**service.describe())
    return Response(body.model_dump_json(), status_code=code, media_type="application/json")


@router.get("", response_model=ReplayStatus, responses=CONTROL_ERRORS, openapi_extra=SECURED)
async def replay_status(request: Request, call: Controller) -> Response:
    """The current or last replay: its state, rows read so far, and its error if it failed."""
    return _status(_service(request, call))


@router.post(
    "",
    response_model=ReplayStatus,
    status_code=202,
    responses={**CONTROL_ERRORS, **declared(404)},
    openapi_extra=SECURED,
)
async def replay_start(request: Request, call: Controller, body: Annotated[ReplayStart, Body()]) -> Response:
    """Start a replay of a file in DATA_DIR: 409 while one runs, 403 for a path outside DATA_DIR,
    404 for a file that is not there, 422 for a bad setting (the bot's own message)."""
    service = _service(request, call)
    try:
        service.start(
            body.file,
            futures=body.futures,
            sets=dict(parse_assignment(s) for s in body.set),
            sweep=[parse_sweep(s) for s in body.sweep],
            since=body.from_,
            until=body.to,
        )
    except ReplayBusy as exc:
        raise ApiError(409, str(exc)) from None
    except ReplayRefused as exc:
        raise ApiError(403, str(exc)) from None
    except ReplayFileMissing as exc:
        raise ApiError(404, str(exc)) from None
    except ConfigError as exc:
        raise ApiError(422, config_message(exc), problems=exc.messages) from None
    except ReplayError as exc:
        raise ApiError(422, str(exc)) from None
    return _status(service, 202)


@router.post("/cancel", response_model=ReplayStatus, responses=CONTROL_ERRORS, openapi_extra=SECURED)
async def replay_cancel(request: Request, call: Controller) -> Response:
    """Cancel the running replay (409 when none runs); nothing of it is kept."""
    service = _service(request, call)
    try:
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(service.cancel)
    except ReplayBusy as exc:
        raise ApiError(409, str(exc)) from None
    return _status(service)


_JSON_REPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "report.json (docs/replay.md)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_HTML_REPORT: dict[int | str, dict[str, Any]] = {
    200: {"description": "report.html", "content": {"text/html": {"schema": {"type": "string"}}}}
}


@router.get(
    "/report",
    response_class=FileResponse,
    responses={**_JSON_REPORT, **CONTROL_ERRORS, **declared(404)},
    openapi_extra=SECURED,
)
async def replay_report(request: Request, call: Controller) -> Response:
    """The last finished replay's report as JSON (docs/replay.md); 404 before one finished."""
    path = _service(request, call).report("json")
    if path is None:
        raise ApiError(404, "no finished replay yet")
    return FileResponse(path, media_type="application/json")


@router.get(
    "/report.html",
    response_class=FileResponse,
    responses={**_HTML_REPORT, **CONTROL_ERRORS, **declared(404)},
    openapi_extra=SECURED,
)
async def replay_report_html(request: Request, call: Controller) -> Response:
    """The last finished replay's report as one self-contained HTML page; 404 before one finished."""
    path = _service(request, call).report("html")
    if path is None:
        raise ApiError(404, "no finished replay yet")
    return FileResponse(path, media_type="text/html; charset=utf-8")
