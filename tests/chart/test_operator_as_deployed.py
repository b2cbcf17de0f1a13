"""The operator runs with exactly what the chart gives its pod: entrypoint, args, env, certificate.

The rendered Deployment's container is started as a local process through the image's
entrypoint script, against the Kubernetes API emulator, with only what a pod provides swapped
for loopback equivalents: the webhook Secret's files are written where the test can mount them,
and the pod's fixed ports become free local ports.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.chart import REPO_ROOT, Helm, free_port, wait_until
from tests.fixtures.kube import KubeEmulator

ENTRYPOINT = REPO_ROOT / "docker" / "entrypoint.sh"
RELEASE = "flash-green"  # the release name the emulator's peering object is named after
SERVICE_DNS = "flash-green-webhook.flash-green.svc"
POD_NAME = "flash-green-7d9c5b-x2x9q"


class _LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 that verifies the certificate for the Service's DNS name."""

    def __init__(self, server_name: str, port: int, context: ssl.SSLContext) -> None:
        super().__init__(server_name, port, context=context, timeout=10)
        self._tls_context = context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._tls_context.wrap_socket(raw, server_hostname=self.host)


def admission_review(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The AdmissionReview the API server sends for `kubectl apply` of a new ArbitrageBot."""
    gvk = {"group": "arbitrage.flashgreen.dev", "version": "v1alpha1", "kind": "ArbitrageBot"}
    gvr = {"group": "arbitrage.flashgreen.dev", "version": "v1alpha1", "resource": "arbitragebots"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": name,
            "namespace": "trading",
            "operation": "CREATE",
            "userInfo": {"username": "desk-admin", "groups": ["system:authenticated"]},
            "object": {
                "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
                "kind": "ArbitrageBot",
                "metadata": {"name": name, "namespace": "trading"},
                "spec": spec,
            },
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


@pytest.fixture
def deployed_operator(
    helm: Helm, helm_tmp: Path, kube: KubeEmulator, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """The chart's operator container, running locally; yields its ports, CA and process."""
    docs = helm.template(helm_tmp, {}, release=RELEASE)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (secret,) = [d for d in docs if d["kind"] == "Secret"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "webhook-tls")

    # What the kubelet provides: the Secret's files, the downward API, the service account.
    cert_dir = tmp_path / "webhook-tls"
    cert_dir.mkdir()
    for key, value in secret["data"].items():
        (cert_dir / key).write_bytes(base64.b64decode(value))
    health_port, webhook_port = free_port(), free_port()
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env.update(
        POD_ID=POD_NAME,
        POD_NAMESPACE="flash-green",
        WEBHOOK_CERT_FILE=env["WEBHOOK_CERT_FILE"].replace(mount, str(cert_dir)),
        WEBHOOK_KEY_FILE=env["WEBHOOK_KEY_FILE"].replace(mount, str(cert_dir)),
        WEBHOOK_PORT=str(webhook_port),
        KUBECONFIG=str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        HOME=str(tmp_path),
        PYTHONUNBUFFERED="1",
    )
    args = [
        arg.replace(f"0.0.0.0:{8080}", f"127.0.0.1:{health_port}") if arg.startswith("--liveness=") else arg
        for arg in container["args"]
    ]
    log_path = tmp_path / "operator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", str(ENTRYPOINT), *args], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield {
            "process": process,
            "health_port": health_port,
            "webhook_port": webhook_port,
            "ca": base64.b64decode(secret["data"]["ca.crt"]).decode(),
            "path": next(d for d in docs if d["kind"] == "ValidatingWebhookConfiguration")["webhooks"][0][
                "clientConfig"
            ]["service"]["path"],
            "log": log_path,
        }
    except BaseException:
        sys.stderr.write(log_path.read_text(errors="replace")[-6000:])
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _alive(operator: dict[str, Any]) -> None:
    if operator["process"].poll() is not None:
        raise AssertionError(f"the operator exited:\n{operator['log'].read_text(errors='replace')[-4000:]}")


def _healthy(operator: dict[str, Any]) -> bool:
    _alive(operator)
    url = f"http://127.0.0.1:{operator['health_port']}/healthz"
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


def _review(operator: dict[str, Any], name: str, spec: dict[str, Any]) -> dict[str, Any]:
    context = ssl.create_default_context(cadata=operator["ca"])
    connection = _LoopbackHTTPS(SERVICE_DNS, operator["webhook_port"], context)
    try:
        connection.request(
            "POST",
            operator["path"],
            body=json.dumps(admission_review(name, spec)),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        assert response.status == 200, response.read()
        return dict(json.loads(response.read())["response"])
    finally:
        connection.close()


def _webhook_listening(operator: dict[str, Any]) -> bool:
    _alive(operator)
    with socket.create_connection(("127.0.0.1", operator["webhook_port"]), timeout=1):
        return True


def test_operator_runs_from_the_chart_and_its_webhook_refuses_an_invalid_bot_over_verified_tls(
    deployed_operator: dict[str, Any], kube: KubeEmulator
) -> None:
    operator = deployed_operator
    # when the operator container starts as the chart configures it
    wait_until(lambda: _healthy(operator), 40, "the operator's liveness endpoint")
    # then it joins the chart's peering object under its pod name (exactly one active operator)
    peering = wait_until(
        lambda: (
            (kube.get("kopf.dev/v1/clusterkopfpeerings", None, RELEASE) or {}).get("status", {}).get(POD_NAME)
        ),
        30,
        "the operator to join the peering",
    )
    assert peering["priority"] == 100
    # and the API server, trusting only the chart's caBundle and calling the webhook Service by
    # its DNS name, gets a verified TLS connection and a refusal naming the bad field
    wait_until(lambda: _webhook_listening(operator), 30, "the webhook server")
    refused = _review(operator, "night-shift", {"tradingWindow": {"utc": "25:00-26:00"}})
    assert refused["allowed"] is False
    assert "spec.tradingWindow.utc" in refused["status"]["message"]
    # and a valid bot is admitted
    admitted = _review(operator, "day-shift", {"tradingWindow": {"utc": "05:00-21:00"}})
    assert admitted["allowed"] is True
