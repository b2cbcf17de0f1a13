"""The operator process's own configuration, read from its environment at startup.

- `FLASH_GREEN_BOT_IMAGE`: bot image when a spec sets none
  (default `ghcr.io/flash-green/flash-green:0.1.0`);
- `FLASH_GREEN_BOT_IMAGE_PULL_POLICY`: the bots' `imagePullPolicy` (default `IfNotPresent`);
- `FLASH_GREEN_BOT_SERVICEMONITOR_INTERVAL`, `..._SCRAPE_TIMEOUT`, `..._LABELS`: the bots'
  ServiceMonitors' scrape interval, timeout and extra labels (a JSON object);
- `WEBHOOK_CERT_FILE`, `WEBHOOK_KEY_FILE`: TLS certificate and key of the admission webhook
  server; setting both turns it on;
- `WEBHOOK_PORT` (9443), `WEBHOOK_ADDR` (0.0.0.0), `WEBHOOK_HOST`: where it listens, and the
  host name clients use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import kopf


class RuntimeConfigError(ValueError):
    """The operator's own environment is inconsistent (reported at startup)."""


def webhook_server(environ: Mapping[str, str] | None = None) -> kopf.WebhookServer | None:
    """The HTTPS admission webhook server, or None when no certificate is configured."""
    env = os.environ if environ is None else environ
    cert = env.get("WEBHOOK_CERT_FILE") or None
    key = env.get("WEBHOOK_KEY_FILE") or None
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise RuntimeConfigError(
            "set both WEBHOOK_CERT_FILE and WEBHOOK_KEY_FILE to serve the admission webhook"
        )
    port_text = env.get("WEBHOOK_PORT") or "9443"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RuntimeConfigError(f"WEBHOOK_PORT must be a TCP port number, got {port_text!r}")
    return kopf.WebhookServer(
        addr=env.get("WEBHOOK_ADDR") or "0.0.0.0",  # noqa: S104 - the API server reaches it through a Service
        port=int(port_text),
        host=env.get("WEBHOOK_HOST") or None,
        certfile=cert,
        pkeyfile=key,
    )
