"""The rendered operator is locked down: hardened pod, least-privilege RBAC, the project's own CRD."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.chart import CHART_CASES, CHART_DIR, CRD_FILE, Helm

# What the operator does with each resource, and so all it may do (see docs/deployment.md#rbac).
# A new verb here must come with the operator code that needs it.
NAMESPACED_RULES: dict[tuple[str, str], set[str]] = {
    ("arbitrage.flashgreen.dev", "arbitragebots"): {"get", "list", "watch", "patch"},
    ("arbitrage.flashgreen.dev", "arbitragebots/status"): {"patch"},
    ("", "configmaps"): {"get", "create", "patch"},
    ("", "services"): {"get", "create", "patch"},
    ("", "persistentvolumeclaims"): {"get", "create", "patch"},
    ("apps", "deployments"): {"get", "list", "watch", "create", "patch"},
    ("", "secrets"): {"get"},
    ("", "events"): {"create", "patch"},
    ("monitoring.coreos.com", "servicemonitors"): {"get", "create", "patch", "delete"},
}
CLUSTER_PEERING = {("kopf.dev", "clusterkopfpeerings"): {"list", "watch", "patch"}}
NAMESPACED_PEERING = {("kopf.dev", "kopfpeerings"): {"list", "watch", "patch"}}


def only(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def operator_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = only(docs, "Deployment")
    return dict(deployment["spec"]["template"]["spec"])


def granted(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs, flattened from a Role or ClusterRole."""
    table: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                table.setdefault((group, resource), set()).update(rule["verbs"])
    return table


@pytest.mark.parametrize("case", list(CHART_CASES))
def test_operator_runs_non_root_with_a_read_only_root_filesystem(
    rendered_cases: dict[str, list[dict[str, Any]]], case: str
) -> None:
    # given the rendered operator pod
    pod = operator_pod(rendered_cases[case])
    (container,) = pod["containers"]
    security = container["securityContext"]
    # then it runs as the image's fixed non-root user with no way to gain privileges
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    # and its only writable path is the /tmp volume
    writable = [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]
    assert writable == ["/tmp"]


@pytest.mark.parametrize("case", list(CHART_CASES))
def test_operator_has_resource_requests_and_limits(
    rendered_cases: dict[str, list[dict[str, Any]]], case: str
) -> None:
    (container,) = operator_pod(rendered_cases[case])["containers"]
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) >= {"cpu", "memory"}


def test_operator_is_one_replica_replaced_by_recreate_with_liveness_on_8080(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given the default rendering
    (deployment,) = only(rendered_cases["defaults"], "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    # then one replica is replaced by stopping it first: two operators never reconcile at once
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    # and the kubelet checks kopf's liveness endpoint on :8080/healthz
    health_port = next(p for p in container["ports"] if p["name"] == "health")
    assert health_port["containerPort"] == 8080
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    # and the image's entrypoint is told to run the operator
    assert container["args"][0] == "operator"


@pytest.mark.parametrize("case", list(CHART_CASES))
def test_no_rbac_rule_uses_a_wildcard(rendered_cases: dict[str, list[dict[str, Any]]], case: str) -> None:
    roles = only(rendered_cases[case], "ClusterRole") + only(rendered_cases[case], "Role")
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                assert not any("*" in entry for entry in rule.get(field, [])), (
                    role["metadata"]["name"],
                    rule,
                )


def test_cluster_mode_grants_exactly_what_the_operator_uses(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given cluster-wide mode
    docs = rendered_cases["defaults"]
    # then one ClusterRole holds the operator's verbs and nothing more, bound to its ServiceAccount
    (role,) = only(docs, "ClusterRole")
    assert granted(role) == NAMESPACED_RULES | CLUSTER_PEERING
    (binding,) = only(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "fg-flash-green", "namespace": "flash-green"}
    ]
    # and the operator watches every namespace
    (container,) = operator_pod(docs)["containers"]
    assert "--all-namespaces" in container["args"]


def test_namespaced_mode_grants_only_roles_in_the_watched_namespaces(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    # given namespaced mode serving two namespaces
    docs = rendered_cases["namespaced-monitoring-on"]
    # then there is no cluster-wide grant at all
    assert only(docs, "ClusterRole") == []
    assert only(docs, "ClusterRoleBinding") == []
    # and each served namespace gets the same Role and a binding to the operator's account
    roles = {role["metadata"]["namespace"]: role for role in only(docs, "Role")}
    assert set(roles) == {"trading-staging", "trading-prod"}
    for role in roles.values():
        assert granted(role) == NAMESPACED_RULES | NAMESPACED_PEERING
    bindings = {b["metadata"]["namespace"]: b for b in only(docs, "RoleBinding")}
    assert set(bindings) == set(roles)
    for binding in bindings.values():
        assert binding["subjects"][0]["namespace"] == "flash-green"
    # and the operator is told to watch exactly those namespaces
    (container,) = operator_pod(docs)["containers"]
    assert "--all-namespaces" not in container["args"]
    assert {a for a in container["args"] if a.startswith("--namespace=")} == {
        "--namespace=trading-staging",
        "--namespace=trading-prod",
    }


def test_namespaced_mode_without_a_list_serves_the_release_namespace(
    rendered_cases: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered_cases["namespaced-release-namespace-monitoring-off"]
    assert [role["metadata"]["namespace"] for role in only(docs, "Role")] == ["flash-green"]


def test_secrets_are_only_ever_read(rendered_cases: dict[str, list[dict[str, Any]]]) -> None:
    # the operator checks referenced Secrets for keys; it never lists, watches or changes them
    for case_docs in rendered_cases.values():
        for role in only(case_docs, "ClusterRole") + only(case_docs, "Role"):
            assert granted(role).get(("", "secrets"), {"get"}) == {"get"}


def test_chart_crd_is_the_crds_directory_file(helm: Helm, helm_tmp: Path) -> None:
    # given the chart's CRD entry, which is a link into crds/ rather than a copy
    chart_crd = CHART_DIR / "crds" / "arbitragebot.yaml"
    assert chart_crd.is_symlink()
    assert chart_crd.resolve() == CRD_FILE.resolve()
    # when helm renders the chart with its CRDs
    rendered = helm.template_text(helm_tmp, {}, include_crds=True)
    # then the ArbitrageBot CRD helm installs is byte for byte crds/arbitragebot.yaml
    marker = "# Source: flash-green/crds/arbitragebot.yaml\n"
    assert marker in rendered
    section = rendered.split(marker, 1)[1].split("\n---\n", 1)[0]
    assert section.rstrip("\n") == CRD_FILE.read_text().rstrip("\n")
    # and it parses to the same object
    assert yaml.safe_load(section) == yaml.safe_load(CRD_FILE.read_text())


def test_packaged_chart_carries_the_linked_files_as_regular_files(helm: Helm, helm_tmp: Path) -> None:
    # given the chart packaged for a registry (where links to the repository cannot follow)
    archive = helm.package(helm_tmp)
    # then the CRD, the alerts and the dashboard are inside as the files they link to
    with tarfile.open(archive) as packed:
        for inside, source in (
            ("flash-green/crds/arbitragebot.yaml", CRD_FILE),
            ("flash-green/files/alerts.yaml", CHART_DIR.parents[1] / "monitoring" / "alerts.yaml"),
            ("flash-green/files/dashboard.json", CHART_DIR.parents[1] / "monitoring" / "dashboard.json"),
        ):
            member = packed.getmember(inside)
            assert member.isfile()
            extracted = packed.extractfile(member)
            assert extracted is not None
            assert extracted.read() == source.read_bytes()
