"""`flash-green preflight | migrate | settings`: check, migrate and document, then exit."""

from __future__ import annotations

import sys

import click

from bot.cli.options import EXIT_JOURNAL, EXIT_NOT_READY, env_file_option, load_settings


@click.command(short_help="check settings, secret backend and journal, then exit")
@env_file_option
def preflight(env_file: str) -> None:
    """Check settings, secret backend and journal; exit 1 listing every problem."""
    from bot.preflight import run_preflight

    report = run_preflight(env_file)
    click.echo(report.render())
    raise click.exceptions.Exit(0 if report.ok else EXIT_NOT_READY)


@click.command(short_help="apply journal migrations (or --revision to go to one)")
@env_file_option
@click.option("--revision", default="head", show_default=True, help="the journal revision to go to")
@click.option("--downgrade", is_flag=True, help="downgrade to --revision")
def migrate(env_file: str, revision: str, downgrade: bool) -> None:
    """Apply journal migrations (exit 4 when the journal refuses)."""
    settings = load_settings(env_file)
    from bot.journal import JournalError, migrate_database

    try:
        reached = migrate_database(settings.journal_url, revision, downgrade=downgrade, bot=settings.bot_name)
    except JournalError as exc:
        click.echo(f"flash-green migrate: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_JOURNAL) from exc
    click.echo(f"journal at {settings.journal_url_redacted} is at {reached or 'base (no tables)'}")


@click.command(name="settings", short_help="print the settings table (markdown)")
@click.option("--markdown", is_flag=True, help="markdown (the only format, kept for scripts)")
def settings_table(markdown: bool) -> None:
    """Print the settings table in markdown (docs/configuration.md)."""
    from bot.settings_doc import render_markdown

    sys.stdout.write(render_markdown())
