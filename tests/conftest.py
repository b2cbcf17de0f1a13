"""Shared pytest configuration: fixture plugins that start real local servers."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.secret_backends",
    "tests.fixtures.kube",
    "tests.fixtures.api_server",
    "tests.fixtures.chart",
]
