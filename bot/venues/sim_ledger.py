"""The simulated venues' ledger: every answer they give about an order, appended to a file.

A real venue outlives the bot: after a crash it still answers for the orders it holds, and what
it filled is what the desk really holds. The simulated venues live inside the bot's process, so
with `SIM_LEDGER=1` they keep what they did in an append-only JSON-lines file,
`{DATA_DIR}/sim-venues.jsonl`. Each
line is written and flushed to the operating system before the bot hears the answer, so it
survives the process being killed (SIGKILL) at any point. A restarted simulated venue reads it
back and answers for those orders as a real venue would; a restart drill compares the journal
with it. One line per answer; the last line of an order is its state:

    {"venue": "sim-power", "client_order_id": "flash-green-000000003-power-unwind", "leg": "power",
     "side": "SELL", "quantity": "50", "limit_price": "61.2", "status": "FILLED",
     "filled": "50", "average_price": "61.4512", "venue_order_id": "sim-power-7", "reason": null}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from bot.domain.market import Leg, OrderRequest, OrderState, OrderStatus, Side

LEDGER_FILE = "sim-venues.jsonl"


@dataclass(frozen=True)
class LedgerEntry:
    """One order as a simulated venue last reported it."""

    venue: str
    order: OrderRequest
    state: OrderState


class VenueLedger:
    """The append-only file both simulated venues of one market write their answers to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO | None = None

    def append(self, venue: str, order: OrderRequest, state: OrderState) -> None:
        """Write one answer and flush it to the operating system (it survives a SIGKILL)."""
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        line = {
            "venue": venue,
            "client_order_id": order.client_order_id,
            "leg": order.leg,
            "side": order.side.value,
            "quantity": str(order.quantity),
            "limit_price": str(order.limit_price),
            "status": state.status.value,
            "filled": str(state.filled_quantity),
            "average_price": None if state.average_price is None else str(state.average_price),
            "venue_order_id": state.venue_order_id,
            "reason": state.reason,
        }
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()

    def entries(self, venue: str | None = None) -> dict[str, LedgerEntry]:
        """The last answer for each order (of `venue` only, if given), in the order first seen."""
        return {
            cid: entry
            for cid, entry in read_ledger(self.path).items()
            if venue is None or entry.venue == venue
        }

    def close(self) -> None:
        """Close the file (later answers reopen it)."""
        file, self._file = self._file, None
        if file is not None:
            file.close()


def read_ledger(path: Path) -> dict[str, LedgerEntry]:
    """The last answer for each client order id in the ledger at `path` (empty when there is none).

    A last line cut short by a kill is ignored: the answer it held never reached the bot either.
    """
    out: dict[str, LedgerEntry] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        leg: Leg = "power" if line["leg"] == "power" else "futures"
        order = OrderRequest(
            line["client_order_id"],
            leg,
            Side(line["side"]),
            Decimal(line["quantity"]),
            Decimal(line["limit_price"]),
        )
        price = line["average_price"]
        state = OrderState(
            order.client_order_id,
            OrderStatus(line["status"]),
            Decimal(line["filled"]),
            None if price is None else Decimal(price),
            line["venue_order_id"],
            line["reason"],
        )
        out[order.client_order_id] = LedgerEntry(line["venue"], order, state)
    return out
