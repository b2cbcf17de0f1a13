"""Alembic migrations of the journal (applied by `Journal.open` and `flash-green migrate`)."""
