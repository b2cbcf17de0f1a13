"""The `flash-green` command: run the bot, its parts, the operator, preflight, migrations and status.

One Click group, so every subcommand shares the same help, usage errors (exit 2) and shell
completion (`eval "$(_FLASH_GREEN_COMPLETE=bash_source flash-green)"`). Commands live by family:
`serve.py` (run, orchestrator, api, operator), `maintain.py` (preflight, migrate, settings),
`status.py` (a bot's status through its API), `replay.py` (replay, simulate-ticks) and
`contracts.py` (the on-chain loan's contracts).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from bot.cli.contracts import contracts
from bot.cli.maintain import migrate, preflight, settings_table
from bot.cli.replay import replay, simulate_ticks
from bot.cli.serve import api, operator, orchestrator, run
from bot.cli.status import status

PROG = "flash-green"


@click.group(
    name=PROG, help="Run the bot, its parts, the operator, preflight and migrations; show a bot's status."
)
def cli() -> None:
    """The group; each subcommand does its own work."""


_SERVE = (run, orchestrator, api, operator)
_MAINTAIN = (preflight, migrate, settings_table, status)
for _command in (*_SERVE, *_MAINTAIN, replay, simulate_ticks, contracts):
    cli.add_command(_command)


def exit_code(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> int:
    """Run a Click command as a console script would, but return its exit code instead of exiting."""
    try:
        command.main(args=None if argv is None else list(argv), prog_name=prog_name)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The console script `flash-green` (and `python -m bot.cli`)."""
    return exit_code(cli, argv, PROG)
