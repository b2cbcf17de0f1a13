"""Keeping secrets out of what the bot shows: logs, captured output, audit records, URLs.

Two rules, each written once:

- `SecretMask` masks known secret values (the configured credentials) wherever they appear in a
  text, and in a mapping also the whole value of any entry whose name says it is secret.
- `redact_url` hides the credentials a URL carries: the userinfo password, the values of
  secret-looking query parameters (`?password=`, `?token=`, `?api_key=`, ...), and opaque tokens
  in the userinfo or the path (a provider key such as `https://eth.example/v3/<key>`).

An *opaque token* is a run of 20 or more characters from `A-Z a-z 0-9 _ -` holding at least one
letter and one digit: the shape of an RPC provider's project key or an access token, and not of a
word, a version (`v3`), a host name or a file name (a dot is not part of a token).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

MASK = "***"
# Shorter values are not masked: replacing every "1" or "on" in a text would hide more than secrets.
MIN_SECRET_LENGTH = 4
# A name containing one of these words is treated as secret even when it is no known setting.
SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE", "AUTH")


OPAQUE_TOKEN_MIN_LENGTH = 20
_OPAQUE = re.compile(r"(?=[A-Za-z0-9_-]*[A-Za-z])(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}", re.ASCII)


def is_opaque_token(text: str) -> bool:
    """Whether `text` is an opaque token: 20+ of `A-Za-z0-9_-`, with a letter and a digit."""
    return _OPAQUE.fullmatch(text) is not None


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

    `scheme://user:pw@host/...` becomes `scheme://user:***@host/...`; a user name that is an
    opaque token, each path segment that is one (when the URL names a host: a file path such as
    `sqlite:////var/lib/...` is left alone), and the value of every query parameter with a
    secret-looking name (`password`, `token`, `api_key`, ...) become `***`. The rest is left exactly
    as written (no re-encoding), so the result still reads as the setting did.
    """
    head, user, password, host, path, query, tail = _split(url)
    if user is not None:
        shown_user = MASK if is_opaque_token(user) else user
        userinfo = shown_user + (f":{MASK}" if password else (":" if password == "" else "")) + "@"
    else:
        userinfo = ""
    if host:  # a file path (sqlite:///..., no host) names a file, never a provider's key
        path = "/".join(MASK if is_opaque_token(segment) else segment for segment in path.split("/"))
    if query:
        query = "&".join(_redact_parameter(item) for item in query.split("&"))
    return head + userinfo + host + path + ("?" + query if query is not None else "") + tail


def url_credentials(url: str) -> list[str]:
    """The secret parts of `url` that `redact_url` hides, as written and percent-decoded (for a mask)."""
    _, user, password, host, path, query, _ = _split(url)
    found = [segment for segment in path.split("/") if host and is_opaque_token(segment)]
    if user is not None and is_opaque_token(user):
        found.append(user)
    if password:
        found.append(password)
    for item in (query or "").split("&"):
        name, equals, value = item.partition("=")
        if equals and value and is_secret_name(name):
            found.append(value)
    return found + [decoded for decoded in map(unquote, found) if decoded not in found]


def _split(url: str) -> tuple[str, str | None, str | None, str, str, str | None, str]:
    """`scheme://`, user, password, host, path, query (None when absent) and `#fragment`.

    Without a scheme the whole text before `?` is the path.
    """
    rest, hash_mark, fragment = url.partition("#")
    rest, question_mark, query = rest.partition("?")
    scheme_end = rest.find("://")
    if scheme_end < 0:
        return "", None, None, "", rest, query if question_mark else None, hash_mark + fragment
    start = scheme_end + 3
    end = rest.find("/", start)
    end = len(rest) if end < 0 else end
    # The last "@" ends the userinfo: a raw "@" inside a password stays hidden too.
    userinfo, at, host = rest[start:end].rpartition("@")
    user: str | None = None
    password: str | None = None
    if at:
        user, colon, secret = userinfo.partition(":")
        password = secret if colon else None
    return (
        rest[:start],
        user,
        password,
        host,
        rest[end:],
        query if question_mark else None,
        hash_mark + fragment,
    )


def _redact_parameter(item: str) -> str:
    name, equals, value = item.partition("=")
    if equals and value and is_secret_name(name):
        return f"{name}={MASK}"
    return item
