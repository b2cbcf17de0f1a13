"""`flash-green status`: one bot's state through its API, for a bot outside a cluster.

Exit codes: 0 ready, 1 answered but not ready, 2 usage (including a missing or refused key),
3 cannot reach the bot or it answered something unexpected.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.status.api_reader import DEFAULT_URL, KEY_ENV, StatusError, api_key, read_bot
from bot.status.bot_view import sections, summary
from bot.status.output import FORMATS, Format, print_data, print_tables

RECENT_IN_DETAIL = 10


@click.command(short_help="a bot's mode, trading, PnL, venues and journal (through its API)")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="the bot's API address")
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"file holding the bot's API key (default: the {KEY_ENV} environment variable)",
)
@click.option("-o", "--output", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--detail", is_flag=True, help=f"also the last {RECENT_IN_DETAIL} trades and today's blocked cycles"
)
def status(url: str, api_key_file: Path | None, fmt: Format, detail: bool) -> None:
    """A bot's mode, whether it trades (or why not), PnL and trades today, last trade, venues,
    journal and version, read from its API (the key from API_KEY or --api-key-file).

    Exit 0 when the bot is ready, 1 when it answers but is not ready, 2 on a usage problem
    (including a missing or refused key), 3 when it cannot be reached.
    """
    try:
        key = api_key(api_key_file)
        answers = read_bot(url, key, recent=RECENT_IN_DETAIL if detail else 1)
    except StatusError as exc:
        click.echo(f"flash-green status: {exc}", err=True)
        raise click.exceptions.Exit(exc.exit_code) from None
    record = summary(answers, url, detail=detail)
    if fmt == "table":
        print_tables(sections(record))
    else:
        print_data(record, fmt)
    raise click.exceptions.Exit(0 if record["ready"] else 1)
