"""Deterministic cycle and order ids: the one place they are built.

A restart finds what the previous process sent by these ids (restart recovery queries each venue
by order id; the journal-owner check looks up the latest cycle by its id), so the cycle, recovery
and anything else that names a cycle or an order must build the id here.
"""

from __future__ import annotations

from bot.domain.market import Leg


def cycle_id(bot_name: str, seq: int) -> str:
    """The id of the bot's `seq`-th cycle, e.g. `flash-green-000000042`."""
    return f"{bot_name}-{seq:09d}"


def order_id(cycle: str, leg: Leg, purpose: str, attempt: int = 1) -> str:
    """The client order id of one order of a cycle, e.g. `flash-green-000000042-power-unwind-2`.

    `purpose` is "entry", "exit" or "unwind"; a retry (`attempt` > 1) gets its own id, so a
    venue never takes it for the order it already holds.
    """
    base = f"{cycle}-{leg}-{purpose}"
    return base if attempt == 1 else f"{base}-{attempt}"
