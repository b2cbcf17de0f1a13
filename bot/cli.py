"""The `flash-green` command: run the bot, its parts, the operator, preflight and migrations."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from bot.config import ConfigError, Settings

DEMO_KEY_FILE = "api-key"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flash-green", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="API + control panel with the orchestrator beside it (what a pod runs)")
    run.add_argument(
        "--simulated",
        action="store_true",
        help="local demo: live toggles off; all-day window unless TRADING_WINDOW_UTC is set",
    )
    run.add_argument("--env-file", default=".env")
    orch = sub.add_parser("orchestrator", help="the trading loop alone (python -m bot.orchestrator)")
    orch.add_argument("--env-file", default=".env")
    api = sub.add_parser("api", help="API + control panel alone")
    api.add_argument("--env-file", default=".env")
    sub.add_parser("operator", help="the Kubernetes operator (kopf run flags pass through)", add_help=False)
    pre = sub.add_parser("preflight", help="check settings, secret backend and journal, then exit")
    pre.add_argument("--env-file", default=".env")
    mig = sub.add_parser("migrate", help="apply journal migrations (or --revision to go to one)")
    mig.add_argument("--env-file", default=".env")
    mig.add_argument("--revision", default="head")
    mig.add_argument("--downgrade", action="store_true", help="downgrade to --revision")
    docs = sub.add_parser("settings", help="print the settings table (markdown)")
    docs.add_argument("--markdown", action="store_true")

    args, rest = parser.parse_known_args(argv)
    if args.command == "operator":
        from arbitrage_operator.__main__ import main as operator_main

        operator_main(rest)  # kopf exits the process with its own status
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "preflight":
        from bot.preflight import run_preflight

        report = run_preflight(args.env_file)
        print(report.render())
        return 0 if report.ok else 1
    if args.command == "settings":
        from bot.settings_doc import render_markdown

        sys.stdout.write(render_markdown())
        return 0
    if args.command == "run" and args.simulated:
        _simulated_defaults(args.env_file)
    settings = _settings(args.env_file)
    if settings is None:
        return 2
    if args.command == "migrate":
        from bot.journal import JournalError, migrate_database

        try:
            revision = migrate_database(
                settings.journal_url, args.revision, downgrade=args.downgrade, bot=settings.bot_name
            )
        except JournalError as exc:
            print(f"flash-green migrate: {exc}", file=sys.stderr)
            return 4
        print(f"journal at {settings.journal_url_redacted} is at {revision or 'base (no tables)'}")
        return 0
    if args.command == "orchestrator":
        from bot.orchestrator.app import main as orchestrator_main

        return orchestrator_main(settings=settings)
    from bot.web import serve

    serve(settings, start_orchestrator=args.command == "run")
    return 0


def _settings(env_file: str) -> Settings | None:
    try:
        return Settings(_env_file=env_file)
    except ConfigError as exc:
        print(f"flash-green: {exc}", file=sys.stderr)
        return None


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
        print(f"flash-green: API_KEY not set; the control panel key is in {key_file}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
