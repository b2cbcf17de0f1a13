"""Read one bot's API for `flash-green status`: the open probes and three reader endpoints.

Problems come back as `StatusError` records carrying the exit code and what the user must do
next; the key is sent in `X-API-Key` and never appears in a message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.redaction import redact_url

DEFAULT_URL = "http://127.0.0.1:8002"
KEY_ENV = "API_KEY"
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class StatusError(Exception):
    """Why the status could not be read, and the exit code that says so.

    `http_status` (the bot's refusal) and `cause` (a connection failure) let a caller other than
    the command line (the operator) word the problem for its own user.
    """

    message: str
    exit_code: int
    http_status: int | None = None
    cause: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Answers:
    """The bot's answers, as JSON: /healthz, /readyz (200 or 503), /state, /pnl and /trades."""

    health: dict[str, Any]
    readiness: dict[str, Any]
    state: dict[str, Any]
    pnl: dict[str, Any]
    trades: dict[str, Any]


def api_key(key_file: Path | None, environ: dict[str, str] | None = None) -> str | None:
    """The key from `--api-key-file` (first line) or else API_KEY; None when neither is given."""
    if key_file is not None:
        try:
            key = key_file.read_text().strip()
        except OSError as exc:
            raise StatusError(f"cannot read --api-key-file {key_file}: {exc.strerror}", EXIT_USAGE) from exc
        if not key:
            raise StatusError(
                f"--api-key-file {key_file} is empty: write the bot's API key in it", EXIT_USAGE
            )
        return key
    env = os.environ if environ is None else environ
    return env.get(KEY_ENV) or None


def read_bot(url: str, key: str | None, *, recent: int = 1, timeout: float = TIMEOUT_S) -> Answers:
    """Every answer `flash-green status` shows; `recent` trades (1, or more for the detail view).

    `timeout` bounds each request (the operator, reading every bot, passes a short one).
    """
    base = url.rstrip("/")
    headers = {"X-API-Key": key} if key else {}
    with httpx.Client(base_url=base, timeout=timeout, headers=headers, follow_redirects=False) as client:
        health = _get(client, base, "/healthz", key)
        readiness = _get(client, base, "/readyz", key, also_ok=(503,))
        state = _get(client, base, "/state", key)
        pnl = _get(client, base, "/pnl", key, params={"days": 1})
        trades = _get(client, base, "/trades", key, params={"limit": recent})
    return Answers(health, readiness, state, pnl, trades)


def _get(
    client: httpx.Client,
    base: str,
    path: str,
    key: str | None,
    *,
    params: dict[str, Any] | None = None,
    also_ok: tuple[int, ...] = (),
) -> dict[str, Any]:
    shown = redact_url(base)
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as exc:
        cause = f"{type(exc).__name__}: {exc}"
        raise StatusError(
            f"cannot reach the bot at {shown} ({cause}); is it running? Pass its address with --url.",
            EXIT_UNREACHABLE,
            cause=cause,
        ) from exc
    if response.status_code == 401:
        what = (
            f"no API key was given: set {KEY_ENV} or pass --api-key-file FILE"
            if not key
            else f"the bot refused the API key: set {KEY_ENV} (or --api-key-file) to this bot's key"
        )
        raise StatusError(f"{shown}{path} answered 401: {what}", EXIT_USAGE, http_status=401)
    if response.status_code == 403:
        raise StatusError(
            f"{shown}{path} answered 403: the credential has no reader role; "
            "use a key or token that can read",
            EXIT_USAGE,
            http_status=403,
        )
    if response.status_code != 200 and response.status_code not in also_ok:
        raise StatusError(
            f"{shown}{path} answered {response.status_code}: {_detail(response)}",
            EXIT_UNREACHABLE,
            http_status=response.status_code,
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise StatusError(
            f"{shown}{path} did not answer JSON: is --url the bot's API (default {DEFAULT_URL})?",
            EXIT_UNREACHABLE,
        ) from exc
    if not isinstance(body, dict):
        raise StatusError(f"{shown}{path} answered an unexpected body", EXIT_UNREACHABLE)
    return body


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else response.reason_phrase or "unexpected answer"
