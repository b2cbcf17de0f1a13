"""Hot read paths: plain Starlette routes, documented in the same OpenAPI document as the rest.

FastAPI's per-request machinery (dependency solving, parameter models, response handling) costs
about 40-70 µs of CPU here, as much as the whole of a trivial endpoint; on the paths that
dashboards and scrapers poll (`/pnl`) it would halve the requests a worker serves. A hot route
does the same work by hand, in the same order (credentials, then parameters), with the same
models: its response is still built and serialised by the pydantic model the document declares,
and schemathesis checks the two against each other.

Measured, not assumed: under `bench/bench_api.py` (50 connections) a plain FastAPI `/pnl` made
0.38 of a trivial endpoint's req/s with 3.8x its p99; this path makes 0.61 and 1.3x, within the
budget (docs/api.md, "Performance", has the figures).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.web.errors import ApiError
from bot.web.schemas import ErrorBody

REF = "#/components/schemas/{model}"
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}", re.ASCII)


@dataclass(frozen=True)
class IntQuery:
    """An optional integer query parameter with bounds, as FastAPI's `Query(ge=, le=)` would check it."""

    name: str
    default: int
    ge: int
    le: int
    description: str

    def read(self, request: Request) -> int:
        """The parameter's value; a 422 naming it when it is not an integer within its bounds."""
        if not request.scope.get("query_string"):  # the common call: no parsing at all
            return self.default
        raw = request.query_params.get(self.name)
        if raw is None:
            return self.default
        text = raw.strip()
        # ASCII digits only: str.isdigit() and int() also take "①" or "٣", and "①" then fails in int()
        if _INTEGER.fullmatch(text) is None:
            raise _invalid(self.name, "Input should be a valid integer")
        value = int(text)
        if value < self.ge:
            raise _invalid(self.name, f"Input should be greater than or equal to {self.ge}")
        if value > self.le:
            raise _invalid(self.name, f"Input should be less than or equal to {self.le}")
        return value

    def openapi(self) -> dict[str, Any]:
        schema = {"type": "integer", "minimum": self.ge, "maximum": self.le, "default": self.default}
        return {
            "name": self.name,
            "in": "query",
            "required": False,
            "schema": schema,
            "description": self.description,
        }


def _invalid(name: str, message: str) -> ApiError:
    return ApiError(422, "the request is invalid", problems=[f"query.{name}: {message}"])


@dataclass(frozen=True)
class HotGet:
    """A GET route served by Starlette and described in the OpenAPI document."""

    path: str
    endpoint: Callable[[Request], Awaitable[Response]]
    response_model: type[BaseModel]
    errors: Mapping[int | str, Mapping[str, Any]]
    summary: str
    tags: Sequence[str]
    parameters: Sequence[IntQuery] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def operation(self) -> dict[str, Any]:
        responses: dict[str, Any] = {
            "200": {
                "description": "Successful Response",
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=self.response_model.__name__)}}
                },
            }
        }
        for code, spec in self.errors.items():
            entry: dict[str, Any] = {"description": spec.get("description", "")}
            model = spec.get("model")
            if model is not None:
                entry["content"] = {
                    "application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}
                }
            if "headers" in spec:
                entry["headers"] = spec["headers"]
            responses[str(code)] = entry
        operation: dict[str, Any] = {
            "tags": list(self.tags),
            "summary": self.summary,
            "description": (self.endpoint.__doc__ or "").strip(),
            "operationId": f"{self.endpoint.__name__}_{self.path.strip('/').replace('/', '_')}_get",
            "responses": responses,
        }
        if self.parameters:
            operation["parameters"] = [parameter.openapi() for parameter in self.parameters]
        operation.update(self.extra)
        return operation


class LabelledRoute(Route):
    """A Starlette route that, like FastAPI's, names itself in the scope (for the request metrics)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


def mount_hot_routes(app: FastAPI, routes: Sequence[HotGet]) -> None:
    """Serve `routes` ahead of the FastAPI routes and add them to the app's OpenAPI document."""
    for route in routes:
        app.router.routes.insert(
            0, LabelledRoute(route.path, route.endpoint, methods=["GET"], name=route.endpoint.__name__)
        )
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        if all(route.path in document["paths"] for route in routes):
            return document
        models = {route.response_model for route in routes} | {ErrorBody}
        _, schemas = models_json_schema([(model, "serialization") for model in models], ref_template=REF)
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in schemas.get("$defs", {}).items():
            components.setdefault(name, schema)
        for route in routes:
            document["paths"][route.path] = {"get": route.operation()}
        return document

    app.openapi = openapi  # type: ignore[method-assign]
