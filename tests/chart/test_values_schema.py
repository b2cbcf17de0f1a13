"""values.schema.json refuses bad values at install time with a message naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.chart import Helm, HelmError

BAD_VALUES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "unknown watch mode": (
        {"watch": {"mode": "everywhere"}},
        ["/watch/mode", "'cluster', 'namespaced'"],
    ),
    "two operator replicas": (
        {"operator": {"replicas": 2}},
        ["/operator/replicas", "must be 1"],
    ),
    "misspelt top-level key": (
        {"monitorng": {"prometheusRule": {"enabled": True}}},
        ["'monitorng' not allowed"],
    ),
    "bot without a spec and with an invalid name": (
        {"bots": [{"name": "Staging_Bot"}]},
        ["/bots/0", "missing property 'spec'", "/bots/0/name", "does not match pattern"],
    ),
    "operator without resource limits": (
        {"operator": {"resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": None}}},
        ["/operator/resources", "missing property 'limits'"],
    ),
    "label value that is not a string": (
        {"monitoring": {"additionalLabels": {"release": 1}}},
        ["/monitoring/additionalLabels/release", "want string"],
    ),
    "unknown webhook failure policy": (
        {"webhook": {"failurePolicy": "Retry"}},
        ["/webhook/failurePolicy", "'Fail', 'Ignore'"],
    ),
    "cert-manager issuer without a name": (
        {"webhook": {"certManager": {"issuerRef": {"kind": "ClusterIssuer"}}}},
        ["/webhook/certManager/issuerRef", "missing property 'name'"],
    ),
    "scrape interval that is not a duration": (
        {"monitoring": {"bots": {"interval": "every minute"}}},
        ["/monitoring/bots/interval", "does not match pattern"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_bad_values_are_refused_with_a_message_naming_the_key(helm: Helm, helm_tmp: Path, case: str) -> None:
    # given values a user could plausibly write by mistake
    values, expected_fragments = BAD_VALUES[case]
    # when the chart is rendered (what `helm install` does first)
    with pytest.raises(HelmError) as refused:
        helm.template(helm_tmp, values)
    # then helm refuses, saying which key is wrong and why
    message = str(refused.value)
    assert "don't meet the specifications of the schema" in message
    for fragment in expected_fragments:
        assert fragment in message


def test_values_file_defaults_satisfy_the_schema(helm: Helm, helm_tmp: Path) -> None:
    # given the chart's own values.yaml, when rendered with no overrides, then the schema accepts it
    assert helm.template(helm_tmp, {})
