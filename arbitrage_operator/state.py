"""What the operator's handlers share for the operator's life, built once at startup."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import kopf

from arbitrage_operator.events import EventRecorder
from arbitrage_operator.kube import ApiError, KubeApi
from arbitrage_operator.manifests import OperatorDefaults
from arbitrage_operator.metrics import OperatorMetrics
from arbitrage_operator.policy import Allowlist

if TYPE_CHECKING:
    from arbitrage_operator.handlers.live_status import LiveStatus

ReadyKey = tuple[str, str, str]  # status, reason, message


@dataclass
class OperatorState:
    """kopf hands each handler a copy of the memo holding this, so everything mutable lives here."""

    api: KubeApi
    defaults: OperatorDefaults
    allowlist: Allowlist = field(default_factory=Allowlist)  # images and ServiceAccounts bots may name
    # (namespace, bot) -> the Ready last written, so unchanged Deployments cost no API call.
    ready_seen: dict[tuple[str, str], ReadyKey] = field(default_factory=dict)
    servicemonitor_api: bool = False  # remembered once found: the API does not go away
    trading_clock: asyncio.Task[None] | None = None
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    events: EventRecorder | None = None  # built at startup with the API client
    live: LiveStatus | None = None  # the reader of the bots' APIs (handlers/live_status.py)
    live_task: asyncio.Task[None] | None = None

    def recorder(self) -> EventRecorder:
        """The Event recorder (built on first use when startup did not build one)."""
        if self.events is None:
            self.events = EventRecorder(self.api)
        return self.events

    async def serves_servicemonitors(self) -> bool:
        """Whether the cluster serves the Prometheus Operator's ServiceMonitors (asked until it does)."""
        if not self.servicemonitor_api:
            try:
                self.servicemonitor_api = await self.api.serves("monitoring.coreos.com/v1", "servicemonitors")
            except ApiError:
                return False
        return self.servicemonitor_api


def state_of(memo: kopf.Memo | None) -> OperatorState | None:
    """The operator's state, or None before startup built it (or after a failed startup)."""
    state = getattr(memo, "state", None)
    return state if isinstance(state, OperatorState) else None
