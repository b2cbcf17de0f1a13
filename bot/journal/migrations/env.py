"""Alembic environment of the journal.

`bot.journal` runs migrations on a connection it opened (passed in `config.attributes`), inside
its own transaction, so this file never reads settings or a working directory. For development
the Alembic CLI also works: `alembic -c bot/journal/alembic.ini -x url=sqlite:///data/journal.db
upgrade head` (or `revision --autogenerate -m "..."`), and `upgrade head --sql` prints the DDL
for a database administrator.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from bot.journal.schema import metadata

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit(
            "pass the database URL: alembic -c bot/journal/alembic.ini -x url=<DATABASE_URL> ..."
        )
    return url


def run_offline() -> None:
    """Emit the migration SQL instead of running it (`--sql`)."""
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate through the caller's connection, or one opened from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copy; batch mode makes later migrations portable
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
