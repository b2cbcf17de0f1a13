"""The control plane: start and stop the trading loop, read its state and log, run the test suite.

Every route here needs a control-plane role, is rate limited, and leaves an audit record
(accepted or refused) through `AuditMiddleware`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from starlette.responses import Response

from bot.orchestrator.lock import EXIT_ALREADY_RUNNING
from bot.web import present
from bot.web.errors import CONTROL_ERRORS, ApiError, declared
from bot.web.guards import SECURED, Caller, controller
from bot.web.schemas import OrchestratorStatus, StartRequest, SuiteRunRequest, SuiteRunResult, SuiteRunStatus
from bot.web.suite_runner import SuiteBusy, SuiteRejected, SuiteUnavailable
from bot.web.supervisor import OrchestratorConflict, OverrideRejected

router = APIRouter(prefix="/control", tags=["control plane"])

Controller = Annotated[Caller, Depends(controller)]


def _json(model: object, status_code: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")  # type: ignore[attr-defined]


@router.get(
    "/orchestrator", response_model=OrchestratorStatus, responses=CONTROL_ERRORS, openapi_extra=SECURED
)
async def orchestrator_status(call: Controller) -> Response:
    """State, pid, exit code and the last lines of output of the trading loop."""
    return _json(present.loop_status(call.ctx.supervisor.status(with_tail=True)))


@router.post(
    "/orchestrator/start",
    response_model=OrchestratorStatus,
    status_code=202,
    responses=CONTROL_ERRORS,
    openapi_extra=SECURED,
)
async def orchestrator_start(
    call: Controller, body: Annotated[StartRequest, Body(default_factory=StartRequest)]
) -> Response:
    """Start `python -m bot.orchestrator` with KEY=VALUE overrides (known, non-secret settings only).

    409 when a loop is already running (here or elsewhere) or the new one exits at once.
    """
    try:
        status = await call.ctx.supervisor.start(body.overrides)
    except OverrideRejected as exc:
        raise ApiError(422, "overrides rejected", problems=exc.problems) from None
    except OrchestratorConflict as exc:
        raise ApiError(409, str(exc)) from None
    if status.state == "exited":
        reason = (
            "another orchestrator holds the lock"
            if status.exit_code == EXIT_ALREADY_RUNNING
            else "it exited at once; its last lines of output follow"
        )
        raise ApiError(
            409,
            f"the orchestrator did not stay up (exit code {status.exit_code}): {reason}",
            problems=list(status.log_tail[-20:]),
        )
    return _json(present.loop_status(status), status_code=202)


@router.post(
    "/orchestrator/stop", response_model=OrchestratorStatus, responses=CONTROL_ERRORS, openapi_extra=SECURED
)
async def orchestrator_stop(call: Controller) -> Response:
    """SIGTERM the loop started here (it finishes or unwinds its cycle), SIGKILL after the grace period."""
    try:
        status = await call.ctx.supervisor.stop()
    except OrchestratorConflict as exc:
        raise ApiError(409, str(exc)) from None
    return _json(present.loop_status(status))


@router.get("/tests", response_model=SuiteRunStatus, responses=CONTROL_ERRORS, openapi_extra=SECURED)
async def tests_status(call: Controller) -> Response:
    """Whether a test run is in progress, and the last run's result."""
    last = call.ctx.suite.last()
    return _json(
        SuiteRunStatus(running=call.ctx.suite.running, last=present.suite_run(last) if last else None)
    )


@router.post(
    "/tests",
    response_model=SuiteRunResult,
    responses={**CONTROL_ERRORS, **declared(503)},
    openapi_extra=SECURED,
)
async def tests_run(
    call: Controller, body: Annotated[SuiteRunRequest, Body(default_factory=SuiteRunRequest)]
) -> Response:
    """Run `python -m pytest` on the project's suite and return its result (one run at a time).

    `k` and `markers` select tests; `flags` must come from the allowlist; the run is stopped after
    the timeout (300 s unless the server sets less) and its output is capped, with a marker saying
    how much was cut.
    """
    try:
        run = await call.ctx.suite.run(
            k=body.k, markers=body.markers, flags=body.flags, timeout_s=body.timeout_s
        )
    except SuiteRejected as exc:
        raise ApiError(422, "test arguments rejected", problems=exc.problems) from None
    except SuiteBusy as exc:
        raise ApiError(409, str(exc)) from None
    except SuiteUnavailable as exc:
        raise ApiError(503, str(exc)) from None
    return _json(present.suite_run(run))
