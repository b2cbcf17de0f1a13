"""Vault KV v2 backend: read one secret with the hvac client.

`VAULT_SECRET_PATH` may be given relative to the mount (`flash-green`) or as the full API path
(`secret/data/flash-green`); the mount comes from `VAULT_MOUNT` (default `secret`). hvac honours
Vault's own TLS variables (`VAULT_CACERT`, `VAULT_CAPATH`, `VAULT_CLIENT_CERT`, `VAULT_CLIENT_KEY`).
"""

from __future__ import annotations

import re
from typing import Any

from bot.secrets import BackendParams, SecretBackendError, connection_reason, display_address, one_line

# Vault tokens are printable ASCII; anything else (a line break pasted from a file, a quote) would
# make the HTTP library refuse the header and quote the token in its complaint.
_TOKEN = re.compile(r"^[\x21-\x7e]+$")

_STATUS: dict[str, int] = {
    "InvalidRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "InvalidPath": 404,
    "PreconditionFailed": 412,
    "RateLimitExceeded": 429,
    "InternalServerError": 500,
    "VaultNotInitialized": 501,
    "BadGateway": 502,
    "VaultDown": 503,
}


def kv_path(secret_path: str, mount: str) -> str:
    """The secret's path inside the mount: `secret/data/flash-green` and `flash-green` give `flash-green`."""
    path = secret_path.strip().strip("/")
    prefix = f"{mount}/data/"
    if path.startswith(prefix):
        path = path[len(prefix) :]
    return path.strip("/")


def read_vault_document(params: BackendParams) -> tuple[dict[str, Any], str]:
    """Read the latest version of the KV v2 secret; returns its key/value data and where it was read."""
    address = display_address(params.vault_addr)
    where = f"SECRETS_BACKEND=vault: Vault at {address}"
    if not params.vault_addr:
        raise SecretBackendError(
            f"{where}: VAULT_ADDR is not set: set it to the Vault URL, e.g. https://vault:8200"
        )
    token = params.vault_token or ""
    if not token:
        raise SecretBackendError(
            f"{where}: VAULT_TOKEN is not set: set it to a token that may read the secret"
        )
    if not _TOKEN.match(token):
        raise SecretBackendError(
            f"{where}: VAULT_TOKEN is malformed (it contains spaces, line breaks, quotes or non-ASCII "
            "characters): set the token alone, with no surrounding whitespace or quotes"
        )
    mount = (params.vault_mount or "secret").strip().strip("/") or "secret"
    path = kv_path(params.vault_secret_path or "", mount)
    if not path:
        raise SecretBackendError(
            f"{where}: VAULT_SECRET_PATH is empty: set it to the secret's path, e.g. flash-green"
        )
    api_path = f"{mount}/data/{path}"
    where = f"SECRETS_BACKEND=vault: Vault at {address} (secret {api_path})"

    import hvac
    import requests

    client = hvac.Client(url=params.vault_addr, token=token, timeout=params.timeout_s)
    failure: Exception | None = None
    reply: Any = None
    try:
        reply = client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True
        )
    except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
        failure = exc
    if failure is not None:
        # Described and raised outside the except block: nothing from the library is chained.
        if isinstance(failure, hvac.exceptions.VaultError):
            message = _vault_refusal(failure, client, where, mount, path, params.vault_secret_path or "")
        else:
            message = _transport_failure(failure, where, params.timeout_s)
        client.adapter.close()
        # Vault never echoes the token, but its reply text is quoted: scrub it regardless.
        raise SecretBackendError(message.replace(token, "***") if len(token) >= 6 else message)
    client.adapter.close()
    return _kv_data(reply, where, mount), where


def _kv_data(reply: Any, where: str, mount: str) -> dict[str, Any]:
    """The `data.data` object of a KV v2 read reply."""
    if not isinstance(reply, dict):
        raise SecretBackendError(
            f"{where}: the reply is not JSON, so this is not Vault's API: "
            "check VAULT_ADDR (scheme, host and port)"
        )
    outer = reply.get("data")
    inner = outer.get("data") if isinstance(outer, dict) else None
    if not isinstance(inner, dict):
        raise SecretBackendError(
            f"{where}: the reply has no data.data object, so it is not a KV version 2 secret: "
            f"check that VAULT_MOUNT={mount} is a KV v2 engine (vault secrets enable -path={mount} kv-v2)"
        )
    return inner


def _vault_refusal(exc: Any, client: Any, where: str, mount: str, path: str, given: str) -> str:
    """One actionable line for an HTTP error reply from Vault."""
    kind = type(exc).__name__
    status = _STATUS.get(kind)
    code = f"HTTP {status}" if status else "an unexpected HTTP status"
    said = one_line(", ".join(str(e) for e in exc.errors)) if exc.errors else ""
    said_suffix = f' (Vault says: "{said}")' if said else ""
    if kind == "InvalidPath":
        if _deleted(exc.json):
            return (
                f"{where}: the latest version was deleted or destroyed ({code}): undelete it "
                f"(vault kv undelete -mount={mount} {path}) or write a new version"
            )
        if "no handler for route" in said:
            return (
                f"{where}: nothing is mounted at VAULT_MOUNT={mount} ({code}){said_suffix}: "
                "set VAULT_MOUNT to the KV v2 engine's path (vault secrets list shows them)"
            )
        hint = ""
        spelled = given.strip().strip("/")
        if spelled.startswith(f"{mount}/") and not spelled.startswith(f"{mount}/data/"):
            # `secret/flash-green` is the CLI's spelling; the API path needs `data/` or no mount.
            relative = spelled.removeprefix(f"{mount}/")
            hint = f" (it is read relative to the mount: use {relative} or {mount}/data/{relative})"
        return (
            f"{where}: no secret there ({code}){said_suffix}: check VAULT_SECRET_PATH and VAULT_MOUNT{hint}, "
            f"or write it with vault kv put -mount={mount} {path} KEY=value"
        )
    if kind in ("Forbidden", "Unauthorized"):
        if _token_is_valid(client):
            return (
                f"{where}: permission denied ({code}): the token is valid but its policy does not allow "
                f'read on {mount}/data/{path}: add path "{mount}/data/{path}" {{ capabilities = ["read"] }} '
                "to the token's policy"
            )
        return (
            f"{where}: permission denied ({code}): VAULT_TOKEN was rejected (invalid, expired or revoked): "
            "issue a new token and set VAULT_TOKEN"
        )
    if kind == "VaultDown":
        return (
            f"{where}: Vault is sealed or in maintenance ({code}){said_suffix}: "
            "unseal it or retry when it is up"
        )
    if kind == "VaultNotInitialized":
        return f"{where}: Vault is not initialised ({code}): initialise and unseal it"
    if kind == "RateLimitExceeded":
        return f"{where}: Vault refused the request as rate limited ({code}): retry later{said_suffix}"
    return f"{where}: Vault answered {code} ({kind}){said_suffix}: check the Vault server's logs"


def _deleted(body: Any) -> bool:
    """Whether a 404 body is Vault's reply for a deleted or destroyed latest version."""
    try:
        metadata = body["data"]["metadata"]
        return bool(metadata.get("deletion_time")) or bool(metadata.get("destroyed"))
    except (TypeError, KeyError, AttributeError):
        return False


def _token_is_valid(client: Any) -> bool:
    """Whether Vault accepts the token at all (the default policy lets a token look itself up)."""
    import hvac
    import requests

    try:
        client.auth.token.lookup_self()
    except (hvac.exceptions.VaultError, requests.exceptions.RequestException):
        return False
    return True


def _transport_failure(exc: Exception, where: str, timeout_s: float) -> str:
    """One actionable line for a request that never got an HTTP reply."""
    import requests

    if isinstance(exc, requests.exceptions.SSLError):
        return (
            f"{where} is unreachable (TLS verification failed): set VAULT_CACERT to the CA bundle that "
            "signed Vault's certificate, or check that VAULT_ADDR uses the right scheme"
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return (
            f"{where} is unreachable (no connection within {timeout_s:g} s): "
            "check VAULT_ADDR and the network path"
        )
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return (
            f"{where} did not answer within {timeout_s:g} s: check that Vault is healthy and not overloaded"
        )
    if isinstance(exc, requests.exceptions.ProxyError):
        return f"{where} is unreachable (the HTTP proxy refused): check HTTPS_PROXY / NO_PROXY"
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = connection_reason(exc)
        return f"{where} is unreachable ({reason}): check VAULT_ADDR and that Vault is running"
    unusable = (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    )
    if isinstance(exc, unusable):
        return f"{where}: VAULT_ADDR is not a usable URL: use e.g. https://vault.example:8200"
    return f"{where}: the request failed ({type(exc).__name__}): check VAULT_ADDR"
