"""Secret backends that `bot.config.Settings` hydrates credentials from.

`fetch_secrets("vault" | "aws", params, names)` reads one secret document (a Vault KV v2 secret or
an AWS Secrets Manager JSON secret) and returns the keys among `names` that it holds. Every
failure is a `SecretBackendError` whose message is one actionable line naming the backend and its
address; it never carries the token, a secret value or a library's traceback.

The client libraries (hvac, boto3) are imported only when a backend is used, so importing this
package has no side effect.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["BACKENDS", "BackendParams", "SecretBackendError", "fetch_secrets"]

BACKENDS: tuple[str, ...] = ("vault", "aws")


class SecretBackendError(Exception):
    """A secret backend could not supply the secrets.

    The message is safe to show and log: it names the backend and its address, never the token
    or a secret value.
    """


@dataclass(frozen=True)
class BackendParams:
    """Where the secret document lives and how to authenticate (the token is kept out of repr)."""

    vault_addr: str | None
    vault_token: str | None = field(repr=False)
    vault_secret_path: str | None
    vault_mount: str = "secret"
    aws_region: str | None = None
    aws_secret_id: str | None = None
    timeout_s: float = 5.0


def fetch_secrets(backend: str, params: BackendParams, names: Sequence[str]) -> dict[str, str]:
    """Read the secret document of `backend` and return the keys among `names` it holds, as str.

    Raises `SecretBackendError` with a one-line, actionable message on any failure.
    """
    if params.timeout_s <= 0:
        raise SecretBackendError(
            f"SECRETS_BACKEND={backend}: the timeout must be positive, got {params.timeout_s}"
        )
    if backend == "vault":
        from bot.secrets.vault import read_vault_document

        document, where = read_vault_document(params)
    elif backend == "aws":
        from bot.secrets.aws import read_aws_document

        document, where = read_aws_document(params)
    else:
        raise SecretBackendError(f"SECRETS_BACKEND={backend!r} is not a secret backend: use vault or aws")
    return select_secrets(document, names, where)


def select_secrets(document: Mapping[str, Any], names: Sequence[str], where: str) -> dict[str, str]:
    """The keys among `names` that `document` holds, with their values as str.

    Keys match the environment names exactly, or else case-insensitively (the environment itself is
    case-insensitive). A null value counts as absent. A nested object or array is refused, naming
    the key but never showing the value.
    """
    by_lower: dict[str, str] = {}
    for stored in document:
        by_lower.setdefault(str(stored).lower(), stored)
    found: dict[str, str] = {}
    for name in names:
        key = name if name in document else by_lower.get(name.lower())
        if key is None:
            continue
        value = document[key]
        if value is None:
            continue
        if isinstance(value, dict | list):
            kind = "object" if isinstance(value, dict) else "array"
            raise SecretBackendError(
                f"{where}: key {name} holds a JSON {kind}, expected a string: store {name} as a plain string"
            )
        if isinstance(value, bool):
            found[name] = "true" if value else "false"
        else:
            found[name] = str(value)
    return found


def json_kind(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages that must not show the value."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def parse_json_object(text: str, where: str, hint: str) -> dict[str, Any]:
    """Decode `text` as a JSON object; the error gives the position, never the text itself."""
    try:
        # Numbers keep their exact digits: a key or account number must not pass through float.
        value = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        failure = f"{where}: the secret is not valid JSON ({reason}): {hint}"
    else:
        if isinstance(value, dict):
            return value
        failure = f"{where}: the secret is a JSON {json_kind(value)}, expected an object: {hint}"
    # Raised outside the except block so no decoder exception (holding the text) is chained.
    raise SecretBackendError(failure)


def display_address(url: str | None) -> str:
    """An address safe to print: user info, query and fragment removed."""
    if not url:
        return "<unset>"
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "<unparseable address>"
    if not parts.scheme or not host:
        return repr(url.split("@")[-1])
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def one_line(text: str, limit: int = 300) -> str:
    """Collapse a server-supplied message to one bounded line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def connection_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words (refused, name not resolved, timed out)."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return "host name does not resolve"
        if isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__:
            return "connection timed out"
    return "connection failed"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (urllib3 nests the socket error several levels deep)."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [getattr(item, "reason", None), item.__cause__, item.__context__, *item.args]
