"""AWS Secrets Manager backend: read one JSON secret with boto3.

Credentials come from boto3's standard chain (environment, shared files and profiles, web identity
/ IRSA, container and instance roles); a custom endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER` or
`AWS_ENDPOINT_URL`. Both are boto3's own behaviour, not re-implemented here.
"""

from __future__ import annotations

from typing import Any

from bot.secrets import (
    BackendParams,
    SecretBackendError,
    connection_reason,
    display_address,
    one_line,
    parse_json_object,
)

_HINT = 'store a JSON object whose keys are the variable names, e.g. {"LIVE_API_KEY": "..."}'

# Error codes meaning "these credentials are not accepted", as opposed to "not allowed".
_BAD_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)


def read_aws_document(params: BackendParams) -> tuple[dict[str, Any], str]:
    """Read the secret's SecretString as a JSON object; returns it and where it was read."""
    region = (params.aws_region or "").strip()
    secret_id = (params.aws_secret_id or "").strip()
    where = f"SECRETS_BACKEND=aws: AWS Secrets Manager in {region or '<no region>'}"
    if not region:
        raise SecretBackendError(
            f"{where}: AWS_SECRETS_REGION is not set: set it to the secret's region, e.g. eu-west-2"
        )
    if not secret_id:
        raise SecretBackendError(f"{where}: AWS_SECRETS_ID is not set: set it to the secret's name or ARN")

    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    failure: Exception | None = None
    reply: dict[str, Any] = {}
    endpoint = "<default endpoint>"
    try:
        client = boto3.session.Session(region_name=region).client(
            "secretsmanager",
            config=Config(
                connect_timeout=params.timeout_s,
                read_timeout=params.timeout_s,
                # Start-up should fail fast with a clear message rather than back off for long.
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )
        endpoint = display_address(client.meta.endpoint_url)
        reply = client.get_secret_value(SecretId=secret_id)
    except (BotoCoreError, ClientError, ValueError) as exc:
        failure = exc
    where = f"{where} (endpoint {endpoint}, secret {secret_id!r})"
    if failure is not None:
        # Described and raised outside the except block: nothing from the library is chained.
        raise SecretBackendError(_describe(failure, where, region, params.timeout_s))
    text = reply.get("SecretString")
    if text is None:
        kind = "binary (SecretBinary)" if reply.get("SecretBinary") is not None else "empty"
        raise SecretBackendError(f"{where}: the secret is {kind}, not a SecretString: {_HINT}")
    return parse_json_object(text, where, _HINT), where


def _describe(exc: Exception, where: str, region: str, timeout_s: float) -> str:
    """One actionable line for a failed Secrets Manager call."""
    from botocore import exceptions as bce

    if isinstance(exc, bce.ClientError):
        error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(error.get("Code") or "")
        if not code or code.isdigit():
            # botocore could not parse the error body (a proxy, gateway or firewall page): go by
            # the HTTP status and do not quote the body.
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or code or 0
            return _by_status(int(status), where)
        said = one_line(str(error.get("Message") or ""))
        said_suffix = f": AWS says: {said}" if said else ""
        if code == "ResourceNotFoundException":
            return (
                f"{where}: no such secret ({code}): check AWS_SECRETS_ID and AWS_SECRETS_REGION "
                "(a secret lives in one region)"
            )
        if code in ("AccessDeniedException", "AccessDenied"):
            return (
                f"{where}: access denied ({code}){said_suffix}; grant secretsmanager:GetSecretValue on the "
                "secret (and kms:Decrypt on its KMS key) to the identity in use"
            )
        if code in _BAD_CREDENTIALS:
            return (
                f"{where}: the AWS credentials were rejected ({code}): check AWS_ACCESS_KEY_ID / "
                "AWS_PROFILE / the role in use, and that a session token has not expired"
            )
        if code == "DecryptionFailure":
            return (
                f"{where}: the secret could not be decrypted ({code}): "
                "grant kms:Decrypt on the secret's KMS key"
            )
        return f"{where}: request refused ({code}){said_suffix}"
    if isinstance(exc, bce.NoCredentialsError):
        return (
            f"{where}: no AWS credentials found: provide them through the standard chain "
            "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity / IRSA, "
            "or an instance role)"
        )
    if isinstance(exc, bce.PartialCredentialsError | bce.ProfileNotFound | bce.CredentialRetrievalError):
        return f"{where}: AWS credentials are incomplete ({one_line(str(exc))}): fix the credential source"
    if isinstance(exc, bce.InvalidRegionError | bce.NoRegionError | bce.UnknownEndpointError):
        return f"{where}: AWS_SECRETS_REGION={region!r} is not a usable region: use e.g. eu-west-2"
    if isinstance(exc, bce.ConnectTimeoutError):
        return (
            f"{where} is unreachable (no connection within {timeout_s:g} s): "
            "check the network path to the endpoint"
        )
    if isinstance(exc, bce.ReadTimeoutError):
        return (
            f"{where} did not answer within {timeout_s:g} s: retry, or check the network path to the endpoint"
        )
    if isinstance(exc, bce.SSLError):
        return f"{where} is unreachable (TLS verification failed): set AWS_CA_BUNDLE to the CA bundle in use"
    if isinstance(exc, bce.EndpointConnectionError | bce.ConnectionError | bce.HTTPClientError):
        return (
            f"{where} is unreachable ({connection_reason(exc)}): check the network path, and "
            "AWS_ENDPOINT_URL_SECRETS_MANAGER if a custom endpoint is set"
        )
    if isinstance(exc, bce.ParamValidationError):
        return f"{where}: AWS_SECRETS_ID is not a valid secret id: use the secret's name or full ARN"
    return f"{where}: the request failed ({type(exc).__name__}: {one_line(str(exc))})"


def _by_status(status: int, where: str) -> str:
    """One actionable line for an error reply whose body carries no AWS error code."""
    if status in (401, 403):
        return (
            f"{where}: access denied (HTTP {status}): the credentials were rejected, or the identity lacks "
            "secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its KMS key), or a proxy or "
            "VPC endpoint policy refused the call"
        )
    if status >= 500:
        return f"{where}: the service failed (HTTP {status}): retry later"
    return (
        f"{where}: request refused (HTTP {status}) without an AWS error code: check "
        "AWS_ENDPOINT_URL_SECRETS_MANAGER and any proxy in between"
    )
