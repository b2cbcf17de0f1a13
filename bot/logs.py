"""Logging set-up: text or JSON, LOG_LEVEL, and a filter that masks every secret value.

What is masked in every line: each configured secret value, the credential parts of each
configured URL setting (`log_secrets`), and the credentials of any URL the line quotes (userinfo
password, secret-named query values, opaque tokens in the path; see `bot.redaction.redact_url`).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pythonjsonlogger.json import JsonFormatter

from bot.redaction import SecretMask, redact_url, url_credentials

if TYPE_CHECKING:
    from bot.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# A URL as it appears in a line of text: up to the first blank or quote.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def log_secrets(settings: Settings) -> list[str]:
    """What the log filter masks for `settings`: its secret values and its URL settings' credentials."""
    from bot.config.catalog import catalog

    found = settings.secret_values()
    for info in catalog():
        value = getattr(settings, info.field)
        if isinstance(value, str) and "://" in value:
            found.extend(url_credentials(value))
    found.extend(url_credentials(settings.journal_url))
    return found


class RedactSecrets(logging.Formatter):
    """Wraps a formatter and masks every configured secret value, and any URL's credentials, in the
    finished line.

    Masking the formatted text (not the record) covers messages, arguments, structured fields and
    tracebacks alike, whichever formatter produced them.
    """

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        self._mask = SecretMask(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line = self._mask(self.inner.format(record))
        return _URL.sub(lambda match: redact_url(match.group(0)), line) if "://" in line else line


class _TextWithFields(logging.Formatter):
    """Text lines that still show the structured fields passed in `extra={"fields": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


class _JsonFields(JsonFormatter):
    def add_fields(self, log_record: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_record, record, message_dict)
        fields = log_record.pop("fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                log_record[key] = str(value) if not isinstance(value, int | bool | type(None)) else value


def configure(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once, in a composition root (never at import)."""
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter
    if fmt == "json":
        formatter = _JsonFields(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            datefmt=DATE_FORMAT,
            rename_fields={"asctime": "time"},
        )
    else:
        formatter = _TextWithFields(TEXT_FORMAT, datefmt=DATE_FORMAT)
    formatter.converter = time.gmtime  # timestamps in UTC, as everything else
    handler.setFormatter(RedactSecrets(formatter, secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # library chatter stays out of the bot's log unless it is a warning
    for noisy in ("httpx", "alembic", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
