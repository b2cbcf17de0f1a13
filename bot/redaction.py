"""Keeping secrets out of what the bot shows: logs, captured output, audit records, URLs.

Two rules, each written once:

- `SecretMask` masks known secret values (the configured credentials) wherever they appear in a
  text, and in a mapping also the whole value of any entry whose name says it is secret.
- `redact_url` hides the credentials a URL carries: the userinfo password and the values of
  secret-looking query parameters (`?password=`, `?token=`, `?api_key=`, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MASK = "***"
# Shorter values are not masked: replacing every "1" or "on" in a text would hide more than secrets.
MIN_SECRET_LENGTH = 4
# A name containing one of these words is treated as secret even when it is no known setting.
SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE", "AUTH")


def is_secret_name(name: str) -> bool:
    """Whether `name` contains a secret-looking word such as KEY, TOKEN or PASSWORD (in any case)."""
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


class SecretMask:
    """Masks known secret values in texts, and secret-named entries in mappings.

    Built once from the secret values (and optionally the names of secret settings), then called
    per text: `mask(line)` or `mask.mapping(parameters)`. Longer values are replaced first, so a
    secret that contains another is masked whole.
    """

    def __init__(self, values: Iterable[str], *, names: Iterable[str] = ()) -> None:
        unique = {value for value in values if len(value) >= MIN_SECRET_LENGTH}
        self._values = tuple(sorted(unique, key=len, reverse=True))
        self._names = frozenset(name.upper() for name in names)

    def __repr__(self) -> str:  # never the values themselves
        return f"SecretMask(<{len(self._values)} value(s)>, <{len(self._names)} name(s)>)"

    def __call__(self, text: str) -> str:
        """`text` with every known secret value replaced by `***`."""
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def mapping(self, entries: Mapping[str, str]) -> dict[str, str]:
        """`entries` with secret-named values replaced by `***` and known secret values masked in the rest.

        A flattened key (`overrides.ICE_API_SECRET`) is judged by its last part.
        """
        out: dict[str, str] = {}
        for key, value in entries.items():
            leaf = key.rsplit(".", 1)[-1]
            secret = leaf.upper() in self._names or is_secret_name(leaf)
            out[key] = MASK if secret else self(value)
        return out


def redact_url(url: str) -> str:
    """`url` with its credentials replaced by `***`, safe for logs, errors and status pages.

    `scheme://user:pw@host/...` becomes `scheme://user:***@host/...`, and the value of every query
    parameter with a secret-looking name (`password`, `token`, `api_key`, ...) becomes `***`. The
    rest is left exactly as written (no re-encoding), so the result still reads as the setting did.
    """
    rest, hash_mark, fragment = url.partition("#")
    rest, question_mark, query = rest.partition("?")
    scheme_end = rest.find("://")
    if scheme_end >= 0:
        start = scheme_end + 3
        end = rest.find("/", start)
        end = len(rest) if end < 0 else end
        # The last "@" ends the userinfo: a raw "@" inside a password stays hidden too.
        userinfo, at, host = rest[start:end].rpartition("@")
        user, colon, password = userinfo.partition(":")
        if at and colon and password:
            rest = f"{rest[:start]}{user}:{MASK}@{host}{rest[end:]}"
    if query:
        query = "&".join(_redact_parameter(item) for item in query.split("&"))
    return rest + question_mark + query + hash_mark + fragment


def _redact_parameter(item: str) -> str:
    name, equals, value = item.partition("=")
    if equals and value and is_secret_name(name):
        return f"{name}={MASK}"
    return item
