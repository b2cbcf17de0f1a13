"""Read ArbitrageBots and their Events for `kubectl flash-green status` (kubeconfig or in-cluster).

Bodies are read as plain JSON (`_preload_content=False`) so an object the client's models would
refuse (a field it does not know, an event without a timestamp) still shows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arbitrage_operator.crd import GROUP, KIND, PLURAL, VERSION
from bot.status.fleet_view import event_time

IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class FleetError(Exception):
    """Why the cluster could not be read: the message says what to do next."""

    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Cluster:
    """A client of one cluster and the namespace its configuration selects."""

    client: Any  # kubernetes.client.ApiClient
    namespace: str

    def close(self) -> None:
        self.client.close()


def connect(kubeconfig: str | None = None, context: str | None = None) -> Cluster:
    """A client from the kubeconfig (KUBECONFIG, ~/.kube/config) or else the pod's service account."""
    from kubernetes import client, config

    try:
        api = config.new_client_from_config(config_file=kubeconfig, context=context)
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
        chosen = next((c for c in contexts if c["name"] == context), active) if context else active
        namespace = (chosen or {}).get("context", {}).get("namespace") or "default"
        return Cluster(api, namespace)
    except config.ConfigException as kube_error:
        if kubeconfig or context or not os.environ.get("KUBERNETES_SERVICE_HOST"):
            raise FleetError(
                f"no usable kubeconfig ({kube_error}): set KUBECONFIG or pass --kubeconfig"
            ) from kube_error
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException as exc:
        raise FleetError(f"no kubeconfig and no in-cluster service account: {exc}") from exc
    namespace = IN_CLUSTER_NAMESPACE.read_text().strip() if IN_CLUSTER_NAMESPACE.is_file() else "default"
    return Cluster(client.ApiClient(configuration), namespace)


def list_bots(cluster: Cluster, namespace: str | None) -> list[dict[str, Any]]:
    """Every ArbitrageBot in `namespace`, or in all namespaces when None, by namespace then name."""
    from kubernetes import client

    api = client.CustomObjectsApi(cluster.client)
    try:
        if namespace is None:
            response = _call(api.list_cluster_custom_object, GROUP, VERSION, PLURAL)
        else:
            response = _call(api.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL)
    except _NotFound as exc:
        raise FleetError(
            f"the cluster does not know {PLURAL}.{GROUP}: install the CRD (the chart does)"
        ) from exc
    items = [dict(item) for item in response.get("items") or []]
    return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))


def get_bot(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    """One ArbitrageBot, or None when there is none of that name."""
    from kubernetes import client

    api = client.CustomObjectsApi(cluster.client)
    try:
        return _call(api.get_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name)
    except _NotFound:
        return None


def bot_events(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    """Events about the ArbitrageBot `name` (core v1 events API), oldest first."""
    from kubernetes import client

    api = client.CoreV1Api(cluster.client)
    selector = f"involvedObject.kind={KIND},involvedObject.name={name}"
    response = _call(api.list_namespaced_event, namespace, field_selector=selector)
    # Filtered here too: a server (or emulator) may ignore the field selector.
    events = [
        dict(e)
        for e in response.get("items") or []
        if (e.get("involvedObject") or {}).get("name") == name
        and (e.get("involvedObject") or {}).get("kind", KIND) == KIND
    ]
    return sorted(events, key=event_time)


class _NotFound(Exception):
    pass


def _call(method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        response = method(*args, _preload_content=False, _request_timeout=15, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            raise _NotFound from exc
        if exc.status in (401, 403):
            raise FleetError(
                f"the cluster refused the request ({exc.status} {exc.reason}): your kubeconfig user needs "
                f"get/list on {PLURAL}.{GROUP} and list on events"
            ) from exc
        raise FleetError(f"the cluster answered {exc.status} {exc.reason}") from exc
    except HTTPError as exc:
        raise FleetError(f"cannot reach the cluster: {exc}") from exc
    body = json.loads(response.data or b"{}")
    return body if isinstance(body, dict) else {}
