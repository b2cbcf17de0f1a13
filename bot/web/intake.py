"""What a request passes before its body is read: the control-plane gate, then the body cap.

Both are pure ASGI middleware, so nothing is buffered on their way. FastAPI reads and parses a
route's body *before* it solves the route's dependencies; a guard written as a dependency would
let any anonymous caller make the server read, parse and audit whatever it sends. The gate
therefore admits a `/control/...` call from its headers alone, and the cap refuses a body above
`MAX_BODY_BYTES` from its declared `Content-Length`, or while it streams in when none is declared.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.audit import CONTROL_PREFIX, DRAFT_KEY, AuditDraft
from bot.web.errors import ApiError
from bot.web.guards import CALLER_KEY, admit_controller, context

MAX_BODY_BYTES = 64 * 1024  # the largest control-plane body is a few hundred bytes of overrides
_CONTROL = CONTROL_PREFIX.rstrip("/")
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


class ControlPlaneGate:
    """Admits a control-plane call (credential, role, rate limit) before its body is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_CONTROL):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        draft: AuditDraft | None = scope.get(DRAFT_KEY)
        try:
            scope[CALLER_KEY] = await admit_controller(conn, context(conn), draft)
        except ApiError as refusal:
            # Answered without reading the body; the server discards what the caller still sends.
            await refusal.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyTooLarge(HTTPException):
    """A request body past the cap (FastAPI lets an `HTTPException` from the body read through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"the request body is larger than {limit} bytes, the most this API accepts (see docs/api.md)"
        )


class BodyLimit:
    """Refuses (413) any request body over `max_bytes`: declared, or counted as it streams."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        streamed = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                streamed = True
        if declared is not None:
            text = declared.strip()
            if not text.isdigit() or len(text) > 15 or int(text) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not streamed:  # the server delivers no more than the declared length
                await self.app(scope, receive, send)
                return
        elif not streamed and scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)  # the hot read paths: nothing to count
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    _note(scope)
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        _note(scope)
        refusal = ApiError(413, BodyTooLarge(self.max_bytes).detail, headers={"Connection": "close"})
        await refusal.response()(scope, receive, send)


def _note(scope: Scope) -> None:
    draft: AuditDraft | None = scope.get(DRAFT_KEY)
    if draft is not None:
        draft.refuse("body_too_large")
