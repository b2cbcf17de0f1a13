"""End to end in a real cluster: kind, the image, the chart, real bots (`make e2e`).

Needs Docker, kind, kubectl and helm on PATH. It builds the image, creates a throw-away kind
cluster (`flash-green-e2e`), loads the image, installs the chart and then checks what the kmock
suite checks, this time with a real API server, real controllers, real garbage collection and
the admission webhook wired by the chart. `FLASH_GREEN_E2E_KEEP=1` keeps the cluster afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "flash-green-e2e"
IMAGE = "flash-green:e2e"
NAMESPACE = "trading"
TOOLS = ("docker", "kind", "kubectl", "helm")


def _missing_requirement() -> str | None:
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        return f"the kind end-to-end suite needs {', '.join(absent)} on PATH (not installed here)"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
        return "the kind end-to-end suite needs a running Docker engine (`docker info` failed)"
    return None


_REASON = _missing_requirement()
if _REASON is not None:
    pytest.skip(_REASON, allow_module_level=True)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), input=input, capture_output=True, text=True, check=check, timeout=600)


def kubectl(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run("kubectl", "--context", f"kind-{CLUSTER}", *args, input=input, check=check)


def get(kind: str, name: str, namespace: str = NAMESPACE) -> dict[str, Any] | None:
    result = kubectl("-n", namespace, "get", kind, name, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def eventually(probe: Callable[[], T], *, timeout: float = 180, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(2)


def condition(name: str, type_: str) -> dict[str, Any]:
    bot = get("arb", name) or {}
    return next((c for c in bot.get("status", {}).get("conditions", []) if c["type"] == type_), {})


def apply(document: dict[str, Any], check: bool = True) -> subprocess.CompletedProcess[str]:
    return kubectl("-n", NAMESPACE, "apply", "-f", "-", input=yaml.safe_dump(document), check=check)


def example(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((ROOT / "examples" / name).read_text()) if d]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A kind cluster with the image loaded and the chart installed."""
    run("docker", "build", "-t", IMAGE, str(ROOT))
    run("kind", "create", "cluster", "--name", CLUSTER, "--wait", "120s")
    try:
        run("kind", "load", "docker-image", IMAGE, "--name", CLUSTER)
        run(
            "helm",
            "--kube-context",
            f"kind-{CLUSTER}",
            "install",
            "flash-green",
            str(ROOT / "charts" / "flash-green"),
            "--namespace",
            "flash-green",
            "--create-namespace",
            "--wait",
            "--timeout",
            "5m",
            "--set",
            "image.repository=flash-green",
            "--set",
            "image.tag=e2e",
            "--set",
            "image.pullPolicy=Never",
            "--set",
            "webhook.certManager.enabled=false",
        )
        kubectl("create", "namespace", NAMESPACE)
        kubectl(
            "-n",
            NAMESPACE,
            "create",
            "secret",
            "generic",
            "staging-api-key",
            "--from-literal=API_KEY=e2e-key",
        )
        yield
    finally:
        if os.environ.get("FLASH_GREEN_E2E_KEEP") != "1":
            run("kind", "delete", "cluster", "--name", CLUSTER, check=False)


def test_the_staging_bot_runs_and_becomes_ready(cluster: None) -> None:
    bot = example("staging-bot.yaml")[0]
    bot["spec"]["tradingWindow"] = {"utc": "00:00-24:00", "allowWeekends": True}
    apply(bot)
    eventually(lambda: condition("staging", "Ready").get("status") == "True", what="the staging bot Ready")
    assert condition("staging", "Trading")["status"] == "True"
    assert condition("staging", "ConfigValid")["reason"] == "Valid"


def test_an_invalid_bot_is_refused_at_apply_time(cluster: None) -> None:
    result = apply(example("invalid-missing-credentials.yaml")[0], check=False)
    assert result.returncode != 0
    assert "spec.ice.apiUrl" in result.stderr
    assert "ICE_API_URL" in result.stderr


def test_a_secret_missing_a_key_blocks_the_bot(cluster: None) -> None:
    for document in example("invalid-secret-key.yaml"):
        apply(document)
    eventually(
        lambda: condition("invalid-secret-key", "ConfigValid").get("reason") == "SecretKeyMissing",
        what="SecretKeyMissing",
    )
    assert get("deployment", "invalid-secret-key") is None


def test_a_spec_change_rolls_a_new_pod(cluster: None) -> None:
    before = get("deployment", "staging")["spec"]["template"]["metadata"]["annotations"]
    kubectl("-n", NAMESPACE, "patch", "arb", "staging", "--type=merge", "-p", '{"spec":{"logLevel":"DEBUG"}}')
    eventually(
        lambda: get("deployment", "staging")["spec"]["template"]["metadata"]["annotations"] != before,
        what="a new configuration hash",
    )
    kubectl("-n", NAMESPACE, "rollout", "status", "deployment/staging", "--timeout=180s")


def test_pausing_keeps_the_api_up(cluster: None) -> None:
    kubectl("-n", NAMESPACE, "patch", "arb", "staging", "--type=merge", "-p", '{"spec":{"paused":true}}')
    eventually(lambda: condition("staging", "Trading").get("reason") == "Paused", what="Trading Paused")
    eventually(lambda: condition("staging", "Ready").get("status") == "True", what="Ready while paused")
    config = get("configmap", "staging-config")
    assert config is not None and config["data"]["TRADING_ENABLED"] == "0"


def test_deleting_the_bot_removes_its_children(cluster: None) -> None:
    kubectl("-n", NAMESPACE, "delete", "arb", "staging", "--wait=true")
    eventually(
        lambda: get("deployment", "staging") is None and get("configmap", "staging-config") is None,
        what="garbage collection of the children",
    )
