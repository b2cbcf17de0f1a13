"""The platform's choice of bot images and ServiceAccounts travels from the chart's values to the
operator: `helm template` renders the operator's environment, which the operator's own settings
loader reads as it would in the pod."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arbitrage_operator.runtime import load
from tests.fixtures.chart import Helm, HelmError

DIGEST = "sha256:" + "d" * 64


def operator_env(helm: Helm, tmp: Path, values: dict[str, Any]) -> dict[str, str]:
    docs = helm.template(tmp, values)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def test_by_default_bots_may_name_only_the_charts_image_and_the_default_account(
    helm: Helm, helm_tmp: Path
) -> None:
    # given the chart's defaults; when the operator reads the environment the chart gives it
    env = operator_env(helm, helm_tmp, {})
    allowlist = load(env).allowlist()
    # then a bot may name the chart's own image and the `default` account, and nothing else
    assert allowlist.images == (env["FLASH_GREEN_BOT_IMAGE"],)
    assert allowlist.service_accounts == ("default",)
    assert allowlist.allows_image(env["FLASH_GREEN_BOT_IMAGE"])
    assert not allowlist.allows_image("docker.io/attacker/miner:latest")
    assert not allowlist.allows_service_account("namespace-admin")


def test_the_platform_widens_the_allowlist_through_values(helm: Helm, helm_tmp: Path) -> None:
    # given a platform team allowing its registry prefix, one pinned digest and an IRSA account
    values = {
        "botPolicy": {
            "allowedImages": ["registry.example.com/trading/", DIGEST],
            "allowedServiceAccounts": ["default", "bot-irsa"],
        }
    }
    env = operator_env(helm, helm_tmp, values)
    # then the operator's settings carry exactly that
    assert env["FLASH_GREEN_ALLOWED_IMAGES"] == f"registry.example.com/trading/,{DIGEST}"
    assert env["FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS"] == "default,bot-irsa"
    allowlist = load(env).allowlist()
    assert allowlist.allows_image("registry.example.com/trading/flash-green:0.2.0")
    assert allowlist.allows_image(f"mirror.example.com/flash-green@{DIGEST}")
    assert not allowlist.allows_image("registry.example.com/other/flash-green:0.2.0")
    assert allowlist.allows_service_account("bot-irsa")


@pytest.mark.parametrize(
    ("values", "fragments"),
    [
        (
            {"botPolicy": {"allowedServiceAccounts": ["../kube-system"]}},
            ["/botPolicy/allowedServiceAccounts/0"],
        ),
        ({"botPolicy": {"allowedImages": ["a,b"]}}, ["/botPolicy/allowedImages/0"]),
        ({"botPolicy": {"allowImages": []}}, ["'allowImages' not allowed"]),
    ],
    ids=["service-account-not-a-name", "image-with-a-comma", "misspelt-key"],
)
def test_a_bad_allowlist_value_is_refused_at_install(
    helm: Helm, helm_tmp: Path, values: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(HelmError) as refused:
        helm.template(helm_tmp, values)
    for fragment in fragments:
        assert fragment in str(refused.value)
