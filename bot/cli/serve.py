"""`flash-green run | orchestrator | api | operator`: the long-running processes."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from bot.cli.options import env_file_option, load_settings

DEMO_KEY_FILE = "api-key"


@click.command(short_help="API + control panel with the orchestrator beside it (what a pod runs)")
@click.option(
    "--simulated",
    is_flag=True,
    help="local demo: live toggles off; all-day window unless TRADING_WINDOW_UTC is set",
)
@env_file_option
def run(simulated: bool, env_file: str) -> None:
    """API + control panel with the orchestrator supervised beside it (what a pod runs)."""
    if simulated:
        _simulated_defaults(env_file)
    from bot.web import serve

    serve(load_settings(env_file), start_orchestrator=True)


@click.command(short_help="the trading loop alone (python -m bot.orchestrator)")
@env_file_option
def orchestrator(env_file: str) -> None:
    """The trading loop alone (the same as `python -m bot.orchestrator`)."""
    settings = load_settings(env_file)
    from bot.orchestrator.app import main as orchestrator_main

    raise click.exceptions.Exit(orchestrator_main(settings=settings))


@click.command(short_help="API + control panel alone")
@env_file_option
def api(env_file: str) -> None:
    """API + control panel alone, without an orchestrator."""
    settings = load_settings(env_file)
    from bot.web import serve

    serve(settings, start_orchestrator=False)


@click.command(
    short_help="the Kubernetes operator (kopf run flags pass through)",
    context_settings={
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
        "help_option_names": [],
    },
    add_help_option=False,
)
@click.argument("kopf_args", nargs=-1, type=click.UNPROCESSED)
def operator(kopf_args: tuple[str, ...]) -> None:
    """The Kubernetes operator; every argument, --help included, goes to `kopf run`."""
    from arbitrage_operator.__main__ import main as operator_main

    operator_main(list(kopf_args))  # kopf exits the process with its own status


def _simulated_defaults(env_file: str) -> None:
    """A newcomer's demo: simulated markets never close, and the control panel gets a key.

    Values already set in the environment or the env file win. A generated API key is written
    to DATA_DIR/api-key (mode 0600) rather than printed, so it never reaches a log.
    """
    from dotenv import dotenv_values

    file_values = dotenv_values(env_file) if Path(env_file).is_file() else {}

    def unset(name: str) -> bool:
        return name not in os.environ and not file_values.get(name)

    for toggle in ("USE_LIVE_FEED", "USE_POWERLEDGER_LIVE", "USE_ICE_LIVE", "USE_WEB3_LOAN"):
        os.environ[toggle] = "0"
    if unset("TRADING_WINDOW_UTC"):
        os.environ["TRADING_WINDOW_UTC"] = "00:00-24:00"
    if unset("ALLOW_WEEKEND_TRADING"):
        os.environ["ALLOW_WEEKEND_TRADING"] = "1"
    if unset("API_KEY") and unset("SECRETS_BACKEND"):
        data_dir = Path(os.environ.get("DATA_DIR") or file_values.get("DATA_DIR") or "data")
        data_dir.mkdir(parents=True, exist_ok=True)
        key_file = data_dir / DEMO_KEY_FILE
        if not key_file.exists():
            key_file.touch(mode=0o600)
            key_file.write_text(secrets.token_urlsafe(24) + "\n")
        os.environ["API_KEY"] = key_file.read_text().strip()
        click.echo(f"flash-green: API_KEY not set; the control panel key is in {key_file}", err=True)
