"""What several `flash-green` commands share: the env-file option and loading settings from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from bot.config import ConfigError, Settings

F = TypeVar("F", bound=Callable[..., Any])

# Exit codes shared by the commands (also in the README's Commands table).
EXIT_NOT_READY = 1
EXIT_USAGE = 2
EXIT_JOURNAL = 4


def env_file_option(command: F) -> F:
    """`--env-file` (default `.env`): the dotenv file settings are read from."""
    return click.option(
        "--env-file",
        default=".env",
        show_default=True,
        metavar="FILE",
        help="dotenv file to read settings from (the process environment wins).",
    )(command)


def load_settings(env_file: str) -> Settings:
    """Settings from the environment and `env_file`; on a problem, print it and exit 2."""
    try:
        return Settings(_env_file=env_file)
    except ConfigError as exc:
        click.echo(f"flash-green: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_USAGE) from exc
