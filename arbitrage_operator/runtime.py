"""The operator process's own configuration: its environment, read once at startup.

`load()` is the only reader of the operator's environment; the startup handler calls it once
and passes what it needs down (the bots' defaults, the webhook server, the metrics port).

- `FLASH_GREEN_BOT_IMAGE`: bot image when a spec sets none
  (default `ghcr.io/flash-green/flash-green:0.1.0`);
- `FLASH_GREEN_BOT_IMAGE_PULL_POLICY`: the bots' `imagePullPolicy` (default `IfNotPresent`);
- `FLASH_GREEN_ALLOWED_IMAGES`: images a spec's `image` may name besides `FLASH_GREEN_BOT_IMAGE`
  (comma list of references, repositories, `prefix/` or `sha256:` digests; default none);
- `FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS`: ServiceAccounts a spec's `serviceAccountName` may name
  (comma list; default `default`);
- `FLASH_GREEN_BOT_SERVICEMONITOR_INTERVAL`, `..._SCRAPE_TIMEOUT`, `..._LABELS`: the bots'
  ServiceMonitors' scrape interval, timeout and extra labels (a JSON object);
- `FLASH_GREEN_BOT_URL_TEMPLATE`: where the operator reads each ready bot's API for its status
  (default `http://{service}.{namespace}.svc:{port}`; `{service}`, `{namespace}` and `{port}`
  are filled in per bot);
- `FLASH_GREEN_BOT_STATUS_PERIOD`: seconds between two reads of a bot's API (default 30);
- `OPERATOR_METRICS_PORT`: where the operator serves its own /metrics (unset: not served);
- `WEBHOOK_CERT_FILE`, `WEBHOOK_KEY_FILE`: TLS certificate and key of the admission webhook
  server; setting both turns it on;
- `WEBHOOK_PORT` (9443), `WEBHOOK_ADDR` (0.0.0.0), `WEBHOOK_HOST`: where it listens, and the
  host name clients use.

An empty variable counts as unset. A bad value raises `RuntimeConfigError` naming the variable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

import kopf
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from arbitrage_operator.manifests import OperatorDefaults
from arbitrage_operator.policy import DEFAULT_IMAGE, DEFAULT_SERVICE_ACCOUNT, Allowlist, is_object_name

DEFAULT_BOT_URL_TEMPLATE = "http://{service}.{namespace}.svc:{port}"


class RuntimeConfigError(ValueError):
    """The operator's own environment is inconsistent (reported at startup)."""


def _env(name: str, default: Any, description: str) -> Any:
    return Field(default, validation_alias=name, description=description)


class OperatorSettings(BaseSettings):
    """Every variable of the operator's own environment, typed (see the module docstring)."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", frozen=True)

    bot_image: str = _env("FLASH_GREEN_BOT_IMAGE", DEFAULT_IMAGE, "Image of bots whose spec sets none.")
    bot_image_pull_policy: str = _env(
        "FLASH_GREEN_BOT_IMAGE_PULL_POLICY", "IfNotPresent", "The bots' imagePullPolicy."
    )
    allowed_images: Annotated[tuple[str, ...], NoDecode] = _env(
        "FLASH_GREEN_ALLOWED_IMAGES",
        (),
        "Images a bot's spec.image may name besides the default (comma list).",
    )
    allowed_service_accounts: Annotated[tuple[str, ...], NoDecode] = _env(
        "FLASH_GREEN_ALLOWED_SERVICE_ACCOUNTS",
        (DEFAULT_SERVICE_ACCOUNT,),
        "ServiceAccounts a bot's spec.serviceAccountName may name (comma list).",
    )
    scrape_interval: str = _env(
        "FLASH_GREEN_BOT_SERVICEMONITOR_INTERVAL", "30s", "Scrape interval of the bots' ServiceMonitors."
    )
    scrape_timeout: str = _env(
        "FLASH_GREEN_BOT_SERVICEMONITOR_SCRAPE_TIMEOUT", "10s", "Scrape timeout of the bots' ServiceMonitors."
    )
    servicemonitor_labels: Annotated[dict[str, str], NoDecode] = _env(
        "FLASH_GREEN_BOT_SERVICEMONITOR_LABELS", {}, "Extra labels of the bots' ServiceMonitors (JSON)."
    )
    bot_url_template: str = _env(
        "FLASH_GREEN_BOT_URL_TEMPLATE",
        DEFAULT_BOT_URL_TEMPLATE,
        "Where each bot's API is read ({service}, {namespace} and {port} are filled in).",
    )
    bot_status_period: float = _env(
        "FLASH_GREEN_BOT_STATUS_PERIOD", 30.0, "Seconds between two reads of a ready bot's API."
    )
    metrics_port: int | None = _env("OPERATOR_METRICS_PORT", None, "Port of the operator's /metrics.")
    webhook_cert_file: str | None = _env("WEBHOOK_CERT_FILE", None, "TLS certificate of the webhook.")
    webhook_key_file: str | None = _env("WEBHOOK_KEY_FILE", None, "TLS key of the webhook.")
    webhook_port: int = _env("WEBHOOK_PORT", 9443, "Port the webhook listens on.")
    # The API server reaches the webhook through a Service, so it listens on every address.
    webhook_addr: str = _env("WEBHOOK_ADDR", "0.0.0.0", "Address the webhook listens on.")  # noqa: S104
    webhook_host: str | None = _env("WEBHOOK_HOST", None, "Host name the webhook's clients use.")

    @field_validator("servicemonitor_labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return {str(k): str(v) for k, v in dict(json.loads(value)).items()}
        except (ValueError, TypeError) as exc:
            raise ValueError("must be a JSON object of labels") from exc

    @field_validator("allowed_images", mode="before")
    @classmethod
    def _images(cls, value: Any) -> Any:
        entries = _comma_list(value)
        if any(not entry or any(c.isspace() for c in entry) for entry in entries):
            raise ValueError(
                "must be a comma list of image references, repositories, prefixes ending in / or digests"
            )
        return entries

    @field_validator("allowed_service_accounts", mode="before")
    @classmethod
    def _service_accounts(cls, value: Any) -> Any:
        entries = _comma_list(value)
        if not all(is_object_name(entry) for entry in entries):
            raise ValueError("must be a comma list of ServiceAccount names")
        return entries

    @field_validator("bot_url_template")
    @classmethod
    def _url_template(cls, value: str) -> str:
        try:
            url = value.format(service="bot", namespace="ns", port=8002)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError("may use only the placeholders {service}, {namespace} and {port}") from exc
        if not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("bot_status_period")
    @classmethod
    def _period(cls, value: float) -> float:
        if not 0.1 <= value <= 3600:
            raise ValueError("must be between 0.1 and 3600 seconds")
        return value

    @field_validator("metrics_port", "webhook_port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> Any:
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip()
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise ValueError("must be a TCP port number (1-65535)")
        return int(text)

    @model_validator(mode="after")
    def _webhook_pair(self) -> OperatorSettings:
        if (self.webhook_cert_file is None) != (self.webhook_key_file is None):
            raise ValueError("set both WEBHOOK_CERT_FILE and WEBHOOK_KEY_FILE to serve the admission webhook")
        return self

    def bot_defaults(self) -> OperatorDefaults:
        """The operator-wide defaults of every bot's children."""
        return OperatorDefaults(
            image=self.bot_image,
            image_pull_policy=self.bot_image_pull_policy,
            scrape_interval=self.scrape_interval,
            scrape_timeout=self.scrape_timeout,
            servicemonitor_labels=dict(self.servicemonitor_labels),
        )

    def bot_url(self, namespace: str, name: str, port: int) -> str:
        """The URL of one bot's API (its Service is named after the bot)."""
        return self.bot_url_template.format(service=name, namespace=namespace, port=port)

    def allowlist(self) -> Allowlist:
        """What a bot's spec may choose: the default image and the allowed ones, the allowed accounts."""
        return Allowlist(
            images=tuple(dict.fromkeys((self.bot_image, *self.allowed_images))),
            service_accounts=self.allowed_service_accounts,
        )

    def webhook_server(self) -> kopf.WebhookServer | None:
        """The HTTPS admission webhook server, or None when no certificate is configured."""
        if self.webhook_cert_file is None or self.webhook_key_file is None:
            return None
        return kopf.WebhookServer(
            addr=self.webhook_addr,
            port=self.webhook_port,
            host=self.webhook_host,
            certfile=self.webhook_cert_file,
            pkeyfile=self.webhook_key_file,
        )


def _comma_list(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(item).strip() for item in items if str(item).strip())


def load(environ: Mapping[str, str] | None = None) -> OperatorSettings:
    """The operator's settings from its process environment (or from `environ`, for tests).

    Raises `RuntimeConfigError` naming every bad variable.
    """
    try:
        if environ is None:
            return OperatorSettings()
        # The same rules as the process environment: empty means unset, unknown names are ignored.
        return OperatorSettings.model_validate({k: v for k, v in environ.items() if v != ""})
    except ValidationError as exc:
        raise RuntimeConfigError("; ".join(_describe(error) for error in exc.errors())) from None


def _describe(error: Mapping[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return message
    return f"{error['loc'][0]} {message}, got {error['input']!r}"
