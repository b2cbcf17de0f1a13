"""Render the settings table (docs/configuration.md) from `bot.config.catalog()`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import catalog

HEADER = """# Configuration

Every setting the bot reads, by environment variable. This page is generated from
`bot.config.Settings` (`flash-green settings --markdown > docs/configuration.md`); a test fails
when the two disagree. Values come from, in order of precedence: the process environment, the
`.env` file (or the file passed with `--env-file`), then mounted secret files in `SECRETS_DIR`
(one file per variable). When `SECRETS_BACKEND` is set, the secret fields marked *fetched* are read
from Vault or AWS Secrets Manager when no source above sets them (see [secrets.md](secrets.md)).
List settings take `a,b`.

Any missing credential for an enabled toggle, or any malformed value, stops the bot at start-up
with one error naming every problem by its variable. Secret values never appear in `repr`,
logs, errors or metrics.

Settings marked *(new)* were not in the original README: they come from the original code
(risk and simulation) or were added here; the CRD column gives the `ArbitrageBot` spec path the
operator sets it from. The *API override* column says what the control plane may do with a
setting when it starts the trading loop (see [api.md](api.md)): `lower` or `higher` only in that
direction, `off` only switch off, `narrower` only a window inside the running one, `any` any valid
value, `never` nothing.

| Variable | Default | Required when | Secret | CRD field | API override | Description |
| --- | --- | --- | --- | --- | --- | --- |
"""

ORIGINAL_README = {
    "USE_LIVE_FEED",
    "USE_POWERLEDGER_LIVE",
    "USE_ICE_LIVE",
    "USE_WEB3_LOAN",
    "LIVE_EXCHANGE",
    "LIVE_SYMBOL",
    "LIVE_API_KEY",
    "LIVE_API_SECRET",
    "POWERLEDGER_API_URL",
    "POWERLEDGER_API_TOKEN",
    "POWERLEDGER_ORG",
    "POWERLEDGER_MARKET",
    "ICE_API_URL",
    "ICE_API_KEY",
    "ICE_API_SECRET",
    "ICE_SYMBOL",
    "FLASH_LOAN_CONTRACT",
    "FLASH_LOAN_RECEIVER",
    "LENDER_KEY",
    "HARDHAT_RPC",
    "LOAN_LIMIT_GBP",
    "TRADING_WINDOW_UTC",
    "ALLOW_WEEKEND_TRADING",
    "API_KEY",
    "METRICS_PORT",
    "SECRETS_BACKEND",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_SECRET_PATH",
    "AWS_SECRETS_REGION",
    "AWS_SECRETS_ID",
    "DATABASE_URL",
}


def _default(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return f"`{','.join(value)}`" if value else "—"
    if isinstance(value, Decimal | Path | int | str):
        return f"`{value}`"
    return f"`{value}`"


def render_markdown() -> str:
    rows = []
    for info in catalog():
        secret = "yes, fetched" if info.hydrated else ("yes" if info.secret else "")
        new = "" if info.env in ORIGINAL_README else " *(new)*"
        rows.append(
            f"| `{info.env}`{new} | {_default(info.default)} | {'; '.join(info.required_by) or '—'} | "
            f"{secret} | {f'`{info.crd}`' if info.crd else '—'} | {info.override} | "
            f"{info.description.replace('|', '/')} |"
        )
    return HEADER + "\n".join(rows) + "\n"
