"""The journal's one exception, and how a database failure is put into words safe to log."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from sqlalchemy import exc as sa_exc

MAX_DETAIL_CHARS = 400


class JournalError(Exception):
    """The journal could not do what was asked. The message is safe to log (no password)."""


def describe_failure(exc: BaseException, secret: str | None) -> str:
    """One line saying what the database said, with the password (if any) scrubbed.

    Drivers may quote the connection string in their messages, plainly or URL-encoded, so every
    form of the password is replaced.
    """
    inner: BaseException = exc
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        inner = exc.orig
    text = " ".join(str(inner).split()) or type(inner).__name__
    if secret:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, "***")
    if len(text) > MAX_DETAIL_CHARS:
        text = text[:MAX_DETAIL_CHARS] + "..."
    return f"{type(inner).__name__}: {text}"


def failed(where: str, doing: str, exc: BaseException, secret: str | None) -> JournalError:
    """The error for `doing` having failed on the journal at `where` (a URL without password)."""
    return JournalError(f"journal at {where}: {doing} failed: {describe_failure(exc, secret)}")
