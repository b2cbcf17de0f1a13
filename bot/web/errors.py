"""Every refusal as an `ErrorBody`, and the responses each route declares in the OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from bot.web.schemas import ErrorBody

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A refusal with its status, a message the caller can act on, and optional details."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        problems: list[str] | None = None,
        retry_after_s: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.problems = problems or []
        self.retry_after_s = retry_after_s
        self.headers = dict(headers or {})
        if retry_after_s is not None:
            self.headers["Retry-After"] = str(retry_after_s)

    def response(self) -> Response:
        """The refusal as sent: an `ErrorBody` with its status and headers."""
        body = ErrorBody(detail=self.detail, problems=self.problems, retry_after_s=self.retry_after_s)
        return Response(
            content=body.model_dump_json(),
            status_code=self.status_code,
            media_type="application/json",
            headers=self.headers,
        )


def _describe(status_code: int) -> str:
    return {
        401: "Missing or invalid credentials (X-API-Key, or Authorization: Bearer <key or OIDC token>).",
        403: "Authenticated but lacking the role, the control plane is disabled, or HTTPS is required.",
        404: "Not found.",
        413: "The request body is larger than 64 KiB (65536 bytes), the most this API accepts.",
        409: "Conflicts with the current state (a loop or a test run already in progress, or none to stop).",
        422: "The request is invalid; `problems` names each field or setting.",
        429: "Rate limited; retry after `Retry-After` seconds.",
        500: "Internal error; details are in the server log, never in the response.",
        503: "Not available right now.",
    }.get(status_code, "Error.")


def declared(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each code with the `ErrorBody` model."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _describe(code)}
        if code == 429:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
            }
        if code == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "Bearer.", "schema": {"type": "string"}}}
        out[code] = entry
    return out


READER_ERRORS = declared(401, 403, 422, 429, 500)
CONTROL_ERRORS = declared(401, 403, 409, 413, 422, 429, 500)


def install_handlers(app: FastAPI) -> None:
    """Render every refusal, including FastAPI's own validation errors, as an `ErrorBody`."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(part) for part in err.get("loc", ()) if part != "body") or "request"
            problems.append(f"{loc}: {err.get('msg', 'invalid')}")
        return ApiError(422, "the request is invalid", problems=problems).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # a body that could not be parsed: one status for every invalid request
            return ApiError(422, "the request is invalid", problems=["body: not valid JSON"]).response()
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        return ApiError(exc.status_code, detail, headers=getattr(exc, "headers", None)).response()

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return ApiError(500, "internal error; see the server log").response()
