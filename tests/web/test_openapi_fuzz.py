"""The OpenAPI document, fuzzed in process with schemathesis: no 5xx, every response as declared.

Credentials are configured and sent; the control plane supervises a harmless stand-in process
and runs a one-test suite, so fuzzing can press every button without starting a trading loop.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bot.web import create_app
from bot.web.context import ApiOptions
from tests.fixtures.api_server import API_KEY, journal_trades, make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    patch = pytest.MonkeyPatch()
    patch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the runner's pytest starts in 0.5 s, not 5 s
    root = tmp_path_factory.mktemp("fuzz")
    (root / "tests").mkdir()
    (root / "tests" / "test_one.py").write_text(textwrap.dedent("def test_one():\n    assert True\n"))
    app_settings = make_settings(root / "data", API_KEY=API_KEY)
    journal_trades(app_settings, 5)
    options = ApiOptions(
        echo_orchestrator_output=False,
        orchestrator_command=(sys.executable, "-c", "import time; time.sleep(300)"),
        early_exit_s=0.0,
        stop_grace_s=2.0,
        control_plane_limit="100000/minute",
        auth_failure_limit="100000/minute",
        suite_root=root,
        suite_timeout_s=20,
    )
    app = create_app(app_settings, options=options)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()  # stops the stand-in loop and closes the journal
    patch.undo()


def _cases() -> list[Any]:
    """Every documented operation, positive; and negative where it takes any input."""
    document = create_app().openapi()  # building the app reads no settings
    cases = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            cases.append(
                pytest.param(method.upper(), path, GenerationMode.POSITIVE, id=f"{method} {path} positive")
            )
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append(
                    pytest.param(
                        method.upper(), path, GenerationMode.NEGATIVE, id=f"{method} {path} negative"
                    )
                )
    return cases


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_every_operation_answers_as_documented(
    api_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=10,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers={"X-API-Key": API_KEY}, excluded_checks=excluded)

    # Override values (and a replay's --set/--sweep values) are validated by the bot's own settings
    # rules (types, windows, limits that depend on each other), which JSON Schema cannot express:
    # a schema-valid value may be refused.
    validated_by_settings = ("/control/orchestrator/start", "/control/replay")
    excluded = [positive_data_acceptance] if path in validated_by_settings else []

    check()


def test_the_document_declares_an_error_body_for_every_refusal(api_schema: Any) -> None:
    document = api_schema.raw_schema
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path in ("/healthz", "/readyz"):
                continue
            codes = set(operation["responses"])
            assert {"401", "403", "422", "429"} <= codes, f"{method.upper()} {path} declares {sorted(codes)}"


def test_the_document_names_both_credential_schemes(api_schema: Any) -> None:
    schemes = api_schema.raw_schema["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "API_KEY",
    }
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
