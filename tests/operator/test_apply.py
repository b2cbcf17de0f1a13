"""Create-or-patch without server-side apply: the JSON patch sent when a child drifted."""

from __future__ import annotations

import copy

from arbitrage_operator.children import is_subset, patch_operations
from arbitrage_operator.kube import object_path
from arbitrage_operator.manifests import build_configmap, build_deployment, build_service


def server_copy(obj: dict) -> dict:
    """The object as an API server returns it: defaults filled in, bookkeeping added."""
    live = copy.deepcopy(obj)
    live["metadata"].update({"uid": "u-1", "resourceVersion": "42", "generation": 3})
    live["metadata"]["labels"]["team"] = "desk"  # someone else's label
    pod = live["spec"]["template"]["spec"] if obj["kind"] == "Deployment" else None
    if pod is not None:
        live["spec"]["progressDeadlineSeconds"] = 600
        pod["dnsPolicy"] = "ClusterFirst"
        pod["containers"][0]["terminationMessagePath"] = "/dev/termination-log"
    if obj["kind"] == "Service":
        live["spec"]["clusterIP"] = "10.0.0.7"
    return live


def test_an_unchanged_child_needs_no_write_despite_server_defaults() -> None:
    for desired in (
        build_deployment("b", "ns", {}),
        build_service("b", "ns", {}),
        build_configmap("b", "ns", {}),
    ):
        assert patch_operations(desired, server_copy(desired)) == []


def test_a_changed_deployment_gets_its_spec_replaced() -> None:
    live = server_copy(build_deployment("b", "ns", {}))
    desired = build_deployment("b", "ns", {"paused": True})
    ops = patch_operations(desired, live)
    assert ops == [{"op": "add", "path": "/spec", "value": desired["spec"]}]


def test_a_removed_setting_disappears_from_the_configmap() -> None:
    live = server_copy(build_configmap("b", "ns", {"logLevel": "DEBUG"}))
    desired = build_configmap("b", "ns", {})
    assert patch_operations(desired, live) == [{"op": "add", "path": "/data", "value": desired["data"]}]


def test_only_the_services_own_fields_are_written_and_labels_of_others_stay() -> None:
    live = server_copy(build_service("b", "ns", {}))
    live["spec"]["ports"][0]["port"] = 9999
    live["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "someone"
    ops = patch_operations(build_service("b", "ns", {}), live)
    assert ops == [
        {
            "op": "add",
            "path": "/metadata/labels/app.kubernetes.io~1managed-by",
            "value": "flash-green-operator",
        },
        {"op": "add", "path": "/spec/ports", "value": build_service("b", "ns", {})["spec"]["ports"]},
    ]


def test_subsets_compare_lists_item_by_item() -> None:
    assert is_subset({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}], "b": 3})
    assert not is_subset({"a": [{"x": 1}]}, {"a": [{"x": 1}, {"x": 2}]})


def test_object_paths() -> None:
    assert object_path("v1", "ConfigMap", "ns", "c") == "/api/v1/namespaces/ns/configmaps/c"
    assert object_path("apps/v1", "Deployment", "ns") == "/apis/apps/v1/namespaces/ns/deployments"
