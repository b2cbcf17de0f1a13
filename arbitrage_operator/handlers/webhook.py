"""The validating admission webhook: an invalid spec is refused at `kubectl apply` time.

kopf refuses webhook handlers without a server to answer them, so `register()` adds the handler
at startup, only when the operator's settings configure the server (a certificate and key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from arbitrage_operator import crd
from arbitrage_operator.policy import Allowlist
from arbitrage_operator.spec import build_config
from arbitrage_operator.state import state_of
from arbitrage_operator.status import format_problems

WEBHOOK_ID = "validate-arbitragebot"  # kopf serves a handler at /<id>; the chart's webhook path


def register(settings: kopf.OperatorSettings, server: kopf.WebhookServer) -> None:
    """Serve `validate` for creations and updates of ArbitrageBots on `server`."""
    settings.admission.server = server
    kopf.on.validate(*crd.RESOURCE, id=WEBHOOK_ID, operations=["CREATE", "UPDATE"])(validate)


async def validate(
    spec: Mapping[str, Any],
    body: kopf.Body,
    old: Mapping[str, Any] | None = None,
    memo: kopf.Memo | None = None,
    **_: Any,
) -> None:
    """Reject an invalid spec with the message the status would carry."""
    if body.get("metadata", {}).get("deletionTimestamp"):
        return  # never block a deletion (e.g. another controller removing its finalizer)
    if old is not None and old.get("spec") == body.get("spec"):
        return  # labels, annotations, finalizers: the spec was judged when it was written
    # With generateName the API server picks the name later: judge the spec under a valid one.
    name = body.get("metadata", {}).get("name") or "bot"
    state = state_of(memo)
    # Before startup built the state, the strictest allowlist (the operator's defaults) applies.
    allowlist = state.allowlist if state is not None else Allowlist()
    problems = build_config(name, dict(spec), allowlist=allowlist).problems
    if problems:
        if state is not None:
            state.metrics.admission_refusals.inc()
        raise kopf.AdmissionError(format_problems(problems), code=422)
