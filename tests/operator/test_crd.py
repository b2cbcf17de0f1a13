"""The ArbitrageBot CRD: generated from the settings table, valid, documented, and the examples fit it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from arbitrage_operator.crd import WINDOW_PATTERN, crd_manifest, render
from arbitrage_operator.policy import Allowlist
from arbitrage_operator.spec import build_config
from bot.config import catalog

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "arbitragebot.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def crd() -> dict[str, Any]:
    return dict(yaml.safe_load(CRD_FILE.read_text()))


def schema() -> dict[str, Any]:
    return dict(crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def walk(node: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield path, node
    for name, child in (node.get("properties") or {}).items():
        yield from walk(child, f"{path}.{name}" if path else name)
    if isinstance(node.get("items"), Mapping):
        yield from walk(node["items"], f"{path}[]")


def bots(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "ArbitrageBot"]


def test_the_crd_file_is_the_generators_output() -> None:
    # given crds/arbitragebot.yaml; then it is exactly what the settings table generates
    assert CRD_FILE.read_text() == render(), (
        "crds/arbitragebot.yaml is stale: run `python -m arbitrage_operator.crd > crds/arbitragebot.yaml`"
    )


@pytest.mark.parametrize("version", ["1.29", kubernetes_validate.latest_version()])
def test_the_crd_validates_against_the_kubernetes_schemas(version: str) -> None:
    kubernetes_validate.validate(crd(), version, strict=True)


def test_names_scope_and_subresources() -> None:
    spec = crd()["spec"]
    assert spec["group"] == "arbitrage.flashgreen.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "ArbitrageBot"
    assert spec["names"]["plural"] == "arbitragebots"
    assert spec["names"]["shortNames"] == ["arb"]
    version = spec["versions"][0]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Phase",
        "Ready",
        "Trading",
        "PnL",
        "Trades",
        "Last Trade",
        "Age",
    ]


def test_every_field_is_described() -> None:
    # so that `kubectl explain arb.spec...` answers everywhere
    undocumented = [p for p, node in walk(schema()) if p and p != "metadata" and not node.get("description")]
    assert undocumented == []


def test_no_field_takes_a_floating_point_number() -> None:
    assert [p for p, node in walk(schema()) if node.get("type") == "number"] == []


def test_money_is_an_integer_or_a_decimal_string() -> None:
    limit = schema()["properties"]["spec"]["properties"]["risk"]["properties"]["loanLimitGBP"]
    assert limit["x-kubernetes-int-or-string"] is True
    assert re.fullmatch(limit["pattern"], "100000.50")
    assert not re.fullmatch(limit["pattern"], "1e5")


def test_the_trading_window_is_checked_by_pattern() -> None:
    window = schema()["properties"]["spec"]["properties"]["tradingWindow"]["properties"]["utc"]
    assert window["pattern"] == WINDOW_PATTERN
    for good in ("05:00-21:00", "22:00-06:00", "00:00-24:00"):
        assert re.fullmatch(WINDOW_PATTERN, good)
    for bad in ("5:00-21:00", "24:00-01:00", "05:00-24:30", "05:00"):
        assert not re.fullmatch(WINDOW_PATTERN, bad)


def test_the_secret_backend_is_an_enum() -> None:
    backend = schema()["properties"]["spec"]["properties"]["secrets"]["properties"]["backend"]
    assert backend["enum"] == ["kubernetes", "vault", "aws"]


def test_every_setting_with_a_spec_path_is_in_the_schema() -> None:
    paths = {p for p, _ in walk(schema()["properties"]["spec"])}
    for row in catalog():
        if row.crd:
            assert row.crd in paths, f"{row.env}: spec.{row.crd} missing from the CRD"


def test_the_status_keeps_kopf_bookkeeping() -> None:
    # kopf's progress lives in status.kopf; without this the API server would prune it
    status = schema()["properties"]["status"]["properties"]
    assert status["kopf"]["x-kubernetes-preserve-unknown-fields"] is True
    assert status["conditions"]["items"]["required"] == [
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
    ]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_fits_the_crd_schema(example: Path) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    for bot in bots(example):
        errors = [e.message for e in validator.iter_errors(bot)]
        assert errors == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_valid_examples_pass_and_invalid_ones_show_their_error(example: Path) -> None:
    for bot in bots(example):
        # the platform of production-bot.yaml lets bots run as flash-green-bot (its comment says so)
        allowlist = Allowlist(service_accounts=("default", "flash-green-bot"))
        problems = build_config(bot["metadata"]["name"], bot["spec"], allowlist=allowlist).problems
        if example.name.startswith("invalid-") and example.name != "invalid-secret-key.yaml":
            assert problems, f"{example.name} should be refused"
        else:
            assert problems == ()


def test_the_generator_and_the_file_agree_on_the_schema() -> None:
    assert crd() == crd_manifest()
