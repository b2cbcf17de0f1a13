"""The chart's namespaced install: `python -m arbitrage_operator --namespace=NS`, end to end against kmock.

The chart runs the operator with `--namespace` for each watched namespace and a namespaced
KopfPeering of the release's name. kmock cannot parse `GET /api/v1/namespaces/NS`, which kopf
sends when it scans namespaces; the operator turns scanning off, and the fixture answers that
request anyway (tests/fixtures/kube.py), so either way the operator runs unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.kube import BOTS, KubeEmulator, OperatorProcess, free_port, wait_for

WATCHED, OTHER = "desk-n", "desk-elsewhere"
PEERING = "flash-green"
ALL_DAY = {"tradingWindow": {"utc": "00:00-24:00", "allowWeekends": True}}


def bot(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
        "kind": "ArbitrageBot",
        "metadata": {"name": name, "namespace": namespace},
        "spec": dict(ALL_DAY),
    }


class NamespacedOperator(OperatorProcess):
    """The operator in namespaced mode: it joins the namespace's KopfPeering, not the cluster's."""

    def wait_watching(self, timeout: float = 30.0) -> None:
        def joined() -> bool:
            self.assert_alive()
            peering = self.emulator.get("kopf.dev/v1/kopfpeerings", WATCHED, PEERING)
            return bool(peering and peering.get("status"))

        wait_for(joined, timeout=timeout, what="the operator to join the namespace's peering")


@pytest.fixture(scope="module")
def namespaced_operator(
    kube: KubeEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    kube.create(
        "kopf.dev/v1/kopfpeerings",
        {
            "apiVersion": "kopf.dev/v1",
            "kind": "KopfPeering",
            "metadata": {"name": PEERING, "namespace": WATCHED},
        },
    )
    workdir = tmp_path_factory.mktemp("namespaced-operator")
    args = [
        f"--namespace={WATCHED}",
        f"--peering={PEERING}",
        f"--liveness=http://127.0.0.1:{free_port()}/healthz",
    ]
    operator = NamespacedOperator(kube, workdir, args=args).start()
    try:
        operator.wait_watching()
        yield operator
    except BaseException:
        print(operator.output()[-6000:])
        raise
    finally:
        operator.stop()


def test_a_bot_in_the_watched_namespace_is_reconciled(
    kube: KubeEmulator, namespaced_operator: OperatorProcess
) -> None:
    # given the operator watching one namespace
    # when a bot is created there
    kube.create(BOTS, bot("near", WATCHED))
    # then it gets its children and a status
    wait_for(lambda: (kube.get(BOTS, WATCHED, "near") or {}).get("status", {}).get("phase"), what="a status")
    assert kube.get("apps/v1/deployments", WATCHED, "near") is not None
    assert kube.get("v1/services", WATCHED, "near") is not None


def test_a_bot_elsewhere_is_never_touched(kube: KubeEmulator, namespaced_operator: OperatorProcess) -> None:
    # given a bot in a namespace the operator does not watch, then one in the watched namespace
    kube.create(BOTS, bot("far", OTHER))
    kube.create(BOTS, bot("after", WATCHED))
    # when the watched one has been reconciled
    wait_for(
        lambda: (kube.get(BOTS, WATCHED, "after") or {}).get("status"), what="the watched bot reconciled"
    )
    # then the only request about the other namespace is the test's own creation of its bot
    about_other = [(method, path) for method, path in kube.requests_made() if f"/namespaces/{OTHER}/" in path]
    assert about_other == [
        ("POST", f"/apis/arbitrage.flashgreen.dev/v1alpha1/namespaces/{OTHER}/arbitragebots")
    ]
    assert "status" not in (kube.get(BOTS, OTHER, "far") or {})
    assert kube.get("apps/v1/deployments", OTHER, "far") is None


def test_the_namespaced_operator_reports_nothing_unexpected(namespaced_operator: OperatorProcess) -> None:
    # then its log holds no traceback (every request kopf made in this mode was served)
    assert "Traceback" not in namespaced_operator.output()
