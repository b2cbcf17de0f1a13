"""Authentication that fails safe without failing the owner: the lock-out counts failures only, a
down identity provider is not waited on for every request, and a certificate subject counts only
with the proxy's word that it verified it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.web.context import ApiOptions
from tests.fixtures.api_server import API_KEY, OidcProvider, RunningApi, make_settings, start_api

WRONG_KEY = "not-the-key-9876543210"


def _options(**kw: object) -> ApiOptions:
    base: dict[str, object] = {"echo_orchestrator_output": False, "control_plane_limit": "1000/minute"}
    base.update(kw)
    return ApiOptions(**base)  # type: ignore[arg-type]


@pytest.fixture
def server_for(tmp_path: Path) -> Iterator:
    started: list[RunningApi] = []

    def start(options: ApiOptions | None = None, **env: str) -> RunningApi:
        running = start_api(
            make_settings(tmp_path / f"s{len(started)}", **env), options=options or _options()
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


# -- the lock-out ----------------------------------------------------------------------------------


def test_twenty_wrong_keys_from_an_address_do_not_lock_out_the_right_key_from_it(server_for) -> None:
    # given one address shared by an anonymous guesser and the desk (an ingress without TRUSTED_PROXIES)
    server = server_for(_options(auth_failure_limit="20/minute"), API_KEY=API_KEY)
    pnl = f"{server.base_url}/pnl"
    # when the guesser sends 20 wrong keys
    assert [httpx.get(pnl, headers={"X-API-Key": WRONG_KEY}).status_code for _ in range(20)] == [401] * 20
    # then the guesser's next failure is locked out ...
    assert httpx.get(pnl, headers={"X-API-Key": WRONG_KEY}).status_code == 429
    # ... while the desk, Prometheus (the key as a bearer) and the control plane still get in
    assert httpx.get(pnl, headers={"X-API-Key": API_KEY}).status_code == 200
    metrics = httpx.get(f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    assert metrics.status_code == 200
    control = httpx.get(f"{server.base_url}/control/orchestrator", headers={"X-API-Key": API_KEY})
    assert control.status_code == 200
    # and valid calls are not counted: the guesser is still locked out, nobody else was
    assert httpx.get(pnl, headers={"X-API-Key": WRONG_KEY}).status_code == 429


# -- client certificates -----------------------------------------------------------------------------

SUBJECT = {"X-Client-Cert-Subject": "CN=desk-reader,O=flash-green"}


@pytest.mark.parametrize(
    "verification",
    [{}, {"X-SSL-Client-Verify": "NONE"}, {"X-SSL-Client-Verify": "FAILED:certificate has expired"}],
)
def test_a_certificate_subject_from_a_trusted_proxy_needs_its_verification_header(
    server_for, verification: dict[str, str]
) -> None:
    # given a trusted proxy that forwards a subject without saying it verified the certificate
    server = server_for(TRUSTED_PROXIES="127.0.0.1/32", CLIENT_CERT_ROLES="trading-reader")
    # then the subject is not believed
    response = httpx.get(f"{server.base_url}/pnl", headers={**SUBJECT, **verification})
    assert response.status_code == 401


def test_the_verification_header_name_is_configurable(server_for) -> None:
    # given a proxy that reports its verification in a header of its own
    server = server_for(
        TRUSTED_PROXIES="127.0.0.1/32",
        CLIENT_CERT_ROLES="trading-reader",
        CLIENT_CERT_VERIFY_HEADER="X-Client-Verified",
    )
    pnl = f"{server.base_url}/pnl"
    # then SUCCESS counts in that header, and no longer in the default one
    assert httpx.get(pnl, headers={**SUBJECT, "X-Client-Verified": "SUCCESS"}).status_code == 200
    assert httpx.get(pnl, headers={**SUBJECT, "X-SSL-Client-Verify": "SUCCESS"}).status_code == 401


def test_a_verification_header_from_an_untrusted_address_changes_nothing(server_for) -> None:
    server = server_for(TRUSTED_PROXIES="10.0.0.0/8", CLIENT_CERT_ROLES="trading-reader")
    headers = {**SUBJECT, "X-SSL-Client-Verify": "SUCCESS"}
    assert httpx.get(f"{server.base_url}/pnl", headers=headers).status_code == 401


# -- a down identity provider ------------------------------------------------------------------------


@pytest.fixture
def flaky_provider() -> Iterator[OidcProvider]:
    """An identity provider whose JWKS endpoint answers 503 while `provider.down` is set (counted)."""
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    provider = OidcProvider(server)
    provider.new_key("key-1")
    provider.down = True  # type: ignore[attr-defined]

    def handler(_request: Request) -> Response:
        provider.jwks_requests += 1
        if provider.down:  # type: ignore[attr-defined]
            return Response("identity provider unavailable", status=503)
        return Response(json.dumps(provider.jwks()), content_type="application/json")

    server.expect_request("/jwks.json").respond_with_handler(handler)
    yield provider
    server.clear()
    server.stop()


def test_a_failed_key_fetch_is_remembered_instead_of_retried_on_every_request(
    server_for, flaky_provider: OidcProvider
) -> None:
    # given an API whose identity provider is down
    server = server_for(**flaky_provider.settings_env())
    token = flaky_provider.token(roles=["trading-admin"])
    # when five requests with tokens arrive
    responses = [
        httpx.get(f"{server.base_url}/pnl", headers={"Authorization": f"Bearer {token}"}) for _ in range(5)
    ]
    # then each is refused at once from the remembered failure, after a single fetch
    assert [r.status_code for r in responses] == [401] * 5
    assert responses[-1].json()["detail"] == "invalid token: identity provider keys unavailable"
    assert flaky_provider.jwks_requests == 1


def test_keys_are_fetched_again_once_the_failure_is_old_enough(
    server_for, flaky_provider: OidcProvider
) -> None:
    # given an API that remembers a failed fetch for no time at all, and a provider that comes back
    server = server_for(_options(jwks_failure_backoff_s=0.0), **flaky_provider.settings_env())
    headers = {"Authorization": f"Bearer {flaky_provider.token(roles=['trading-admin'])}"}
    assert httpx.get(f"{server.base_url}/pnl", headers=headers).status_code == 401
    flaky_provider.down = False  # type: ignore[attr-defined]
    # then the next token is verified against freshly fetched keys
    assert httpx.get(f"{server.base_url}/pnl", headers=headers).status_code == 200
