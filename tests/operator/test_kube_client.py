"""The operator's own API client and its writes, against kmock on loopback (no operator process)."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import kopf
import pytest

from arbitrage_operator.children import ensure
from arbitrage_operator.handlers.trading_clock import refresh_trading
from arbitrage_operator.kube import ApiError, KubeApi, object_path, secret_keys
from arbitrage_operator.manifests import build_configmap, build_deployment
from arbitrage_operator.status import Condition, bot_status
from tests.fixtures.kube import BOTS, KubeEmulator

T = TypeVar("T")
NOON = datetime.datetime(2025, 6, 4, 12, 0, tzinfo=datetime.UTC)
NIGHT = datetime.datetime(2025, 6, 4, 22, 30, tzinfo=datetime.UTC)
READY = {"status": {"availableReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]}}


def with_api(kube: KubeEmulator, work: Callable[[KubeApi], Awaitable[T]]) -> T:
    async def main() -> T:
        api = KubeApi()
        api.use(kopf.ConnectionInfo(server=kube.url))
        try:
            return await work(api)
        finally:
            await api.close()

    return asyncio.run(main())


def test_a_missing_object_reads_as_none(kube: KubeEmulator) -> None:
    assert with_api(kube, lambda api: api.get("/api/v1/namespaces/nowhere/configmaps/none")) is None


def test_creating_twice_is_a_conflict(kube: KubeEmulator) -> None:
    configmap = build_configmap("twice", "client", {})
    with_api(kube, lambda api: api.create(configmap))
    with pytest.raises(ApiError) as refused:
        with_api(kube, lambda api: api.create(configmap))
    assert refused.value.status == 409


def test_ensure_creates_then_leaves_an_unchanged_child_alone(kube: KubeEmulator) -> None:
    deployment = build_deployment("steady", "client", {})
    with_api(kube, lambda api: ensure(api, deployment))
    writes = kube.versions("apps/v1/deployments", "client", "steady")
    with_api(kube, lambda api: ensure(api, deployment))
    with_api(kube, lambda api: ensure(api, deployment))
    assert kube.versions("apps/v1/deployments", "client", "steady") == writes


def test_ensure_patches_a_child_that_drifted(kube: KubeEmulator) -> None:
    with_api(kube, lambda api: ensure(api, build_configmap("drift", "client", {"logLevel": "DEBUG"})))
    with_api(kube, lambda api: ensure(api, build_configmap("drift", "client", {})))
    data = kube.get("v1/configmaps", "client", "drift-config")["data"]
    assert "LOG_LEVEL" not in data


def test_only_the_key_names_of_secrets_are_returned(kube: KubeEmulator) -> None:
    kube.create(
        "v1/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "client"},
            "data": {"ICE_API_KEY": "c2VjcmV0"},
        },
    )
    keys = with_api(kube, lambda api: secret_keys(api, "client", ["creds", "absent"]))
    assert keys == {"creds": frozenset({"ICE_API_KEY"}), "absent": None}


def test_a_secret_name_cannot_reach_another_namespace(kube: KubeEmulator) -> None:
    # given a Secret in kube-system, and a name that climbs there from the bot's namespace
    kube.create(
        "v1/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "cloud-creds", "namespace": "kube-system"},
            "data": {"AWS_SECRET_ACCESS_KEY": "c2VjcmV0"},
        },
    )
    climbing = "../../kube-system/secrets/cloud-creds"
    # when the operator's client asks for the key names of that "Secret"
    keys = with_api(kube, lambda api: secret_keys(api, "client", [climbing]))
    # then the name stays one path segment of the bot's namespace: nothing is found, nothing learnt
    assert keys == {climbing: None}
    assert kube.request_paths()[-1] == (
        "/api/v1/namespaces/client/secrets/..%2F..%2Fkube-system%2Fsecrets%2Fcloud-creds"
    )


def test_object_paths_quote_names_and_refuse_dot_segments() -> None:
    assert object_path("v1", "Secret", "ns", "a/b?c") == "/api/v1/namespaces/ns/secrets/a%2Fb%3Fc"
    assert (
        object_path("v1", "Secret", "../kube-system", "x") == "/api/v1/namespaces/..%2Fkube-system/secrets/x"
    )
    for dots in (".", ".."):
        with pytest.raises(ValueError, match="not an object name"):
            object_path("v1", "Secret", "ns", dots)


def bot_with_status(kube: KubeEmulator, name: str, window: str) -> None:
    spec: dict[str, Any] = {"tradingWindow": {"utc": window}}
    valid = Condition("ConfigValid", "True", "Valid", "ok")
    status = bot_status(spec, generation=1, existing=None, valid=valid, deployment=READY, now=NOON)
    kube.create(
        BOTS,
        {
            "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
            "kind": "ArbitrageBot",
            "metadata": {"name": name, "namespace": "client"},
            "spec": spec,
            "status": status,
        },
    )


def trading(kube: KubeEmulator, name: str) -> dict[str, Any]:
    bot = kube.get(BOTS, "client", name)
    return next(c for c in bot["status"]["conditions"] if c["type"] == "Trading")


def test_the_clock_turns_trading_off_when_the_window_closes(kube: KubeEmulator) -> None:
    # given a bot trading at noon inside 05:00-21:00
    bot_with_status(kube, "clocked", "05:00-21:00")
    assert trading(kube, "clocked")["status"] == "True"
    # when the clock ticks at night
    with_api(kube, lambda api: refresh_trading(api, "client", "clocked", NIGHT))
    # then Trading is False, Outside the window, and the phase says Idle
    assert (trading(kube, "clocked")["status"], trading(kube, "clocked")["reason"]) == (
        "False",
        "OutsideWindow",
    )
    assert kube.get(BOTS, "client", "clocked")["status"]["phase"] == "Idle"


def test_the_clock_writes_nothing_while_the_window_stays_open(kube: KubeEmulator) -> None:
    bot_with_status(kube, "unchanged", "05:00-21:00")
    writes = kube.versions(BOTS, "client", "unchanged")
    with_api(
        kube, lambda api: refresh_trading(api, "client", "unchanged", NOON + datetime.timedelta(minutes=5))
    )
    assert kube.versions(BOTS, "client", "unchanged") == writes
