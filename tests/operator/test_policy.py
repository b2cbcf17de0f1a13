"""What the platform lets a spec choose: names in the namespace, allowed images and ServiceAccounts,
URLs without credentials. Pure: the spec validation, the CRD schema and the operator's settings."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from arbitrage_operator.crd import crd_manifest
from arbitrage_operator.manifests import build_configmap
from arbitrage_operator.policy import (
    DNS_SUBDOMAIN_MAX,
    DNS_SUBDOMAIN_PATTERN,
    NAME_FIELDS,
    Allowlist,
    image_matches,
)
from arbitrage_operator.runtime import RuntimeConfigError, load
from arbitrage_operator.secret_refs import referenced_secrets
from arbitrage_operator.spec import build_config
from arbitrage_operator.spec_fields import get_path
from arbitrage_operator.status import config_valid_condition

ESCAPE = "../../kube-system/secrets/cloud-creds"
PASSWORD = "hunter2-s3cret"
DESK_PREFIX = Allowlist(images=("ghcr.io/flash-green/flash-green:0.1.0", "registry.example.com/trading/"))


def spec_schema() -> dict[str, Any]:
    version = crd_manifest()["spec"]["versions"][0]
    return dict(version["schema"]["openAPIV3Schema"]["properties"]["spec"])


def with_path(path: str, value: Any) -> dict[str, Any]:
    """A spec holding `value` at the dotted `path`."""
    spec: dict[str, Any] = {}
    node = spec
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return spec


# -- 12. Secret references stay in their namespace --------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"apiKeySecretRef": {"name": ESCAPE}},
        {"journal": {"databaseUrlSecretRef": {"name": ESCAPE}}},
        {"secrets": {"kubernetes": {"secretName": ESCAPE}}},
        {"secrets": {"backend": "vault", "vault": {"tokenSecretRef": {"name": ESCAPE}}}},
    ],
    ids=["apiKeySecretRef", "databaseUrlSecretRef", "secretName", "vault.tokenSecretRef"],
)
def test_a_secret_name_leaving_the_namespace_is_refused_and_never_looked_up(spec: dict[str, Any]) -> None:
    # given a reference whose name climbs into kube-system
    # when the spec is judged
    config = build_config("nosy", spec)
    # then it is refused, naming the field, and the operator would not read it at all
    assert any("is not a Secret name" in p and ESCAPE in p for p in config.problems), config.problems
    assert config.spec_problems
    assert ESCAPE not in referenced_secrets(spec)
    assert all(s.secret != ESCAPE for s in config.secret_env)


def test_a_service_account_or_storage_class_name_must_be_a_dns_subdomain() -> None:
    for path, kind in (
        ("serviceAccountName", "ServiceAccount"),
        ("journal.storageClassName", "StorageClass"),
    ):
        problems = build_config("b", with_path(path, "../default")).problems
        assert any(p.startswith(f"spec.{path}:") and f"is not a {kind} name" in p for p in problems)


def test_a_secret_key_must_be_a_key_kubernetes_accepts() -> None:
    problems = build_config("b", {"apiKeySecretRef": {"name": "api", "key": "../API_KEY"}}).problems
    assert any(p.startswith("spec.apiKeySecretRef.key:") for p in problems)


def test_every_name_field_is_a_dns_subdomain_in_the_crd_schema() -> None:
    # given the generated CRD; then each field naming an object carries the DNS-subdomain rule
    schema = spec_schema()
    for field in NAME_FIELDS:
        node: Any = schema
        for part in field.path.split("."):
            node = node["properties"][part]
        assert (node["pattern"], node["maxLength"]) == (DNS_SUBDOMAIN_PATTERN, DNS_SUBDOMAIN_MAX), field.path
        # and the API server itself refuses the escape before any webhook or operator sees it
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(with_path(field.path, ESCAPE), schema)
        jsonschema.validate(with_path(field.path, "desk-a.credentials"), schema)


# -- 14. Image and ServiceAccount are the platform's choice -----------------------------------


@pytest.mark.parametrize(
    ("image", "entry", "allowed"),
    [
        ("registry.example.com/trading/bot:1.2", "registry.example.com/trading/", True),
        ("registry.example.com/trading-evil/bot:1", "registry.example.com/trading", False),
        ("ghcr.io/flash-green/flash-green:0.2.0", "ghcr.io/flash-green/flash-green", True),
        ("ghcr.io/flash-green/flash-green-evil:0.2.0", "ghcr.io/flash-green/flash-green", False),
        ("ghcr.io/flash-green/flash-green:0.2.0", "ghcr.io/flash-green/flash-green:0.1.0", False),
        (f"any.example/x@sha256:{'a' * 64}", f"sha256:{'a' * 64}", True),
        (f"any.example/x:tag@sha256:{'b' * 64}", f"sha256:{'a' * 64}", False),
    ],
)
def test_an_allowlist_entry_is_a_prefix_a_repository_an_image_or_a_digest(
    image: str, entry: str, allowed: bool
) -> None:
    assert image_matches(image, entry) is allowed


def test_an_image_outside_the_allowlist_is_refused_with_its_own_reason() -> None:
    # given the operator's defaults (its own image only) and a spec naming another image
    config = build_config("b", {"image": "docker.io/attacker/miner:latest"})
    # then the configuration is invalid, ConfigValid says ImageNotAllowed, and the message says what to do
    assert config.spec_problems
    condition = config_valid_condition(config)
    assert (condition.status, condition.reason) == ("False", "ImageNotAllowed")
    assert "spec.image" in condition.message and "FLASH_GREEN_ALLOWED_IMAGES" in condition.message


def test_the_default_image_and_allowlisted_images_are_accepted() -> None:
    assert build_config("b", {"image": "ghcr.io/flash-green/flash-green:0.1.0"}).problems == ()
    assert build_config("b", {"image": "registry.example.com/trading/bot:2"}, allowlist=DESK_PREFIX).valid
    assert build_config("b", {}, allowlist=Allowlist(images=("x.example/only:1",))).valid


def test_a_malformed_image_is_refused_even_under_an_allowed_prefix() -> None:
    spec = {"image": "registry.example.com/trading/../../attacker/miner:1"}
    assert config_valid_condition(build_config("b", spec, allowlist=DESK_PREFIX)).reason == "ImageNotAllowed"


def test_a_service_account_outside_the_allowlist_is_refused() -> None:
    config = build_config("b", {"serviceAccountName": "cluster-admin-sa"})
    condition = config_valid_condition(config)
    assert (condition.status, condition.reason) == ("False", "ServiceAccountNotAllowed")
    assert "FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS" in condition.message
    allowed = Allowlist(service_accounts=("default", "bot-irsa"))
    assert build_config("b", {"serviceAccountName": "bot-irsa"}, allowlist=allowed).valid
    assert build_config("b", {"serviceAccountName": "default"}).valid


def test_the_operator_reads_its_allowlist_from_its_environment() -> None:
    # given no setting: the default bot image and the `default` account only
    assert load({}).allowlist() == Allowlist()
    # given comma lists: the default image stays allowed, the accounts are exactly those listed
    settings = load(
        {
            "FLASH_GREEN_BOT_IMAGE": "registry.example.com/fg:3",
            "FLASH_GREEN_ALLOWED_IMAGES": "registry.example.com/trading/, sha256:" + "c" * 64,
            "FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS": "bot-irsa,default",
        }
    )
    allowlist = settings.allowlist()
    assert allowlist.images == (
        "registry.example.com/fg:3",
        "registry.example.com/trading/",
        "sha256:" + "c" * 64,
    )
    assert allowlist.service_accounts == ("bot-irsa", "default")
    assert allowlist.allows_image("registry.example.com/fg:3")


def test_a_bad_allowlist_entry_stops_the_operator_naming_the_variable() -> None:
    with pytest.raises(RuntimeConfigError, match="FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS"):
        load({"FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS": "ok,../kube-system"})
    with pytest.raises(RuntimeConfigError, match="FLASH_GREEN_ALLOWED_IMAGES"):
        load({"FLASH_GREEN_ALLOWED_IMAGES": "registry.example.com/a b"})


# -- 9. No credentials in URLs ----------------------------------------------------------------

URL_FIELDS = (
    "powerledger.apiUrl",
    "ice.apiUrl",
    "ice.fnality.apiUrl",
    "web3.rpcUrl",
    "secrets.vault.address",
    "auth.oidc.jwksUrl",
)


@pytest.mark.parametrize("path", URL_FIELDS)
@pytest.mark.parametrize(
    "url",
    [
        f"https://desk:{PASSWORD}@venue.example.com/api",
        f"https://venue.example.com/api?password={PASSWORD}",
        f"https://venue.example.com/api?region=eu&access_token={PASSWORD}",
    ],
    ids=["userinfo", "password-parameter", "token-parameter"],
)
def test_a_url_carrying_credentials_is_refused_without_repeating_them(path: str, url: str) -> None:
    # given a URL field carrying a credential
    config = build_config("b", with_path(path, url))
    # then ConfigValid is False for CredentialsInUrl, naming the field and never the credential
    condition = config_valid_condition(config)
    assert (condition.status, condition.reason) == ("False", "CredentialsInUrl")
    assert f"spec.{path}" in condition.message
    assert PASSWORD not in condition.message
    assert "Secret" in condition.message


def test_a_url_credential_points_to_its_secret_key() -> None:
    spec = {"powerledger": {"apiUrl": f"https://api.powerledger.io/trading?token={PASSWORD}"}}
    (problem,) = [p for p in build_config("b", spec).problems if "carries credentials" in p]
    assert "POWERLEDGER_API_TOKEN" in problem


def test_plain_urls_are_accepted() -> None:
    spec = {
        "powerledger": {"apiUrl": "https://api.powerledger.io/trading?region=eu"},
        "auth": {"oidc": {"jwksUrl": "https://login.example.com/.well-known/jwks.json"}},
        "web3": {"rpcUrl": "https://cbdc-rpc.example.internal:8545"},
    }
    assert [p for p in build_config("b", spec).problems if "credentials" in p] == []


def test_the_configmap_never_carries_url_credentials() -> None:
    # given a spec whose URLs carry credentials, built into a ConfigMap all the same
    spec = {
        "ice": {"apiUrl": f"https://desk:{PASSWORD}@ice.example.com/api"},
        "web3": {"rpcUrl": f"https://rpc.example.com/?apikey={PASSWORD}"},
    }
    data = build_configmap("b", "ns", spec)["data"]
    # then no value holds the credential, and the hosts are still there
    assert all(PASSWORD not in value for value in data.values())
    assert data["ICE_API_URL"] == "https://ice.example.com/api"
    assert get_path(spec, "ice.apiUrl") != data["ICE_API_URL"]
