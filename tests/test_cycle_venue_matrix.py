"""The cycle-level fault matrix of the live venues: every venue by every fault, through a whole cycle.

One leg is the real adapter on its loopback server (Powerledger for the power leg; ICE, Fnality
or CCXT/binance for the futures leg), the other the simulated venue; the journal is a real SQLite
file, the `Orchestrator` the real one. The fault is armed at the server; one cycle meets it. Then:
the cycle ends as the matrix says (traded and hedged, unwound, blocked before any order, or failed
with an order whose fate only the venue knows), the journal is consistent, the reason is counted
in the exposition, and the next cycle runs (trading again once the fault is over).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.domain.market import OrderStatus
from bot.journal.records import CycleRecord, CycleStatus
from tests.fixtures.cycle_venues import (
    FAULTS,
    BinanceLeg,
    CycleRig,
    PayingBinance,
    RestLeg,
    build_cycle_rig,
    new_clock,
    rig_settings,
)
from tests.venues.rest_fixtures import http_server
from tests.venues.rest_loopback import FNALITY, ICE, POWERLEDGER

__all__ = ["http_server"]  # the module-scoped loopback server fixture, used below

VENUES = ("powerledger", "ice", "fnality-repo", "ccxt-binance")
REST = {fmt.name: fmt for fmt in (POWERLEDGER, ICE, FNALITY)}
NO_LOOKUP = ("powerledger", "fnality-repo")  # cannot be asked by client order id


@dataclass(frozen=True)
class Cell:
    outcome: str  # of the cycle that meets the fault
    reason: str | None
    then: str = "traded"  # the next cycle, the fault over ("blocked:<reason>" while it is not)


def expected(venue: str, fault: str) -> Cell:
    """What each fault must make of the cycle on each venue (docs/venues.md, "In the cycle")."""
    if fault == "server_error":
        return Cell("blocked", "venue_unavailable")  # every attempt at the book failed
    if fault == "malformed":
        return Cell("blocked", "venue_error")
    if fault == "timeout":
        # the venue took the order; ICE and binance find it by client order id, the others cannot
        # ask: UNKNOWN, the cycle failed for a human to check (the venue does hold a filled order)
        return Cell("failed", "order_unknown") if venue in NO_LOOKUP else Cell("traded", None)
    if fault == "refused":
        # place() raised `unreachable`: the connection was refused, nothing was sent; unwound
        return Cell("unwound", "venue_unavailable", then="blocked:venue_unavailable")
    if fault == "unauthorized":
        return Cell("unwound", "venue_unauthorized")
    if fault == "rate_limited":
        return Cell("unwound", "venue_rate_limited", then="blocked:venue_rate_limited")
    if fault == "partial_fill":
        if venue == "powerledger":
            return Cell("traded", None)  # a smaller trade: the futures leg hedges what filled
        return Cell("traded", "partial_fill")  # hedged on what filled; the rest of the power sold back
    if fault == "rejection":
        return Cell("unwound", "power_rejected" if venue == "powerledger" else "futures_rejected")
    if fault == "rests":
        return Cell("unwound", "order_timeout")  # cancelled at ORDER_TIMEOUT_SECS, nothing filled
    if fault == "duplicate_id":
        return Cell("traded", None)  # the existing order is read, never a second one sent
    if fault == "venue_gone":
        # the order rests at a venue that no longer answers: it cannot be cancelled or confirmed
        return Cell("failed", "order_unknown", then="blocked:venue_unavailable")
    raise ValueError(fault)


@pytest.fixture
async def rig(
    venue: str, fault: str, tmp_path: Path, http_server: HTTPServer, isolated_config_env: pytest.MonkeyPatch
) -> AsyncIterator[CycleRig]:
    settings, clock = rig_settings(tmp_path), new_clock()
    if venue == "ccxt-binance":
        stub = PayingBinance(clock)
        await stub.start()
        built = build_cycle_rig(settings, clock, lambda observer: BinanceLeg(stub, observer))
        yield built
        await built.live.close()
        await stub.stop()
    else:
        # the venue going away stops its server: those cells get one of their own
        own = fault in ("refused", "venue_gone")
        server = HTTPServer(host="127.0.0.1", port=0, threaded=True) if own else http_server
        if own:
            server.start()
        built = build_cycle_rig(
            settings, clock, lambda observer: RestLeg(REST[venue], server, settings, clock, observer)
        )
        yield built
        await built.live.close()
        if own and server.is_running():
            server.stop()
    built.journal.close()


def positions(cycle: CycleRecord) -> tuple[D, D]:
    """Net MWh per leg from the cycle's journalled fills (UNKNOWN orders count what they reported)."""
    net = {"power": D(0), "futures": D(0)}
    for order in cycle.orders:
        net[order.leg] += order.filled_mwh if order.side == "BUY" else -order.filled_mwh
    return net["power"], net["futures"]


def assert_journal_consistent(rig: CycleRig) -> None:
    """Every cycle closed, every order sent journalled, each leg flat unless hedged, PnL summed."""
    assert rig.journal.incomplete_cycles() == []  # no cycle left STARTED
    cycles = [rig.journal.cycle(r.cycle.cycle_id) for r in rig.results if r.cycle is not None]
    assert all(c is not None for c in cycles)
    journalled = {o.client_order_id: o for c in cycles if c is not None for o in c.orders}
    sent = set(rig.live.sent_client_ids())
    assert sent <= set(journalled), "an order reached the venue without being journalled"
    for cid in sent:
        assert journalled[cid].status is not OrderStatus.NEW  # its answer was journalled too
    for cycle in cycles:
        assert cycle is not None and cycle.status is not CycleStatus.STARTED
        power, futures = positions(cycle)
        if cycle.status is CycleStatus.TRADED:
            assert power > 0 and futures == -power, cycle  # hedged: power bought, futures sold
            assert cycle.trade is not None and cycle.realised_gbp == cycle.trade.net_gbp
        else:
            assert (power, futures) == (0, 0), cycle  # flat as far as the venues answered
            assert cycle.trade is None
        unknown = [o for o in cycle.orders if o.status is OrderStatus.UNKNOWN]
        assert bool(unknown) == (cycle.status is CycleStatus.FAILED), cycle  # a human checks only those
    day = rig.clock().date()
    assert rig.journal.daily_pnl(day).realised_gbp == sum((c.realised_gbp for c in cycles if c), D(0))
    assert rig.loan.outstanding() == {}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("venue", VENUES)
async def test_a_venue_fault_ends_the_cycle_hedged_or_unwound_counted_and_the_bot_goes_on(
    rig: CycleRig, venue: str, fault: str
) -> None:
    cell = expected(venue, fault)
    # given the live venue armed with the fault
    rig.live.inject(fault)

    # when a cycle meets it
    result = await rig.cycle()

    # then it ends as the matrix says, journalled consistently and counted
    assert (result.outcome, result.reason) == (cell.outcome, cell.reason), result
    if cell.outcome == "blocked":
        assert result.cycle is None and rig.live.sent_client_ids() == []  # nothing was sent
    assert_journal_consistent(rig)
    assert rig.metric("cycles_total", outcome=cell.outcome) == 1
    if cell.outcome != "traded":
        assert rig.metric("trades_blocked_total", reason=str(cell.reason)) == 1
    else:
        assert rig.metric("trades_executed_total") == 1
        partial = 1 if cell.reason == "partial_fill" else 0
        assert rig.metric("trades_blocked_total", reason="partial_fill") == partial
        assert rig.metric("trade_partial_failures_total") == partial
    assert rig.metric("trades_blocked_total", reason="error") == 0  # nothing crashed the saga

    # and the next cycle runs: it trades once the fault is over, or is blocked while it is not
    rig.live.heal()
    following = await rig.cycle()
    if cell.then == "traded":
        assert following.outcome == "traded", following
    else:
        assert (following.outcome, following.reason) == tuple(cell.then.split(":")), following
        if fault == "rate_limited" and rig.live.retry_after_passes():
            resumed = await rig.cycle()
            assert resumed.outcome == "traded", resumed
    assert_journal_consistent(rig)
