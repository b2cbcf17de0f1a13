"""Who may call what: API key, OIDC tokens, certificates behind trusted proxies, HTTPS, rate limits, audit.

Every test talks to a real uvicorn server on loopback over a socket; OIDC tokens are signed by a
key generated here whose JWKS a loopback HTTP server publishes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from bot.web.context import ApiOptions
from tests.fixtures.api_server import API_KEY, OidcProvider, RunningApi, make_settings, start_api

WRONG_KEY = "not-the-key-9876543210"
# A harmless stand-in for the trading loop where a test only needs a process to supervise.
SLEEPER = (sys.executable, "-c", "import time; time.sleep(120)")

READ_ENDPOINTS = ["/metrics", "/pnl", "/trades", "/orders/open", "/spreads", "/state", "/ui/state", "/whoami"]
CONTROL_READS = ["/audit", "/control/orchestrator", "/control/tests"]
CONTROL_WRITES = ["/control/orchestrator/start", "/control/orchestrator/stop", "/control/tests"]


def _options(**kw: object) -> ApiOptions:
    base = {
        "echo_orchestrator_output": False,
        "orchestrator_command": SLEEPER,
        "auth_failure_limit": "1000/minute",
        "control_plane_limit": "1000/minute",
        "early_exit_s": 0.05,
        "stop_grace_s": 2.0,
    }
    base.update(kw)
    return ApiOptions(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """A server with API_KEY set (roles: trading-admin)."""
    settings = make_settings(tmp_path_factory.mktemp("keyed"), API_KEY=API_KEY)
    running = start_api(settings, options=_options())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def unconfigured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """A server with no credential configured at all."""
    settings = make_settings(tmp_path_factory.mktemp("open"))
    running = start_api(settings, options=_options())
    yield running
    running.stop()


def _audit(server: RunningApi) -> list[dict]:
    response = httpx.get(f"{server.base_url}/audit", headers={"X-API-Key": API_KEY})
    assert response.status_code == 200, response.text
    return response.json()["items"]


# -- API key ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", READ_ENDPOINTS + CONTROL_READS)
def test_protected_endpoint_without_credentials_is_401(keyed: RunningApi, path: str) -> None:
    response = httpx.get(keyed.base_url + path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == "missing or invalid credentials"


@pytest.mark.parametrize("path", READ_ENDPOINTS + CONTROL_READS)
def test_protected_endpoint_with_a_wrong_key_is_401(keyed: RunningApi, path: str) -> None:
    response = httpx.get(keyed.base_url + path, headers={"X-API-Key": WRONG_KEY})
    assert response.status_code == 401
    assert WRONG_KEY not in response.text


@pytest.mark.parametrize("path", READ_ENDPOINTS + CONTROL_READS)
def test_protected_endpoint_with_the_right_key_answers(keyed: RunningApi, path: str) -> None:
    response = httpx.get(keyed.base_url + path, headers={"X-API-Key": API_KEY})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", CONTROL_WRITES)
def test_control_plane_action_without_or_with_a_wrong_key_is_401(keyed: RunningApi, path: str) -> None:
    assert httpx.post(keyed.base_url + path, json={}).status_code == 401
    assert httpx.post(keyed.base_url + path, json={}, headers={"X-API-Key": WRONG_KEY}).status_code == 401


def test_the_api_key_is_also_accepted_as_a_bearer_token(keyed: RunningApi) -> None:
    # what a Prometheus ServiceMonitor sends
    response = httpx.get(f"{keyed.base_url}/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


def test_a_wrong_bearer_key_is_401(keyed: RunningApi) -> None:
    response = httpx.get(f"{keyed.base_url}/pnl", headers={"Authorization": f"Bearer {WRONG_KEY}"})
    assert response.status_code == 401


def test_a_wrong_x_api_key_is_refused_even_with_a_valid_bearer(keyed: RunningApi) -> None:
    # a credential presented and wrong never falls through to another one
    headers = {"X-API-Key": WRONG_KEY, "Authorization": f"Bearer {API_KEY}"}
    assert httpx.get(f"{keyed.base_url}/pnl", headers=headers).status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/ui/"])
def test_probes_document_and_panel_need_no_credentials(keyed: RunningApi, path: str) -> None:
    assert httpx.get(keyed.base_url + path).status_code == 200


def test_a_reader_role_reads_but_cannot_use_the_control_plane(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, API_KEY=API_KEY, API_KEY_ROLES="trading-reader")
    server = start_api(settings, options=_options())
    try:
        headers = {"X-API-Key": API_KEY}
        assert httpx.get(f"{server.base_url}/pnl", headers=headers).status_code == 200
        refused = httpx.post(f"{server.base_url}/control/orchestrator/start", json={}, headers=headers)
        assert refused.status_code == 403
        assert "trading-admin" in refused.json()["detail"]
        assert httpx.get(f"{server.base_url}/audit", headers=headers).status_code == 403
    finally:
        server.stop()


# -- nothing configured -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_with_nothing_configured_data_endpoints_answer_401(unconfigured: RunningApi, path: str) -> None:
    response = httpx.get(unconfigured.base_url + path, headers={"X-API-Key": "anything"})
    assert response.status_code == 401


def test_with_nothing_configured_the_401_says_what_to_configure(unconfigured: RunningApi) -> None:
    response = httpx.get(f"{unconfigured.base_url}/pnl")
    assert "set API_KEY or OIDC" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/control/orchestrator"), ("GET", "/control/tests")] + [("POST", p) for p in CONTROL_WRITES],
)
def test_with_nothing_configured_the_control_plane_refuses_every_request(
    unconfigured: RunningApi, method: str, path: str
) -> None:
    for headers in ({}, {"X-API-Key": "anything"}, {"Authorization": "Bearer anything"}):
        response = httpx.request(method, unconfigured.base_url + path, json={}, headers=headers)
        assert response.status_code == 403
        assert "control plane is disabled" in response.json()["detail"]


# -- OIDC ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oidc_server(
    oidc_provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApi]:
    """A server trusting the test identity provider (no API key), refreshing keys on any unknown kid."""
    settings = make_settings(tmp_path_factory.mktemp("oidc"), **oidc_provider.settings_env())
    server = start_api(settings, options=_options(jwks_min_refresh_s=0.0))
    yield server
    server.stop()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_token_with_the_control_plane_role_is_accepted(
    oidc_server: RunningApi, oidc_provider: OidcProvider
) -> None:
    token = oidc_provider.token(roles=["trading-admin"])
    me = httpx.get(f"{oidc_server.base_url}/whoami", headers=_bearer(token)).json()
    assert me == {
        "principal": "oidc:alice@desk",
        "method": "oidc",
        "roles": ["trading-admin"],
        "can_read": True,
        "can_control": True,
    }
    assert (
        httpx.get(f"{oidc_server.base_url}/control/orchestrator", headers=_bearer(token)).status_code == 200
    )


def test_roles_are_read_from_the_scope_claim(oidc_server: RunningApi, oidc_provider: OidcProvider) -> None:
    token = oidc_provider.token(extra={"scope": "openid trading-reader"})
    assert httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(token)).status_code == 200
    refused = httpx.get(f"{oidc_server.base_url}/control/orchestrator", headers=_bearer(token))
    assert refused.status_code == 403


def test_roles_are_read_from_realm_access(oidc_server: RunningApi, oidc_provider: OidcProvider) -> None:
    token = oidc_provider.token(extra={"realm_access": {"roles": ["trading-admin"]}})
    assert httpx.get(f"{oidc_server.base_url}/control/tests", headers=_bearer(token)).status_code == 200


def test_a_token_without_a_role_is_403(oidc_server: RunningApi, oidc_provider: OidcProvider) -> None:
    token = oidc_provider.token(roles=[])
    response = httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(token))
    assert response.status_code == 403
    assert "trading-reader" in response.json()["detail"]


def test_an_expired_token_is_401(oidc_server: RunningApi, oidc_provider: OidcProvider) -> None:
    token = oidc_provider.token(roles=["trading-admin"], expires_in=timedelta(minutes=-10))
    response = httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid token: token expired"


def test_a_token_for_another_audience_is_401(oidc_server: RunningApi, oidc_provider: OidcProvider) -> None:
    token = oidc_provider.token(roles=["trading-admin"], audience="some-other-api")
    response = httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid token: wrong audience"


def test_a_token_from_another_issuer_is_401(oidc_server: RunningApi, oidc_provider: OidcProvider) -> None:
    token = oidc_provider.token(roles=["trading-admin"], issuer="https://evil.test/")
    response = httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid token: wrong issuer"


def _unsigned(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'key-1'})}.{part(claims)}."


def test_an_unsigned_alg_none_token_is_401(oidc_server: RunningApi, oidc_provider: OidcProvider) -> None:
    valid = oidc_provider.token(roles=["trading-admin"])
    claims = jwt.decode(valid, options={"verify_signature": False})
    response = httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(_unsigned(claims)))
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid token: algorithm not allowed"


def test_a_token_signed_hmac_with_the_public_key_is_401(
    oidc_server: RunningApi, oidc_provider: OidcProvider
) -> None:
    # the classic algorithm confusion: HS256 keyed with the published RSA public key
    public_pem = (
        oidc_provider.keys["key-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    valid = oidc_provider.token(roles=["trading-admin"])
    claims = jwt.decode(valid, options={"verify_signature": False})
    forged = _hs256(claims, public_pem)
    response = httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(forged))
    assert response.status_code == 401


def _hs256(claims: dict, secret: bytes) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def test_a_token_with_an_unknown_kid_is_401_after_refetching_the_keys(
    oidc_server: RunningApi, oidc_provider: OidcProvider
) -> None:
    known = oidc_provider.token(roles=["trading-admin"])
    assert httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(known)).status_code == 200
    fetched = oidc_provider.jwks_requests
    oidc_provider.new_key("never-published", publish=False)
    token = oidc_provider.token(kid="never-published", roles=["trading-admin"])
    response = httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid token: unknown signing key"
    assert oidc_provider.jwks_requests == fetched + 1  # the keys were fetched again for the unknown kid


def test_a_rotated_key_is_picked_up_on_its_first_token(
    oidc_server: RunningApi, oidc_provider: OidcProvider
) -> None:
    first = oidc_provider.token(roles=["trading-admin"])
    assert httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(first)).status_code == 200
    oidc_provider.new_key("key-2")
    rotated = oidc_provider.token(kid="key-2", roles=["trading-admin"])
    assert httpx.get(f"{oidc_server.base_url}/pnl", headers=_bearer(rotated)).status_code == 200


# -- client certificates and HTTPS via trusted proxies ------------------------------------------


def test_a_certificate_header_from_an_untrusted_address_is_ignored(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, TRUSTED_PROXIES="10.0.0.0/8", CLIENT_CERT_ROLES="trading-admin")
    server = start_api(settings, options=_options())
    try:
        forged = {"X-Client-Cert-Subject": "CN=desk-admin,O=flash-green"}
        assert httpx.get(f"{server.base_url}/pnl", headers=forged).status_code == 401
        assert httpx.get(f"{server.base_url}/control/orchestrator", headers=forged).status_code == 401
    finally:
        server.stop()


def test_a_certificate_header_from_a_trusted_proxy_identifies_the_caller(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, TRUSTED_PROXIES="127.0.0.1/32", CLIENT_CERT_ROLES="trading-reader")
    server = start_api(settings, options=_options())
    try:
        headers = {"X-Client-Cert-Subject": "CN=desk-reader,O=flash-green", "X-SSL-Client-Verify": "SUCCESS"}
        me = httpx.get(f"{server.base_url}/whoami", headers=headers).json()
        assert me["principal"] == "cert:CN=desk-reader,O=flash-green"
        assert httpx.get(f"{server.base_url}/pnl", headers=headers).status_code == 200
        assert httpx.get(f"{server.base_url}/control/orchestrator", headers=headers).status_code == 403
    finally:
        server.stop()


def test_https_required_refuses_plain_http_and_forwarded_proto_from_untrusted_peers(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, API_KEY=API_KEY, REQUIRE_HTTPS="1", TRUSTED_PROXIES="10.0.0.0/8")
    server = start_api(settings, options=_options())
    try:
        headers = {"X-API-Key": API_KEY, "X-Forwarded-Proto": "https"}
        response = httpx.get(f"{server.base_url}/pnl", headers=headers)
        assert response.status_code == 403
        assert "HTTPS is required" in response.json()["detail"]
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200  # kubelet probes stay plain
    finally:
        server.stop()


def test_https_required_accepts_forwarded_proto_from_a_trusted_proxy(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, API_KEY=API_KEY, REQUIRE_HTTPS="1", TRUSTED_PROXIES="127.0.0.1")
    server = start_api(settings, options=_options())
    try:
        plain = httpx.get(f"{server.base_url}/pnl", headers={"X-API-Key": API_KEY})
        assert plain.status_code == 403
        forwarded = httpx.get(
            f"{server.base_url}/pnl", headers={"X-API-Key": API_KEY, "X-Forwarded-Proto": "https"}
        )
        assert forwarded.status_code == 200
    finally:
        server.stop()


# -- rate limits -------------------------------------------------------------------------------------


def test_the_control_plane_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, API_KEY=API_KEY)
    server = start_api(settings, options=_options(control_plane_limit="3/minute"))
    try:
        url, headers = f"{server.base_url}/control/orchestrator", {"X-API-Key": API_KEY}
        assert [httpx.get(url, headers=headers).status_code for _ in range(3)] == [200, 200, 200]
        limited = httpx.get(url, headers=headers)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["retry_after_s"] == int(limited.headers["retry-after"])
        assert _audit(server)[0]["outcome"] == "refused:429"
    finally:
        server.stop()


def test_repeated_failed_authentications_lock_the_address_out_of_further_failures(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, API_KEY=API_KEY)
    server = start_api(settings, options=_options(auth_failure_limit="3/minute"))
    try:
        url = f"{server.base_url}/pnl"
        assert [httpx.get(url, headers={"X-API-Key": WRONG_KEY}).status_code for _ in range(3)] == [401] * 3
        # the next failure waits: guessing is slowed to the limit
        locked = httpx.get(url, headers={"X-API-Key": WRONG_KEY})
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) >= 1
    finally:
        server.stop()


# -- audit ---------------------------------------------------------------------------------------------


def test_refused_control_calls_are_audited_with_every_field_filled_in(keyed: RunningApi) -> None:
    body = json.dumps({"overrides": {"CYCLE_INTERVAL_SECS": "0.5"}}).encode()
    headers = {"X-API-Key": WRONG_KEY, "Content-Type": "application/json"}
    httpx.post(f"{keyed.base_url}/control/orchestrator/start", content=body, headers=headers)
    entry = _audit(keyed)[0]
    assert entry["action"] == "orchestrator.start"
    assert entry["outcome"] == "refused:401" and entry["status_code"] == 401
    assert entry["client"] == "127.0.0.1"
    assert entry["principal"].startswith("api-key:") and WRONG_KEY not in entry["principal"]
    # refused: recorded by size and reason, never by content
    assert entry["parameters"] == {"reason": "wrong_key", "body_bytes": str(len(body))}
    assert entry["at"].endswith("Z")


def test_accepted_control_calls_are_audited_with_the_principal_and_roles(keyed: RunningApi) -> None:
    httpx.get(f"{keyed.base_url}/control/tests", headers={"X-API-Key": API_KEY})
    entry = _audit(keyed)[0]
    assert entry["action"] == "tests.status"
    assert entry["outcome"] == "accepted"
    assert entry["roles"] == ["trading-admin"]
    assert entry["principal"].startswith("api-key:")


def test_audit_records_hold_no_secret(keyed: RunningApi) -> None:
    # given calls that carry secrets: a secret override, the key quoted in a value, a wrong key
    headers = {"X-API-Key": API_KEY}
    body = {"overrides": {"LENDER_KEY": "0xdeadbeefcafe", "LOG_LEVEL": f"DEBUG {API_KEY}"}}
    refused = httpx.post(f"{keyed.base_url}/control/orchestrator/start", json=body, headers=headers)
    assert refused.status_code == 422
    assert "LENDER_KEY is a secret" in " ".join(refused.json()["problems"])
    httpx.post(f"{keyed.base_url}/control/orchestrator/start", json={}, headers={"X-API-Key": WRONG_KEY})
    # when the audit log is read back
    text = httpx.get(f"{keyed.base_url}/audit?limit=500", headers=headers).text
    # then no secret appears in it
    for secret in (API_KEY, WRONG_KEY, "0xdeadbeefcafe"):
        assert secret not in text
    assert '"overrides.LENDER_KEY":"***"' in text


def test_calls_refused_because_nothing_is_configured_are_audited(unconfigured: RunningApi) -> None:
    body = b'{"k": "config"}'
    httpx.post(f"{unconfigured.base_url}/control/tests", content=body)
    # nobody can read /audit on this server: read the journal the way an operator would
    from bot.journal import Journal

    journal = Journal.open(unconfigured.settings.journal_url, migrate=False)
    try:
        entry = journal.audit_log(limit=1)[0]
    finally:
        journal.close()
    assert (entry.action, entry.outcome, entry.principal) == ("tests.run", "refused:403", "anonymous")
    assert entry.parameters == {
        "reason": "not_configured",
        "body_bytes": str(len(body)),
    }


def test_the_apis_shared_state_never_shows_a_secret_in_its_repr(keyed: RunningApi) -> None:
    assert API_KEY not in repr(keyed.app.state.ctx)
