"""Schema migrations: Alembic, driven in code on the journal's own engine.

The revisions live in `migrations/versions`; `alembic_config` points Alembic at them from an
installed package, from any working directory, with no alembic.ini needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from bot.journal.errors import JournalError, failed

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same in every process migrating this database.
PG_MIGRATION_LOCK = 0x666C617368  # "flash"

Direction = Literal["upgrade", "downgrade"]


def alembic_config(connection: sa.Connection | None = None, bot: str | None = None) -> Any:
    """Alembic configuration built in code: works from an installed package, from any directory.

    `bot` is the configured bot name revision 0002 gives rows that name no bot of their own.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    if bot is not None:
        config.attributes["bot"] = bot
    return config


def head_revision() -> str:
    """The newest schema revision this version of the code ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise JournalError("no journal migrations found in the installed package")
    return head


def run_migrations(
    engine: Engine,
    direction: Direction,
    revision: str,
    *,
    where: str,
    secret: str | None,
    bot: str | None = None,
) -> None:
    """Upgrade or downgrade the database of `engine` to `revision`, in one transaction.

    `where` (the URL without password) and `secret` (the password) word the JournalError raised
    when a revision is unknown or the database fails.
    """
    from alembic import command
    from alembic.util import CommandError

    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if sqlite:
                # Batch mode alters a SQLite table by copying it, dropping it and renaming the copy;
                # dropping a referenced table with its rows would fail the foreign keys. They are
                # off for the migration (outside its transaction: SQLite ignores the pragma inside)
                # and checked before it commits instead.
                _sqlite_foreign_keys(connection, on=False)
            try:
                with connection.begin():
                    if engine.dialect.name == "postgresql":
                        # Serialise concurrent migrations (orchestrator and API starting together).
                        connection.execute(
                            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
                        )
                    migrate = command.upgrade if direction == "upgrade" else command.downgrade
                    migrate(alembic_config(connection, bot), revision)
                    if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                        raise JournalError(
                            f"cannot {direction} the journal at {where}: rows would lose their cycle"
                        )
            finally:
                if sqlite:
                    _sqlite_foreign_keys(connection, on=True)
    except CommandError as exc:
        raise JournalError(
            f"cannot {direction} the journal at {where} to {revision!r}: {exc}. "
            f"This version ships revisions up to {head_revision()}; if the database was migrated by a "
            "newer flash-green, run that version (or restore a backup)."
        ) from None
    except (sa_exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as exc:
        raise failed(where, f"{direction} to {revision}", exc, secret) from None


def _sqlite_foreign_keys(connection: sa.Connection, *, on: bool) -> None:
    # On the driver connection: through SQLAlchemy the statement would open a transaction first.
    connection.connection.dbapi_connection.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")  # type: ignore[union-attr]


def current_revision(engine: Engine, *, where: str, secret: str | None) -> str | None:
    """The schema revision the database of `engine` is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except sa_exc.SQLAlchemyError as exc:
        raise failed(where, "reading the schema revision", exc, secret) from None
