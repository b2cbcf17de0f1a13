"""How long a bot pod takes to stop, from ORDER_TIMEOUT_SECS: the one place it is computed.

A stop (SIGTERM, the control plane's stop, `paused`) prevents the next cycle; the cycle in flight
keeps its orders' deadline and ends hedged or unwound. In a pod, `flash-green run` stops in two
steps, one after the other: the API drains its requests (a control-plane stop in flight waits for
the loop, so the drain covers the loop's stop and a margin), then it SIGTERMs the trading loop
and waits for its cycle (one order deadline and a margin for the unwind), then SIGKILLs it. The
pod's `terminationGracePeriodSeconds` covers both plus a margin, so Kubernetes never kills a
cycle the bot is still finishing. The API (`bot.web`), its supervisor and the operator's
Deployment read their figures here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

DEFAULT_ORDER_TIMEOUT_S = Decimal(30)
UNWIND_MARGIN_S = 5  # after the deadline: cancel, unwind into the book, repay, journal
DRAIN_MARGIN_S = 5  # beyond a control-plane stop request waiting for the loop
POD_MARGIN_S = 5  # beyond both: process exit, the kubelet's own signalling


@dataclass(frozen=True, slots=True)
class ShutdownBudget:
    """Whole seconds each stage of a bot's shutdown may take."""

    loop_stop_s: int  # SIGTERM to the loop → its cycle done; SIGKILL after this
    api_drain_s: int  # uvicorn's graceful shutdown of the API's requests
    pod_grace_s: int  # the pod's terminationGracePeriodSeconds

    @classmethod
    def for_timeout(cls, order_timeout_s: Decimal | float | str) -> ShutdownBudget:
        """The budget for orders with this deadline (ORDER_TIMEOUT_SECS; 80 s of grace at 30 s)."""
        deadline = math.ceil(Decimal(str(order_timeout_s)))
        loop = deadline + UNWIND_MARGIN_S
        drain = loop + DRAIN_MARGIN_S
        return cls(loop_stop_s=loop, api_drain_s=drain, pod_grace_s=drain + loop + POD_MARGIN_S)
