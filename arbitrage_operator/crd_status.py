"""The ArbitrageBot's status subresource and what `kubectl get arb` prints.

The operator alone writes `status`: its phase and conditions, and the figures it reads from each
bot's API (today's PnL and trades, the last trade, venue and journal health). `crd.py` puts this
schema and these columns into the CustomResourceDefinition; `reference.py` documents them.
"""

from __future__ import annotations

from typing import Any

PHASES = ["Pending", "Invalid", "Starting", "Paused", "Trading", "Idle"]
SIGNED_DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


def object_schema(description: str, properties: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "object", "description": description}
    if properties is not None:
        node["properties"] = properties
    node.update(extra)
    return node


def status_schema() -> dict[str, Any]:
    """The schema of `status`, written by the operator only."""
    condition = object_schema(
        "A condition in the Kubernetes shape; lastTransitionTime changes only when status changes.",
        {
            "type": {"type": "string", "description": "ConfigValid, Ready or Trading."},
            "status": {
                "type": "string",
                "enum": ["True", "False", "Unknown"],
                "description": "True, False or Unknown.",
            },
            "reason": {
                "type": "string",
                "description": "One CamelCase word saying why (see docs/operator.md).",
            },
            "message": {"type": "string", "description": "What happened and what to do, for humans."},
            "lastTransitionTime": {
                "type": "string",
                "format": "date-time",
                "description": "When status last changed, UTC.",
            },
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "The metadata.generation this condition was computed from.",
            },
        },
        required=["type", "status", "reason", "message", "lastTransitionTime"],
    )
    return object_schema(
        "Observed state, written by the operator.",
        {
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "The metadata.generation the operator last reconciled.",
            },
            "phase": {
                "type": "string",
                "enum": PHASES,
                "description": "A one-word summary for humans: Pending, Invalid, Starting, Paused, "
                "Trading or Idle.",
            },
            "conditions": {
                "type": "array",
                "description": "ConfigValid, Ready and Trading.",
                "items": condition,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "configHash": {
                "type": "string",
                "description": "Digest of the configuration the Deployment runs (its pods carry it "
                "as an annotation).",
            },
            "serviceMonitor": {
                "type": "string",
                "description": "Name of the ServiceMonitor created for this bot.",
            },
            "pnlTodayGBP": {
                "type": "string",
                "pattern": SIGNED_DECIMAL_PATTERN,
                "description": "Today's (UTC) profit and loss in GBP as the bot's API reports it; kept "
                "through an unreachable spell of the same UTC day, dropped after it.",
            },
            "pnlDay": {
                "type": "string",
                "format": "date",
                "description": "The UTC day pnlTodayGBP and tradesToday are for.",
            },
            "tradesToday": {
                "type": "integer",
                "format": "int64",
                "description": "Trades the bot executed today (UTC), as its API reports.",
            },
            "lastTradeAt": {
                "type": "string",
                "format": "date-time",
                "description": "When the bot's most recent trade executed, UTC.",
            },
            "dailyLossLimitHit": {
                "type": "boolean",
                "description": "True when today's losses reached the bot's daily loss limit (it blocks "
                "new cycles until the UTC day ends).",
            },
            "venues": {
                "type": "array",
                "description": "Each venue the bot trades on, as its /readyz reports it.",
                "items": object_schema(
                    "One venue's health.",
                    {
                        "name": {"type": "string", "description": "The venue."},
                        "leg": {"type": "string", "description": "power or futures."},
                        "up": {
                            "type": "boolean",
                            "description": "Whether its last request was answered (absent before the first).",
                        },
                        "breaker": {
                            "type": "string",
                            "description": "Its circuit breaker: closed, open, half_open or none.",
                        },
                        "lastError": {
                            "type": "string",
                            "description": "The kind of its last request's error, when it failed.",
                        },
                    },
                    required=["name", "leg"],
                ),
            },
            "journal": object_schema(
                "The bot's journal database.",
                {
                    "engine": {"type": "string", "description": "sqlite or postgresql."},
                    "reachable": {
                        "type": "boolean",
                        "description": "Whether the bot reaches it (absent when its API cannot be read).",
                    },
                },
            ),
            "botApi": object_schema(
                "Whether the operator could read the bot's API (the source of the fields above).",
                {
                    "reachable": {"type": "boolean", "description": "The last read succeeded."},
                    "message": {
                        "type": "string",
                        "description": "Why it could not be read (never a credential).",
                    },
                },
            ),
            "kopf": {
                **object_schema(
                    "Bookkeeping of the operator framework (kopf): handler progress and retries."
                ),
                "x-kubernetes-preserve-unknown-fields": True,
            },
        },
    )


def printer_columns() -> list[dict[str, Any]]:
    """The columns `kubectl get arb` prints."""
    return [
        {
            "name": "Phase",
            "type": "string",
            "jsonPath": ".status.phase",
            "description": "Summary of the bot's state.",
        },
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
            "description": "The bot's Deployment is available.",
        },
        {
            "name": "Trading",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Trading")].status',
            "description": "Not paused, ready, and inside the trading window.",
        },
        {
            "name": "PnL",
            "type": "string",
            "jsonPath": ".status.pnlTodayGBP",
            "description": "Today's profit and loss in GBP, when known.",
        },
        {
            "name": "Trades",
            "type": "integer",
            "jsonPath": ".status.tradesToday",
            "description": "Trades executed today (UTC).",
        },
        {
            "name": "Last Trade",
            "type": "date",
            "jsonPath": ".status.lastTradeAt",
            "description": "How long ago the most recent trade executed.",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
