"""Children are applied with server-side apply where the API server has it, and created or
patched by hand where it has not (kmock). The API server's side of apply is played by a loopback
HTTP server answering as the API server documents it: the object it holds, its managedFields
naming the field manager."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import kopf
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from arbitrage_operator.children import NameConflict, ensure
from arbitrage_operator.kube import APPLY_PATCH, FIELD_MANAGER, KubeApi
from arbitrage_operator.manifests import build_configmap, build_pvc, build_service
from tests.fixtures.kube import KubeEmulator

T = TypeVar("T")


class ApplyingServer:
    """The few answers of an API server with server-side apply that `ensure()` needs."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.objects: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, str], str]] = []  # method, path, query, content type
        server.expect_request("").respond_with_handler(self.answer)

    def answer(self, request: Request) -> Response:
        query = dict(request.args)
        self.calls.append((request.method, request.path, query, request.content_type or ""))
        body = json.loads(request.data) if request.data else None
        if request.method == "PATCH" and request.content_type == APPLY_PATCH:
            obj = {**self.objects.get(request.path, {}), **body}
            obj["metadata"] = {
                **body["metadata"],
                "managedFields": [{"manager": query["fieldManager"], "operation": "Apply"}],
            }
            if query.get("dryRun") != "All":
                self.objects[request.path] = obj
            return Response(json.dumps(obj), content_type="application/json")
        if request.method == "GET" and request.path in self.objects:
            return Response(json.dumps(self.objects[request.path]), content_type="application/json")
        if request.method == "POST":
            path = f"{request.path}/{body['metadata']['name']}"
            if path in self.objects:
                return Response(json.dumps({"kind": "Status", "code": 409, "reason": "AlreadyExists"}), 409)
            self.objects[path] = body
            return Response(json.dumps(body), 201, content_type="application/json")
        return Response(json.dumps({"kind": "Status", "code": 404, "reason": "NotFound"}), 404)

    def writes(self) -> list[tuple[str, str, dict[str, str], str]]:
        return [c for c in self.calls if c[0] != "GET" and c[2].get("dryRun") != "All"]


@pytest.fixture
def applying(httpserver: HTTPServer) -> Iterator[ApplyingServer]:
    yield ApplyingServer(httpserver)


def with_api(url: str, work: Callable[[KubeApi], Awaitable[T]]) -> T:
    async def main() -> T:
        api = KubeApi()
        api.use(kopf.ConnectionInfo(server=url))
        try:
            return await work(api)
        finally:
            await api.close()

    return asyncio.run(main())


def test_a_child_is_applied_server_side_as_the_operator(applying: ApplyingServer) -> None:
    # given an API server with server-side apply; when a ConfigMap is ensured
    configmap = build_configmap("ssa", "desk", {})
    applied = with_api(applying.server.url_for("/").rstrip("/"), lambda api: ensure(api, configmap))
    # then one apply carried it, as the operator's field manager, forcing its fields
    ((method, path, query, content_type),) = applying.writes()
    assert (method, path, content_type) == (
        "PATCH",
        "/api/v1/namespaces/desk/configmaps/ssa-config",
        APPLY_PATCH,
    )
    assert query == {"fieldManager": FIELD_MANAGER, "force": "true"}
    assert applied["data"] == configmap["data"]


def test_an_existing_journal_claim_gets_its_metadata_applied_never_its_storage(
    applying: ApplyingServer,
) -> None:
    # given a journal claim that exists already
    url = applying.server.url_for("/").rstrip("/")
    with_api(url, lambda api: ensure(api, build_pvc("ssa", "desk", {})))
    # when the bot asks for a bigger journal
    with_api(url, lambda api: ensure(api, build_pvc("ssa", "desk", {"journal": {"size": "9Gi"}})))
    # then the claim keeps the size it was created with
    claim = applying.objects["/api/v1/namespaces/desk/persistentvolumeclaims/ssa-journal"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"


def test_without_server_side_apply_the_operator_creates_and_patches(kube: KubeEmulator) -> None:
    # given kmock, which has no server-side apply; then the probe says so and ensure still works
    assert with_api(kube.url, lambda api: api.applies("fallback")) is False
    with_api(
        kube.url, lambda api: ensure(api, build_configmap("fallback", "fallback", {"logLevel": "DEBUG"}))
    )
    assert kube.get("v1/configmaps", "fallback", "fallback-config")["data"]["LOG_LEVEL"] == "DEBUG"
    assert kube.list("v1/configmaps", "fallback") == [
        kube.get("v1/configmaps", "fallback", "fallback-config")
    ]


BOT_UID = "6f1c2a9e-0000-4000-8000-000000000001"
OWNER = {
    "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
    "kind": "ArbitrageBot",
    "name": "payments",
    "uid": BOT_UID,
    "controller": True,
    "blockOwnerDeletion": True,
}


def owned(child: dict[str, Any]) -> dict[str, Any]:
    """`child` as the reconciler sends it: owned by the bot (what kopf.adopt adds)."""
    child["metadata"]["ownerReferences"] = [dict(OWNER)]
    return child


def test_server_side_apply_never_takes_over_someone_elses_object(applying: ApplyingServer) -> None:
    # given the payments team's own Service `payments`, with their selector, owned by nothing of ours
    theirs = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "payments", "namespace": "desk", "uid": "their-service-uid"},
        "spec": {"selector": {"app": "payments-api"}, "ports": [{"port": 443}]},
    }
    applying.objects["/api/v1/namespaces/desk/services/payments"] = theirs
    url = applying.server.url_for("/").rstrip("/")
    # when a bot named `payments` ensures its Service
    with pytest.raises(NameConflict) as refused:
        with_api(url, lambda api: ensure(api, owned(build_service("payments", "desk", {}))))
    # then nothing was applied: the Service still routes to the payments API
    assert (
        refused.value.conflicts[0].describe()
        == "Service 'payments' already exists and is not owned by this bot"
    )
    assert applying.writes() == []
    assert applying.objects["/api/v1/namespaces/desk/services/payments"]["spec"]["selector"] == {
        "app": "payments-api"
    }


def test_server_side_apply_still_applies_the_bots_own_child(applying: ApplyingServer) -> None:
    # given a Service the bot created earlier (it carries the bot's uid)
    url = applying.server.url_for("/").rstrip("/")
    with_api(url, lambda api: ensure(api, owned(build_service("payments", "desk", {}))))
    # when it is ensured again; then it is applied again, as the operator
    with_api(url, lambda api: ensure(api, owned(build_service("payments", "desk", {}))))
    assert [method for method, *_ in applying.writes()] == ["PATCH", "PATCH"]
