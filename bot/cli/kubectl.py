"""`kubectl flash-green …`: the kubectl plugin (the executable `kubectl-flash_green`).

kubectl runs `kubectl-flash_green` found on PATH for `kubectl flash-green`, passing the rest of
the command line. Exit codes: 0 shown, 1 no bot of that name, 2 usage, 3 cannot read the cluster.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import click

from bot.cli import exit_code
from bot.status.api_reader import EXIT_UNREACHABLE
from bot.status.output import FORMATS, Format, print_data, print_tables

PROG = "kubectl flash-green"
EXIT_NOT_FOUND = 1


@click.group(name=PROG)
def plugin() -> None:
    """flash-green's kubectl plugin: ArbitrageBots as a desk reads them."""


@plugin.command(short_help="one row per ArbitrageBot, or one bot in detail")
@click.argument("name", required=False)
@click.option("-n", "--namespace", help="the namespace (default: the kubeconfig context's)")
@click.option("-A", "--all-namespaces", "all_namespaces", is_flag=True, help="bots in every namespace")
@click.option("-o", "--output", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="kubeconfig file (default: KUBECONFIG)")
@click.option("--context", help="kubeconfig context (default: the current one)")
def status(
    name: str | None,
    namespace: str | None,
    all_namespaces: bool,
    fmt: Format,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """ArbitrageBots: name, namespace, phase, Ready and Trading with their reasons, PnL and trades
    today, last trade, image and age. With NAME: that bot's conditions and recent Events.

    Reads through kubeconfig (or the pod's service account in a cluster). PnL, trades and last
    trade show "—" until the operator writes them to the bot's status.
    """
    from arbitrage_operator.fleet import FleetError, bot_events, connect, get_bot, list_bots
    from bot.status.fleet_view import bot_detail, bot_row, detail_sections, list_sections

    if name and all_namespaces:
        raise click.UsageError("NAME needs one namespace: use -n NAMESPACE, not -A")
    if namespace and all_namespaces:
        raise click.UsageError("-n and -A exclude each other")
    now = datetime.datetime.now(datetime.UTC)
    try:
        cluster = connect(kubeconfig, context)
    except FleetError as exc:
        click.echo(f"{PROG} status: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_UNREACHABLE) from None
    try:
        where = None if all_namespaces else (namespace or cluster.namespace)
        if name is None:
            rows = [bot_row(obj, now) for obj in list_bots(cluster, where)]
            if fmt == "table":
                if rows:
                    print_tables(list_sections(rows))
                else:
                    click.echo(
                        f"No ArbitrageBots in {'any namespace' if where is None else where}.", err=True
                    )
            else:
                print_data({"items": rows}, fmt)
            return
        assert where is not None  # -A with NAME is refused above
        obj = get_bot(cluster, where, name)
        if obj is None:
            click.echo(f"{PROG} status: no ArbitrageBot {name!r} in namespace {where}", err=True)
            raise click.exceptions.Exit(EXIT_NOT_FOUND)
        detail = bot_detail(obj, bot_events(cluster, where, name), now)
        if fmt == "table":
            print_tables(detail_sections(detail))
        else:
            print_data(detail, fmt)
    except FleetError as exc:
        click.echo(f"{PROG} status: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_UNREACHABLE) from None
    finally:
        cluster.close()


def main(argv: Sequence[str] | None = None) -> int:
    """The console script `kubectl-flash_green`."""
    return exit_code(plugin, argv, PROG)
