"""The replay's report as one JSON document: trades, PnL, blocked cycles, risk figures, chart series.

Money is written as decimal text (exact, as the journal holds it); chart series are floats, for
drawing only. Figures are computed once here and read by the HTML page, the CLI and the API.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.journal.records import CycleRecord, CycleStatus
from bot.replay.runner import ReplayOutcome

ZERO = Decimal(0)
MAX_POINTS = 2000  # spread chart points: each keeps its bucket's widest spread


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _finished(record: CycleRecord) -> datetime:
    return record.finished_at or record.started_at


def summary(records: list[CycleRecord]) -> dict[str, Any]:
    """PnL, hit rate, largest loss, drawdown, loan usage and fees of a run's finished cycles."""
    trades = [r.trade for r in records if r.status is CycleStatus.TRADED and r.trade is not None]
    pnl = sum((r.realised_gbp for r in records), ZERO)
    wins = sum(1 for r in records if r.status is CycleStatus.TRADED and r.realised_gbp > ZERO)
    losses = [r.realised_gbp for r in records if r.realised_gbp < ZERO]
    peak = running = drawdown = ZERO
    for record in sorted(records, key=_finished):
        running += record.realised_gbp
        peak = max(peak, running)
        drawdown = max(drawdown, peak - running)
    loans = [t.loan_amount_gbp for t in trades if t.loan_amount_gbp > ZERO]
    fees = {
        "power_gbp": sum((t.costs.power_fee_gbp for t in trades), ZERO),
        "futures_gbp": sum((t.costs.futures_fee_gbp for t in trades), ZERO),
        "loan_gbp": sum((t.costs.loan_fee_gbp for t in trades), ZERO),
        "gas_gbp": sum((t.costs.gas_gbp for t in trades), ZERO),
    }
    return {
        "trades": len(trades),
        "cycles_finished": len(records),
        "pnl_gbp": _money(pnl),
        "hit_rate": f"{Decimal(wins) / len(trades):.4f}" if trades else None,
        "largest_loss_gbp": _money(-min(losses)) if losses else "0.00",
        "max_drawdown_gbp": _money(drawdown),
        "volume_mwh": str(sum((t.quantity_mwh for t in trades), ZERO)),
        "loan": {
            "cycles_with_loan": len(loans),
            "total_drawn_gbp": _money(sum(loans, ZERO)),
            "largest_gbp": _money(max(loans)) if loans else "0.00",
        },
        "fees": {name: _money(value) for name, value in fees.items()}
        | {"total_gbp": _money(sum(fees.values(), ZERO))},
    }


def by_reason(outcome: ReplayOutcome, kind: str) -> dict[str, int]:
    counts = {reason or "none": n for (o, reason), n in outcome.outcomes.items() if o == kind}
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def per_day(records: list[CycleRecord]) -> list[dict[str, Any]]:
    days: dict[str, list[Decimal]] = defaultdict(list)
    trades: dict[str, int] = defaultdict(int)
    for record in records:
        day = _finished(record).astimezone(UTC).date().isoformat()
        days[day].append(record.realised_gbp)
        trades[day] += record.status is CycleStatus.TRADED
    return [
        {"day": day, "pnl_gbp": _money(sum(values, ZERO)), "trades": trades[day]}
        for day, values in sorted(days.items())
    ]


def series(outcome: ReplayOutcome) -> dict[str, Any]:
    """Chart data: cumulative PnL per finished cycle; the spread (downsampled); trade markers."""
    pnl_t: list[float] = []
    pnl_v: list[float] = []
    running = ZERO
    for record in sorted(outcome.records, key=_finished):
        running += record.realised_gbp
        pnl_t.append(_finished(record).timestamp())
        pnl_v.append(float(running))
    t, v = outcome.spread_at_us, outcome.spread_gbp
    step = max(1, -(-len(t) // MAX_POINTS))
    spread_t: list[float] = []
    spread_v: list[float] = []
    for i in range(0, len(t), step):
        chunk = v[i : i + step]
        widest = max(range(len(chunk)), key=lambda k: abs(chunk[k]))
        spread_t.append(t[i + widest] / 1e6)
        spread_v.append(chunk[widest])
    markers = [
        (r.started_at.timestamp(), float(r.spread_gbp))
        for r in outcome.records
        if r.status is CycleStatus.TRADED and r.spread_gbp is not None
    ]
    return {
        "pnl": [pnl_t, pnl_v],
        "spread": [spread_t, spread_v],
        "trades": [[m[0] for m in markers], [m[1] for m in markers]],
    }


def build_report(
    outcome: ReplayOutcome, *, inputs: list[str], settings: dict[str, str], trades_listed: int = 1000
) -> dict[str, Any]:
    """The whole report of one run (see docs/replay.md for each field)."""
    traded = [r for r in outcome.records if r.trade is not None]
    cycles: dict[str, int] = defaultdict(int)
    for (kind, _), n in outcome.outcomes.items():
        cycles[kind] += n
    return {
        "inputs": inputs,
        "settings": settings,
        "rows": outcome.rows,
        "changes": outcome.changes,
        "from": _iso(outcome.first),
        "to": _iso(outcome.last),
        "summary": summary(outcome.records),
        "cycles": dict(cycles),
        "blocked_by_reason": by_reason(outcome, "blocked"),
        "no_trade_by_reason": by_reason(outcome, "no_trade"),
        "unwound_by_reason": by_reason(outcome, "unwound") | by_reason(outcome, "failed"),
        "pnl_by_day": per_day(outcome.records),
        "trades": [
            {
                "cycle_id": r.cycle_id,
                "at": _iso(r.trade.executed_at),
                "quantity_mwh": str(r.trade.quantity_mwh),
                "power_price_gbp": str(r.trade.power_price_gbp),
                "futures_price_gbp": str(r.trade.futures_price_gbp),
                "spread_gbp": None if r.spread_gbp is None else str(r.spread_gbp),
                "loan_gbp": str(r.trade.loan_amount_gbp),
                "costs_gbp": str(r.trade.costs.total_gbp),
                "net_gbp": str(r.trade.net_gbp),
            }
            for r in traded[:trades_listed]
            if r.trade is not None
        ],
        "trades_listed": min(len(traded), trades_listed),
        "series": series(outcome),
    }
