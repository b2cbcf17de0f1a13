"""What the platform lets an ArbitrageBot choose: object names, image, ServiceAccount, URLs.

Anyone who may create an ArbitrageBot may not thereby read, run or reach more than the platform
allows. Four rules, each written once and read by the spec validation, the admission webhook,
the CRD generator and the manifests:

- every name the spec gives (a Secret, a ServiceAccount, a StorageClass) is a DNS subdomain, so it
  names one object of the bot's namespace and can never become a path into another one;
- `spec.image` is the operator's default image or matches the platform's allowlist of images;
- `spec.serviceAccountName` is in the platform's allowlist of ServiceAccounts;
- no URL in the spec carries credentials (userinfo, a `token=`-like query parameter, or anything
  else `bot.redaction.redact_url` would mask): they belong in a Secret, and the ConfigMap the
  operator writes never carries them.

Pure functions: the allowlist comes in as an argument (the operator's settings build it once).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from arbitrage_operator.spec_fields import CREDENTIALS_PATH, SECRET_REFS, get_path, spec_row_kinds
from bot.redaction import is_secret_name, redact_url

DEFAULT_IMAGE = "ghcr.io/flash-green/flash-green:0.1.0"
DEFAULT_SERVICE_ACCOUNT = "default"  # what a pod runs as when its spec names none

# Kubernetes' own rule for object names (RFC 1123 subdomain), as the CRD schema writes it.
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_SUBDOMAIN_MAX = 253
# Kubernetes' rule for the keys of a Secret.
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"  # noqa: S105 - a pattern, not a password
_DNS_SUBDOMAIN = re.compile(DNS_SUBDOMAIN_PATTERN)
_SECRET_KEY = re.compile(SECRET_KEY_PATTERN)

# An image reference as container runtimes parse it (distribution/reference): no "..", no "//".
_DOMAIN = (
    r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?"
)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@sha256:[a-f0-9]{{64}})?$"
)

# Refusal reasons (ConfigValid's reason when one of them is among the problems).
IMAGE_NOT_ALLOWED = "ImageNotAllowed"
SERVICE_ACCOUNT_NOT_ALLOWED = "ServiceAccountNotAllowed"
CREDENTIALS_IN_URL = "CredentialsInUrl"
INVALID_SPEC = "InvalidSpec"  # a name or key Kubernetes would refuse: the generic reason


@dataclass(frozen=True)
class NameField:
    """A spec field naming a Kubernetes object."""

    path: str
    kind: str  # what it names, for messages


# Every spec field that names an object: the CRD gives each the DNS-subdomain pattern.
NAME_FIELDS: tuple[NameField, ...] = (
    *(NameField(f"{ref.path}.name", "Secret") for ref in SECRET_REFS),
    NameField(CREDENTIALS_PATH, "Secret"),
    NameField("serviceAccountName", "ServiceAccount"),
    NameField("journal.storageClassName", "StorageClass"),
)
# Every spec field naming a key of a Secret.
SECRET_KEY_FIELDS: tuple[str, ...] = tuple(f"{ref.path}.key" for ref in SECRET_REFS)


@dataclass(frozen=True)
class PolicyProblem:
    """One refusal: its CamelCase reason and the message naming the spec path."""

    reason: str
    message: str


def is_object_name(value: Any) -> bool:
    """Whether `value` is a valid Kubernetes object name (a DNS subdomain of at most 253 characters)."""
    return isinstance(value, str) and len(value) <= DNS_SUBDOMAIN_MAX and bool(_DNS_SUBDOMAIN.match(value))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def name_problems(spec: Mapping[str, Any]) -> list[PolicyProblem]:
    """Names that are not DNS subdomains, and Secret keys Kubernetes would not accept."""
    problems = []
    for field in NAME_FIELDS:
        value = get_path(spec, field.path)
        if isinstance(value, str) and value and not is_object_name(value):
            where = "of the cluster" if field.kind == "StorageClass" else "in this namespace"
            problems.append(
                PolicyProblem(
                    INVALID_SPEC,
                    f"spec.{field.path}: {_shown(value)} is not a {field.kind} name: use a DNS subdomain "
                    "(lowercase letters, digits, '-' and '.', at most 253 characters) naming a "
                    f"{field.kind} {where}",
                )
            )
    for path in SECRET_KEY_FIELDS:
        value = get_path(spec, path)
        if (
            isinstance(value, str)
            and value
            and not (len(value) <= DNS_SUBDOMAIN_MAX and _SECRET_KEY.match(value))
        ):
            problems.append(
                PolicyProblem(
                    INVALID_SPEC,
                    f"spec.{path}: {_shown(value)} is not a Secret key: use letters, digits, '-', '_' and "
                    "'.' (at most 253 characters)",
                )
            )
    return problems


# -- image and ServiceAccount: the platform's choice ---------------------------------------------


def image_matches(image: str, entry: str) -> bool:
    """Whether `image` is allowed by one allowlist entry.

    - `sha256:<hex>`: any image pinned to that digest;
    - ending in `/` (`registry.example.com/trading/`): any image under that path;
    - a repository without tag or digest (`ghcr.io/flash-green/flash-green`): any tag or digest of it;
    - a full reference (`...:0.1.0`, `...@sha256:<hex>`): exactly that image.
    """
    if entry.startswith("sha256:"):
        return image.endswith(f"@{entry}")
    if entry.endswith("/"):
        return image.startswith(entry)
    if "@" in entry or ":" in entry.rsplit("/", 1)[-1]:
        return image == entry
    return image == entry or image.startswith((f"{entry}:", f"{entry}@"))


@dataclass(frozen=True)
class Allowlist:
    """The images and ServiceAccounts a bot's spec may name (the operator's settings build it)."""

    images: tuple[str, ...] = (DEFAULT_IMAGE,)
    service_accounts: tuple[str, ...] = (DEFAULT_SERVICE_ACCOUNT,)

    def allows_image(self, image: str) -> bool:
        """A well-formed reference matching one of `images`."""
        return bool(_IMAGE.match(image)) and any(image_matches(image, entry) for entry in self.images)

    def allows_service_account(self, name: str) -> bool:
        """One of `service_accounts`."""
        return name in self.service_accounts


def allowlist_problems(spec: Mapping[str, Any], allowlist: Allowlist) -> list[PolicyProblem]:
    """`spec.image` and `spec.serviceAccountName` outside the platform's allowlist."""
    problems = []
    image = spec.get("image")
    if image is not None and not (isinstance(image, str) and allowlist.allows_image(image)):
        problems.append(
            PolicyProblem(
                IMAGE_NOT_ALLOWED,
                f"spec.image: {_shown(image)} is not an image this platform allows (allowed: "
                f"{', '.join(allowlist.images)}): remove spec.image to run the operator's default image, or "
                "ask the platform team to add it to FLASH_GREEN_ALLOWED_IMAGES",
            )
        )
    account = spec.get("serviceAccountName")
    if (
        account is not None
        and is_object_name(account)
        and not (isinstance(account, str) and allowlist.allows_service_account(account))
    ):
        problems.append(
            PolicyProblem(
                SERVICE_ACCOUNT_NOT_ALLOWED,
                f"spec.serviceAccountName: {_shown(account)} is not a ServiceAccount this platform lets bots "
                f"run as (allowed: {', '.join(allowlist.service_accounts) or 'none'}): remove it, or ask the "
                "platform team to add it to FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS",
            )
        )
    elif account is not None and not isinstance(account, str):
        problems.append(PolicyProblem(INVALID_SPEC, "spec.serviceAccountName: must be a ServiceAccount name"))
    return problems


# -- URLs without credentials --------------------------------------------------------------------

# Where each URL's credential belongs instead (the default: a key of the credentials Secret).
_IN_CREDENTIALS = f"of the Secret named by spec.{CREDENTIALS_PATH} (or the Vault/AWS secret)"
_CREDENTIAL_HOME: dict[str, str] = {
    "POWERLEDGER_API_URL": f"key POWERLEDGER_API_TOKEN {_IN_CREDENTIALS}",
    "ICE_API_URL": f"keys ICE_API_KEY and ICE_API_SECRET {_IN_CREDENTIALS}",
    "FNALITY_REPO_API_URL": f"key FNALITY_REPO_API_TOKEN {_IN_CREDENTIALS}",
    "VAULT_ADDR": "the Secret named by spec.secrets.vault.tokenSecretRef",
}
_ANY_SECRET = f"a Secret (spec.{CREDENTIALS_PATH}, Vault or AWS)"


def url_credentials(url: str) -> list[str]:
    """What credentials `url` carries, described without their values (empty when none)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []  # not a URL the bot would accept either; its own validation says why
    found = []
    if "@" in parts.netloc:
        found.append("a user name or password before '@'")
    for section in (parts.query, parts.fragment):
        for name, _value in parse_qsl(section, keep_blank_values=True):
            if is_secret_name(name) or "PASS" in name.upper():
                found.append(f"the parameter {name!r}")
    if not found and redact_url(url) != url:
        # whatever else the bot's own redaction hides (e.g. a provider key in the path)
        found.append("a credential-like value the bot's logs would mask")
    return found


def url_problems(spec: Mapping[str, Any]) -> list[PolicyProblem]:
    """Every URL-valued setting of the spec that carries credentials."""
    problems = []
    for row, _kind in spec_row_kinds():
        assert row.crd is not None
        value = get_path(spec, row.crd)
        if not (isinstance(value, str) and "://" in value):
            continue
        found = url_credentials(value)
        if found:
            home = _CREDENTIAL_HOME.get(row.env, _ANY_SECRET)
            problems.append(
                PolicyProblem(
                    CREDENTIALS_IN_URL,
                    f"spec.{row.crd} ({row.env}): the URL carries credentials ({', '.join(found)}), "
                    "readable by everyone who may read the bot: remove them from the URL and keep them "
                    f"in {home}",
                )
            )
    return problems


def without_url_credentials(value: str) -> str:
    """`value` with any userinfo removed and secret-looking parameters masked, when it is a URL."""
    scheme_end = value.find("://")
    if scheme_end < 0:
        return value
    start = scheme_end + 3
    ends = [i for i in (value.find(c, start) for c in "/?#") if i >= 0]
    end = min(ends) if ends else len(value)
    at = value.rfind("@", start, end)
    if at >= 0:
        value = value[:start] + value[at + 1 :]
    return redact_url(value)


def policy_problems(spec: Mapping[str, Any], allowlist: Allowlist) -> list[PolicyProblem]:
    """Every rule of this module, in the order the message lists them."""
    return name_problems(spec) + allowlist_problems(spec, allowlist) + url_problems(spec)
