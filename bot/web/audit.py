"""The audit trail of the control plane: one record per call, accepted or refused.

`AuditMiddleware` wraps every `/control/...` request. The gate that admits the caller fills in
the draft (principal, roles, and once admitted the parameters); the middleware adds the final
status code when the response starts and persists the record through the journal before the
response is sent, so a client that reads `/audit` right after its call finds it there.

A refused call is recorded by its declared size and the reason, never by its content: what an
unauthenticated caller sends never reaches the disk. Every field of a record is capped, so one
record is a few kilobytes at most whatever the request carried.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.journal.records import AuditRecord
from bot.redaction import SecretMask, redact_url

log = logging.getLogger(__name__)

DRAFT_KEY = "flash_green.audit"
CONTROL_PREFIX = "/control/"
_MAX_PARAMS = 50
_MAX_VALUE = 200
_MAX_NAME = 64  # parameter names, roles and refusal reasons
_MAX_ROLES = 20
_MAX_CLIENT = 64
_MAX_PRINCIPAL = 256
_MAX_DECLARED = 20  # digits of a declared body size

ACTIONS: dict[tuple[str, str], str] = {
    ("GET", "/control/orchestrator"): "orchestrator.status",
    ("POST", "/control/orchestrator/start"): "orchestrator.start",
    ("POST", "/control/orchestrator/stop"): "orchestrator.stop",
    ("GET", "/control/tests"): "tests.status",
    ("POST", "/control/tests"): "tests.run",
}


@dataclass(slots=True)
class AuditDraft:
    """What is known about a control-plane call so far."""

    at: datetime
    client: str
    action: str
    body_bytes: str = "0"  # as declared by the caller (Content-Length), or "chunked"
    principal: str = "anonymous"
    roles: tuple[str, ...] = ()
    parameters: dict[str, str] = field(default_factory=dict)
    admitted: bool = False
    reason: str = ""
    written: bool = False

    def admit(self, principal: str, roles: tuple[str, ...], query: Mapping[str, str]) -> None:
        """The caller passed the gate: from now on its parameters may be recorded."""
        self.principal = principal
        self.roles = roles
        self.parameters.update(query)
        self.admitted = True

    def refuse(self, reason: str) -> None:
        """Record why the call is refused (a fixed label); the record will hold no content."""
        if not self.reason:
            self.reason = reason

    def finish(self, status_code: int) -> AuditRecord:
        """The record for a response with `status_code`, every field capped."""
        if 200 <= status_code < 400:
            outcome = "accepted"
        elif status_code >= 500:
            outcome = f"error:{status_code}"
        else:
            outcome = f"refused:{status_code}"
        if self.admitted and not self.reason:
            parameters = dict(self.parameters)
        else:  # refused at the gate, or its body too large: its size and why, never its content
            reason = (self.reason or "not_admitted")[:_MAX_NAME]
            parameters = {"reason": reason, "body_bytes": self.body_bytes}
        return AuditRecord(
            at=self.at,
            client=self.client[:_MAX_CLIENT],
            principal=self.principal[:_MAX_PRINCIPAL],
            roles=tuple(role[:_MAX_NAME] for role in self.roles[:_MAX_ROLES]),
            action=self.action,
            parameters=parameters,
            outcome=outcome,
            status_code=status_code,
        )


def declared_body_size(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The body size a request declares: its Content-Length (digits, capped), "chunked", or "0"."""
    for name, value in headers:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return text[:_MAX_DECLARED] if text.isascii() and text.isdigit() else "invalid"
        if name == b"transfer-encoding":
            return "chunked"
    return "0"


def action_name(method: str, path: str) -> str:
    """The audit name of a control-plane call; unknown routes keep their method and path."""
    known = ACTIONS.get((method, path.rstrip("/") or "/"))
    return known or f"{method} {path[:100]}"


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested JSON as `a.b` -> text, lists joined with spaces (what an auditor reads)."""
    out: dict[str, str] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten(item, name))
    elif isinstance(value, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in value):
            out[prefix or "value"] = " ".join("" if item is None else str(item) for item in value)
        else:
            for index, item in enumerate(value):
                out.update(flatten(item, f"{prefix}[{index}]"))
    else:
        out[prefix or "value"] = "" if value is None else str(value)
    return out


def redact(parameters: Mapping[str, str], mask: SecretMask) -> dict[str, str]:
    """Parameters fit for the audit log: masked by `mask` (URL credentials too), at most 50, each
    name cut to 64 characters and each value to 200."""
    kept = mask.mapping(dict(list(parameters.items())[:_MAX_PARAMS]))
    out = {
        _cut(key, _MAX_NAME): _cut(redact_url(value) if "://" in value else value, _MAX_VALUE)
        for key, value in kept.items()
    }
    if len(parameters) > _MAX_PARAMS:
        out["..."] = f"{len(parameters) - _MAX_PARAMS} more parameter(s) not recorded"
    return out


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def body_parameters(body: bytes) -> dict[str, str]:
    """A request body as flat parameters; a body that is not JSON is described, not stored."""
    if not body:
        return {}
    try:
        return flatten(json.loads(body))
    except (ValueError, UnicodeDecodeError):
        return {"body": f"<{len(body)} bytes, not JSON>"}


def query_parameters(query_string: bytes) -> dict[str, str]:
    return {key: value for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)}


AuditSink = Callable[[AuditRecord], Any]


class AuditMiddleware:
    """Persists one audit record per control-plane request, before its response goes out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CONTROL_PREFIX.rstrip("/")):
            await self.app(scope, receive, send)
            return
        ctx = scope["app"].state.ctx
        client = scope.get("client")
        draft = AuditDraft(
            at=datetime.now(UTC),
            client=str(client[0]) if client else "unknown",
            action=action_name(scope["method"], scope["path"]),
            body_bytes=declared_body_size(scope["headers"]),
        )
        scope[DRAFT_KEY] = draft

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start" and not draft.written:
                await _persist(ctx.record_audit, draft, int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        except Exception:
            if not draft.written:
                await _persist(ctx.record_audit, draft, 500)
            raise


async def _persist(sink: AuditSink, draft: AuditDraft, status_code: int) -> None:
    draft.written = True
    record = draft.finish(status_code)
    try:
        await run_in_threadpool(sink, record)
    except Exception:
        # The call itself already happened; losing its record is logged loudly, never silently.
        log.exception(
            "could not persist the audit record",
            extra={
                "fields": {"action": record.action, "principal": record.principal, "outcome": record.outcome}
            },
        )
