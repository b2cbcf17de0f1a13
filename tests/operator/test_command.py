"""`python -m arbitrage_operator`: kopf's flags pass through, with the operator's defaults."""

from __future__ import annotations

import subprocess
import sys

import pytest

from arbitrage_operator.__main__ import kopf_arguments
from arbitrage_operator.runtime import RuntimeConfigError, load


def test_defaults_are_all_namespaces_liveness_and_peering() -> None:
    assert kopf_arguments([]) == [
        "run",
        "--module=arbitrage_operator.handlers",
        "--all-namespaces",
        "--liveness=http://0.0.0.0:8080/healthz",
        "--peering=flash-green",
    ]


def test_given_flags_replace_the_defaults() -> None:
    args = kopf_arguments(
        ["-n", "trading", "--liveness=http://127.0.0.1:9/healthz", "--standalone", "--verbose"]
    )
    assert "--all-namespaces" not in args
    assert "--peering=flash-green" not in args
    assert args[2:] == ["-n", "trading", "--liveness=http://127.0.0.1:9/healthz", "--standalone", "--verbose"]


def test_the_module_runs_and_documents_kopfs_flags() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "arbitrage_operator", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "--peering" in result.stdout


def test_the_webhook_is_off_without_a_certificate() -> None:
    assert load({}).webhook_server() is None


def test_the_webhook_needs_both_certificate_and_key() -> None:
    with pytest.raises(RuntimeConfigError, match="WEBHOOK_CERT_FILE and WEBHOOK_KEY_FILE"):
        load({"WEBHOOK_CERT_FILE": "/tls/tls.crt"})


def test_the_webhook_listens_where_it_is_told() -> None:
    server = load(
        {"WEBHOOK_CERT_FILE": "c", "WEBHOOK_KEY_FILE": "k", "WEBHOOK_PORT": "8443"}
    ).webhook_server()
    assert server is not None
    assert (server.port, server.certfile, server.pkeyfile) == (8443, "c", "k")


def test_bot_defaults_come_from_the_chart_variables() -> None:
    defaults = load(
        {
            "FLASH_GREEN_BOT_IMAGE": "registry.example/fg:1",
            "FLASH_GREEN_BOT_IMAGE_PULL_POLICY": "Always",
            "FLASH_GREEN_BOT_SERVICEMONITOR_INTERVAL": "15s",
        }
    ).bot_defaults()
    assert (defaults.image, defaults.image_pull_policy, defaults.scrape_interval) == (
        "registry.example/fg:1",
        "Always",
        "15s",
    )


def test_bad_servicemonitor_labels_are_refused_with_the_variable_name() -> None:
    with pytest.raises(ValueError, match="FLASH_GREEN_BOT_SERVICEMONITOR_LABELS"):
        load({"FLASH_GREEN_BOT_SERVICEMONITOR_LABELS": "release=prom"})
