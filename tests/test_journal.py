"""The trade journal, against a SQLite file and a real PostgreSQL server (`journal_url`)."""

from __future__ import annotations

import sqlite3
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.domain.market import OrderStatus, Side
from bot.journal import (
    AuditRecord,
    CostBreakdown,
    CycleRecord,
    CycleStatus,
    CycleTaken,
    DailyPnl,
    Journal,
    JournalError,
    OrderRecord,
    TradeRecord,
    head_revision,
    schema,
)
from tests.fixtures.postgres import SCRATCH_DATABASE, PostgresServer

D = Decimal
T0 = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)  # a Monday
DAY = T0.date()


# --------------------------------------------------------------------------------------------
# Records as the orchestrator builds them


def order(cycle_id: str, leg: str = "power", *, at: datetime = T0, **changes: object) -> OrderRecord:
    side, purpose = (Side.BUY, "entry") if leg == "power" else (Side.SELL, "exit")
    base = OrderRecord(
        client_order_id=f"{cycle_id}-{leg}-{purpose}",
        cycle_id=cycle_id,
        leg=leg,  # type: ignore[arg-type]
        venue=f"sim-{leg}",
        side=side,
        purpose=purpose,
        quantity_mwh=D("12.5"),
        limit_price_gbp=D("-3.25") if leg == "power" else D("61.40"),
        status=OrderStatus.NEW,
        filled_mwh=D(0),
        avg_price_gbp=None,
        venue_order_id=None,
        created_at=at,
        updated_at=at,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def started(seq: int, *, at: datetime = T0) -> CycleRecord:
    cycle_id = f"bot-{seq:09d}"
    return CycleRecord(
        cycle_id=cycle_id,
        seq=seq,
        started_at=at,
        finished_at=None,
        status=CycleStatus.STARTED,
        reason=None,
        power_ask_gbp=D("-3.25"),
        futures_bid_gbp=D("61.40"),
        spread_gbp=D("64.65"),
        planned_mwh=D("12.5"),
        expected_profit_gbp=D("790.12"),
        realised_gbp=D(0),
        orders=(order(cycle_id, "power", at=at), order(cycle_id, "futures", at=at)),
    )


def filled(o: OrderRecord, price: Decimal, at: datetime) -> OrderRecord:
    return replace(
        o,
        status=OrderStatus.FILLED,
        filled_mwh=o.quantity_mwh,
        avg_price_gbp=price,
        venue_order_id=f"v-{o.client_order_id}",
        updated_at=at,
    )


def traded(cycle: CycleRecord, net: Decimal, *, at: datetime | None = None) -> CycleRecord:
    at = at or cycle.started_at + timedelta(milliseconds=40)
    power, futures = cycle.orders
    costs = CostBreakdown(
        power_fee_gbp=D("0.41"),
        futures_fee_gbp=D("0.77"),
        loan_fee_gbp=D("0.04"),
        gas_gbp=D("0.50"),
        slippage_gbp=D("0"),
    )
    trade = TradeRecord(
        cycle_id=cycle.cycle_id,
        executed_at=at,
        quantity_mwh=D("12.5"),
        power_price_gbp=D("-3.25"),
        futures_price_gbp=D("61.40"),
        loan_amount_gbp=D("40.63"),
        gross_gbp=net + costs.total_gbp,
        costs=costs,
        net_gbp=net,
    )
    return replace(
        cycle,
        status=CycleStatus.TRADED,
        finished_at=at,
        realised_gbp=net,
        orders=(filled(power, D("-3.25"), at), filled(futures, D("61.40"), at)),
        trade=trade,
    )


def unwound(cycle: CycleRecord, net: Decimal, *, at: datetime | None = None) -> CycleRecord:
    at = at or cycle.started_at + timedelta(milliseconds=40)
    power, futures = cycle.orders
    return replace(
        cycle,
        status=CycleStatus.UNWOUND,
        reason="futures_rejected",
        finished_at=at,
        realised_gbp=net,
        orders=(filled(power, D("-3.25"), at), replace(futures, status=OrderStatus.REJECTED, updated_at=at)),
        trade=None,
    )


def audit(n: int, at: datetime) -> AuditRecord:
    return AuditRecord(
        at=at,
        client="10.0.0.7",
        principal=f"key:sha256:{n:04x}",
        roles=("operator", "reader"),
        action="orchestrator.stop",
        parameters={"reason": f"maintenance {n}", "api_key": "***"},
        outcome="accepted",
        status_code=200,
    )


def as_stored(cycle: CycleRecord) -> CycleRecord:
    """A cycle as the journal returns it: orders oldest first, ties by client_order_id."""
    return replace(cycle, orders=tuple(sorted(cycle.orders, key=lambda o: (o.created_at, o.client_order_id))))


@pytest.fixture
def journal(journal_url: str) -> Iterator[Journal]:
    j = Journal.open(journal_url)
    yield j
    j.close()


def table_rows(url: str, table: sa.Table) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# Opening, closing, pinging


def test_open_creates_the_sqlite_directory_and_migrates_to_head(tmp_path: Path) -> None:
    # given a DATA_DIR that does not exist yet
    path = tmp_path / "data" / "nested" / "journal.db"
    # when the journal opens there
    journal = Journal.open(f"sqlite:///{path}")
    # then the file exists and carries the newest schema
    try:
        assert path.is_file()
        assert journal.current_revision() == head_revision()
    finally:
        journal.close()


def test_open_without_migrate_leaves_the_schema_alone(journal_url: str) -> None:
    journal = Journal.open(journal_url, migrate=False)
    try:
        assert journal.current_revision() is None
    finally:
        journal.close()


def test_ping_answers_on_an_open_journal(journal: Journal) -> None:
    journal.ping()


def test_a_closed_journal_refuses_every_call_with_journal_error(journal_url: str) -> None:
    journal = Journal.open(journal_url)
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.ping()
    with pytest.raises(JournalError, match="closed"):
        journal.next_cycle_seq()


def test_sqlite_journal_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    Journal.open(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_throwaway_journal_records_the_same_cycles_without_fsync(tmp_path: Path) -> None:
    # given a replay's throwaway journal (durable=False) and a live one
    throwaway = Journal.open(f"sqlite:///{tmp_path / 'replay.db'}", durable=False)
    live = Journal.open(f"sqlite:///{tmp_path / 'live.db'}")
    cycle = started(1)
    done = traded(cycle, Decimal("12.5"))
    # when both journal the same cycle
    try:
        for journal in (throwaway, live):
            journal.begin_cycle(cycle)
            journal.record_orders(done.orders)
            journal.finish_cycle(done)
        # then they hold the same records
        assert throwaway.cycle(cycle.cycle_id) == live.cycle(cycle.cycle_id) == as_stored(done)
        assert throwaway.daily_pnl(T0.date()) == live.daily_pnl(T0.date())
    finally:
        throwaway.close()
        live.close()
    # and the closed file reads back as an ordinary journal
    reopened = Journal.open(f"sqlite:///{tmp_path / 'replay.db'}")
    try:
        assert reopened.cycle(cycle.cycle_id) == as_stored(done)
    finally:
        reopened.close()


def test_only_a_sqlite_file_can_be_a_throwaway_journal() -> None:
    with pytest.raises(JournalError, match="SQLite file"):
        Journal.open("postgresql+psycopg://user@127.0.0.1:1/none", durable=False)


# --------------------------------------------------------------------------------------------
# Write-ahead and finishing


def test_begin_cycle_journals_a_started_cycle_with_its_planned_orders(journal: Journal) -> None:
    cycle = started(1)
    journal.begin_cycle(cycle)
    assert journal.incomplete_cycles() == [as_stored(cycle)]
    assert journal.cycle(cycle.cycle_id) == as_stored(cycle)
    assert {o.client_order_id for o in journal.open_orders()} == {o.client_order_id for o in cycle.orders}


def test_begin_cycle_of_a_journalled_cycle_is_refused_and_changes_nothing(journal: Journal) -> None:
    cycle = started(1)
    journal.begin_cycle(cycle)
    journal.finish_cycle(traded(cycle, D("10")))
    # a second writer for the bot (or a repeated write-ahead) must not send this cycle's orders
    with pytest.raises(CycleTaken, match="sequence is taken"):
        journal.begin_cycle(cycle)
    assert journal.cycle(cycle.cycle_id) == as_stored(traded(cycle, D("10")))
    assert journal.incomplete_cycles() == []


def test_begin_cycle_refuses_a_sequence_below_the_bots_highest(journal: Journal) -> None:
    journal.begin_cycle(started(2))
    with pytest.raises(CycleTaken):
        journal.begin_cycle(started(1))
    assert [c.seq for c in journal.incomplete_cycles()] == [2]


def test_begin_cycle_refuses_an_order_journalled_by_another_cycle(journal: Journal) -> None:
    journal.begin_cycle(started(1))
    reused = replace(
        started(2), orders=tuple(replace(o, cycle_id="bot-000000002") for o in started(1).orders)
    )
    with pytest.raises(CycleTaken, match="one of its orders exists"):
        journal.begin_cycle(reused)
    assert journal.cycle("bot-000000002") is None


def test_begin_cycle_refuses_an_order_of_another_cycle(journal: Journal) -> None:
    cycle = replace(started(1), orders=(order("bot-000000099"),))
    with pytest.raises(JournalError, match="belongs to cycle bot-000000099"):
        journal.begin_cycle(cycle)
    assert journal.cycle(cycle.cycle_id) is None


def test_update_orders_updates_by_client_order_id_and_keeps_creation_time(journal: Journal) -> None:
    cycle = started(1)
    journal.begin_cycle(cycle)
    later = T0 + timedelta(seconds=2)
    power = replace(
        cycle.orders[0],
        status=OrderStatus.PARTIALLY_FILLED,
        filled_mwh=D("4.2"),
        avg_price_gbp=D("-3.30"),
        venue_order_id="pl-77",
        updated_at=later,
        created_at=later,
    )
    unwind = order(
        cycle.cycle_id,
        "power",
        client_order_id=f"{cycle.cycle_id}-power-unwind",
        side=Side.SELL,
        purpose="unwind",
        at=later,
    )
    journal.update_orders([power, unwind])
    stored = {o.client_order_id: o for o in journal.cycle(cycle.cycle_id).orders}  # type: ignore[union-attr]
    assert stored[power.client_order_id] == replace(power, created_at=T0)
    assert stored[unwind.client_order_id] == unwind
    assert len(stored) == 3


def test_update_orders_of_an_unknown_cycle_is_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="update_orders failed"):
        journal.update_orders([order("bot-000000404")])
    assert journal.open_orders() == []


def test_finish_cycle_records_status_orders_trade_and_the_day(journal: Journal) -> None:
    cycle = started(1)
    journal.begin_cycle(cycle)
    done = traded(cycle, D("788.40"))
    journal.finish_cycle(done)
    assert journal.cycle(cycle.cycle_id) == as_stored(done)
    assert journal.trades() == [done.trade]
    assert journal.daily_pnl(DAY) == DailyPnl(DAY, D("788.40"), D(0), trades=1, unwound=0)
    assert journal.open_orders() == []
    assert journal.incomplete_cycles() == []


def test_finish_cycle_twice_leaves_the_same_state(journal: Journal) -> None:
    cycle = started(1)
    journal.begin_cycle(cycle)
    journal.finish_cycle(unwound(cycle, D("-2.15")))
    journal.finish_cycle(unwound(cycle, D("-2.15")))
    assert journal.daily_pnl(DAY) == DailyPnl(DAY, D("-2.15"), D("2.15"), trades=0, unwound=1)
    assert journal.cycle(cycle.cycle_id) == as_stored(unwound(cycle, D("-2.15")))


def test_finishing_a_cycle_again_with_new_figures_moves_the_day_by_the_difference(journal: Journal) -> None:
    # given a cycle first recorded as traded with a profit
    cycle = started(1)
    journal.begin_cycle(cycle)
    journal.finish_cycle(traded(cycle, D("50")))
    # when it is corrected to an unwind with a loss on the next UTC day
    corrected = unwound(cycle, D("-7.5"), at=T0 + timedelta(days=1))
    journal.finish_cycle(corrected)
    # then the first day no longer counts it, the second day does, and its trade is gone
    assert journal.daily_pnl(DAY) == DailyPnl(DAY, D(0), D(0), trades=0, unwound=0)
    assert journal.daily_pnl(DAY + timedelta(days=1)) == DailyPnl(
        DAY + timedelta(days=1), D("-7.5"), D("7.5"), trades=0, unwound=1
    )
    assert journal.count_trades() == 0
    assert journal.cycle(cycle.cycle_id) == as_stored(corrected)


def test_finish_cycle_without_begin_still_records_the_cycle(journal: Journal) -> None:
    done = traded(started(1), D("3"))
    journal.finish_cycle(done)
    assert journal.cycle(done.cycle_id) == as_stored(done)
    assert journal.daily_pnl(DAY).realised_gbp == D("3")


def test_finish_cycle_refuses_a_started_status(journal: Journal) -> None:
    with pytest.raises(JournalError, match="must be final"):
        journal.finish_cycle(replace(started(1), finished_at=T0))


def test_finish_cycle_refuses_a_missing_finish_time(journal: Journal) -> None:
    with pytest.raises(JournalError, match="finished_at is required"):
        journal.finish_cycle(replace(traded(started(1), D(1)), finished_at=None))


def test_finish_cycle_refuses_a_trade_of_another_cycle(journal: Journal) -> None:
    done = traded(started(1), D(1))
    wrong = replace(done, trade=replace(done.trade, cycle_id="bot-000000002"))  # type: ignore[type-var]
    with pytest.raises(JournalError, match="belongs to bot-000000002"):
        journal.finish_cycle(wrong)


# --------------------------------------------------------------------------------------------
# Daily PnL and loss


def test_daily_pnl_sums_net_and_losses_of_the_cycles_finished_that_utc_day(journal: Journal) -> None:
    nets = [D("12.30"), D("-4.10"), D("0"), D("-0.05"), D("7")]
    for seq, net in enumerate(nets, start=1):
        cycle = started(seq)
        journal.begin_cycle(cycle)
        journal.finish_cycle(traded(cycle, net) if net >= 0 else unwound(cycle, net))
    assert journal.daily_pnl(DAY) == DailyPnl(DAY, D("15.15"), D("4.15"), trades=3, unwound=2)


def test_the_utc_day_of_a_cycle_is_its_finish_instant_in_utc(journal: Journal) -> None:
    # 01:30 in Paris on 3 June is 23:30 UTC on 2 June
    paris = timezone(timedelta(hours=2))
    finish = datetime(2025, 6, 3, 1, 30, tzinfo=paris)
    cycle = started(1, at=finish - timedelta(seconds=1))
    journal.begin_cycle(cycle)
    journal.finish_cycle(traded(cycle, D("5"), at=finish))
    assert journal.daily_pnl(date(2025, 6, 2)).realised_gbp == D("5")
    assert journal.daily_pnl(date(2025, 6, 3)).realised_gbp == D("0")


def test_daily_pnl_of_a_quiet_day_is_zero(journal: Journal) -> None:
    assert journal.daily_pnl(DAY) == DailyPnl(DAY, D(0), D(0), trades=0, unwound=0)


def test_pnl_history_has_one_entry_per_day_inclusive_with_quiet_days_at_zero(journal: Journal) -> None:
    for seq, (offset, net) in enumerate([(0, D("1")), (2, D("-2"))], start=1):
        cycle = started(seq, at=T0 + timedelta(days=offset))
        journal.finish_cycle(traded(cycle, net) if net > 0 else unwound(cycle, net))
    history = journal.pnl_history(DAY, DAY + timedelta(days=3))
    assert [(h.day, h.realised_gbp, h.loss_gbp) for h in history] == [
        (DAY, D("1"), D("0")),
        (DAY + timedelta(days=1), D("0"), D("0")),
        (DAY + timedelta(days=2), D("-2"), D("2")),
        (DAY + timedelta(days=3), D("0"), D("0")),
    ]


# --------------------------------------------------------------------------------------------
# Reads


def test_next_cycle_seq_starts_at_one_and_follows_the_highest_sequence(journal: Journal) -> None:
    assert journal.next_cycle_seq() == 1
    journal.begin_cycle(started(7))
    journal.finish_cycle(traded(started(3), D("1")))
    assert journal.next_cycle_seq() == 8


def test_incomplete_cycles_lists_only_started_cycles_oldest_first(journal: Journal) -> None:
    for seq in (1, 2, 3):
        journal.begin_cycle(started(seq))
    journal.finish_cycle(traded(started(2), D("1")))
    assert [c.seq for c in journal.incomplete_cycles()] == [1, 3]
    assert all(len(c.orders) == 2 and c.trade is None for c in journal.incomplete_cycles())


def test_open_orders_lists_only_orders_that_are_not_final(journal: Journal) -> None:
    cycle = started(1)
    journal.begin_cycle(cycle)
    power, futures = cycle.orders
    journal.update_orders(
        [replace(power, status=OrderStatus.FILLED), replace(futures, status=OrderStatus.OPEN)]
    )
    assert [(o.client_order_id, o.status) for o in journal.open_orders()] == [
        (futures.client_order_id, OrderStatus.OPEN)
    ]


def test_cycle_of_an_unknown_id_is_none(journal: Journal) -> None:
    assert journal.cycle("bot-000000404") is None


def test_trades_come_newest_first_paged_and_bounded_by_execution_time(journal: Journal) -> None:
    for seq in range(1, 6):
        cycle = started(seq, at=T0 + timedelta(minutes=seq))
        journal.finish_cycle(traded(cycle, D(seq)))
    assert [t.net_gbp for t in journal.trades()] == [D(5), D(4), D(3), D(2), D(1)]
    assert [t.net_gbp for t in journal.trades(limit=2, offset=1)] == [D(4), D(3)]
    since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=4)  # [since, until)
    assert [t.net_gbp for t in journal.trades(since=since, until=until)] == [D(3), D(2)]
    assert [t.net_gbp for t in journal.trades(since=T0 + timedelta(minutes=4, seconds=1))] == [D(5)]
    assert [t.net_gbp for t in journal.trades(until=T0 + timedelta(minutes=2))] == [D(1)]
    assert journal.count_trades() == 5
    assert journal.count_trades(since=since, until=until) == 2


def test_paging_arguments_must_be_non_negative_integers(journal: Journal) -> None:
    with pytest.raises(JournalError, match="limit"):
        journal.trades(limit=-1)
    with pytest.raises(JournalError, match="offset"):
        journal.audit_log(offset=-5)


# --------------------------------------------------------------------------------------------
# Skipped cycles and audit


def test_count_skipped_adds_up_in_one_row_per_day_outcome_and_reason(
    journal: Journal, journal_url: str
) -> None:
    for _ in range(250):
        journal.count_skipped(DAY, "blocked", "outside_window")
    journal.count_skipped(DAY, "blocked", "outside_window", 50)
    journal.count_skipped(DAY, "no_trade", "spread_below_costs", 3)
    journal.count_skipped(DAY + timedelta(days=1), "blocked", "weekend")
    assert journal.skipped_counts(DAY) == {
        ("blocked", "outside_window"): 300,
        ("no_trade", "spread_below_costs"): 3,
    }
    assert journal.skipped_counts(DAY + timedelta(days=1)) == {("blocked", "weekend"): 1}
    assert journal.skipped_counts(DAY - timedelta(days=1)) == {}
    assert table_rows(journal_url, schema.cycle_counts) == 3


def test_count_skipped_refuses_a_count_below_one(journal: Journal) -> None:
    with pytest.raises(JournalError, match="positive integer"):
        journal.count_skipped(DAY, "blocked", "weekend", 0)


def test_audit_lines_round_trip_newest_first(journal: Journal) -> None:
    entries = [audit(n, T0 + timedelta(seconds=n)) for n in range(5)]
    for entry in entries:
        journal.record_audit(entry)
    assert journal.audit_log() == entries[::-1]
    assert journal.audit_log(limit=2, offset=1) == [entries[3], entries[2]]


# --------------------------------------------------------------------------------------------
# Exact money, aware UTC


@pytest.mark.parametrize(
    "price",
    [
        D("-3.25"),
        D("0"),
        D("-0"),
        D("-0.00000001"),
        D("0.00000001"),
        D("9999999999.99999999"),
        D("-9999999999.99999999"),
        D("123.456"),
    ],
)
def test_money_comes_back_as_the_exact_decimal(journal: Journal, price: Decimal) -> None:
    cycle = replace(started(1), power_ask_gbp=price, spread_gbp=price)
    journal.begin_cycle(cycle)
    stored = journal.cycle(cycle.cycle_id)
    assert stored is not None
    assert type(stored.power_ask_gbp) is Decimal
    assert stored.power_ask_gbp == price


def test_money_with_more_than_eight_decimals_rounds_half_away_from_zero(journal: Journal) -> None:
    cycle = replace(started(1), power_ask_gbp=D("-0.000000005"), futures_bid_gbp=D("1.234567894999"))
    journal.begin_cycle(cycle)
    stored = journal.cycle(cycle.cycle_id)
    assert stored is not None
    assert (stored.power_ask_gbp, stored.futures_bid_gbp) == (D("-0.00000001"), D("1.23456789"))


def test_a_float_amount_is_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="power_ask_gbp: money must be a Decimal, got float"):
        journal.begin_cycle(replace(started(1), power_ask_gbp=61.4))  # type: ignore[arg-type]
    assert journal.cycle("bot-000000001") is None


def test_an_amount_out_of_range_is_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="10\\^10"):
        journal.begin_cycle(replace(started(1), planned_mwh=D("1e10")))


def test_timestamps_come_back_aware_in_utc(journal: Journal) -> None:
    tokyo = timezone(timedelta(hours=9))
    local = datetime(2025, 6, 2, 18, 30, 0, 123456, tzinfo=tokyo)
    journal.begin_cycle(started(1, at=local))
    stored = journal.cycle("bot-000000001")
    assert stored is not None
    assert stored.started_at == local
    assert stored.started_at.utcoffset() == timedelta(0)
    assert stored.started_at.isoformat() == "2025-06-02T09:30:00.123456+00:00"


def test_a_naive_timestamp_is_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="timezone-aware"):
        journal.begin_cycle(started(1, at=datetime(2025, 6, 2, 9, 30)))


def test_the_schema_types_give_decimal_and_aware_utc_to_core_queries(
    journal: Journal, journal_url: str
) -> None:
    journal.finish_cycle(traded(started(1), D("-0.5")))
    engine = sa.create_engine(journal_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(schema.trades.c.net_gbp, schema.trades.c.executed_at)).one()
    finally:
        engine.dispose()
    assert (type(row.net_gbp), row.net_gbp) == (Decimal, D("-0.5"))
    assert row.executed_at == T0 + timedelta(milliseconds=40)
    assert row.executed_at.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------------------------
# Restart and concurrency


def test_a_reopened_journal_keeps_cycles_sequence_and_daily_loss(journal_url: str) -> None:
    # given a journal with a started cycle and a losing one, closed as on shutdown or crash
    first = Journal.open(journal_url)
    first.begin_cycle(started(1))
    first.finish_cycle(unwound(started(2), D("-42.42")))
    first.close()
    # when it is opened again
    again = Journal.open(journal_url)
    try:
        # then nothing was forgotten
        assert again.next_cycle_seq() == 3
        assert again.daily_pnl(DAY).loss_gbp == D("42.42")
        assert [c.cycle_id for c in again.incomplete_cycles()] == ["bot-000000001"]
        assert again.cycle("bot-000000002") == as_stored(unwound(started(2), D("-42.42")))
    finally:
        again.close()


def test_threads_sharing_a_journal_lose_no_write(journal: Journal) -> None:
    def work() -> None:
        for _ in range(25):
            journal.count_skipped(DAY, "blocked", "stale_quote")
            journal.daily_pnl(DAY)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert journal.skipped_counts(DAY) == {("blocked", "stale_quote"): 100}


def test_the_api_process_reads_while_the_orchestrator_holds_the_write_lock(tmp_path: Path) -> None:
    # given two journals on one SQLite file (orchestrator and API) and an open write transaction
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    orchestrator, api = Journal.open(url), Journal.open(url, migrate=False)
    orchestrator.finish_cycle(traded(started(1), D("9")))
    holder = sqlite3.connect(tmp_path / "journal.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("DELETE FROM daily_pnl")  # uncommitted
    try:
        # when the API reads, and writes an audit line that must wait for the lock
        assert api.daily_pnl(DAY).realised_gbp == D("9")  # readers never wait in WAL mode
        releaser = threading.Timer(0.3, holder.execute, args=("ROLLBACK",))
        releaser.start()
        began = time.monotonic()
        api.record_audit(audit(1, T0))
        waited = time.monotonic() - began
        releaser.join()
        # then the write waited for the lock instead of failing
        assert waited >= 0.2
        assert len(orchestrator.audit_log()) == 1
    finally:
        holder.close()
        orchestrator.close()
        api.close()


# --------------------------------------------------------------------------------------------
# Errors never carry the password


def _full_text(exc: BaseException) -> str:
    """What a log line with exc_info would show of the error chain (messages, not source lines)."""
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [*traceback.format_exception_only(seen), repr(seen)]
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return "".join(parts)


def test_an_invalid_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(JournalError) as caught:
        Journal.open("postgresql+psycopg://bot:Hunter2-secret@[::1")
    assert "Hunter2-secret" not in _full_text(caught.value)
    assert "postgresql+psycopg://user@host" in str(caught.value)


def test_an_unsupported_database_is_refused_with_the_supported_ones() -> None:
    with pytest.raises(JournalError, match=r"use sqlite:///.* or postgresql\+psycopg://"):
        Journal.open("mysql://bot:pw@localhost/journal")


@pytest.mark.postgres
def test_a_wrong_password_error_never_contains_the_password(postgres_server: PostgresServer) -> None:
    user = postgres_server.create_password_role("the-right-one")
    secret = "Wr0ng-S3cret/with:chars"
    url = postgres_server.url("postgres", user=user, password=secret)
    with pytest.raises(JournalError) as caught:
        Journal.open(url)
    text = _full_text(caught.value)
    assert secret not in text
    assert "password authentication failed" in text
    assert f"postgresql+psycopg://{user}:***@127.0.0.1:{postgres_server.port}/postgres" in text


@pytest.mark.postgres
def test_a_closed_port_error_never_contains_the_password(postgres_server: PostgresServer) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    secret = "N0body-Listens"
    with pytest.raises(JournalError) as caught:
        Journal.open(f"postgresql+psycopg://bot:{secret}@127.0.0.1:{closed_port}/journal")
    text = _full_text(caught.value)
    assert secret not in text
    assert "refused" in text.lower()


@pytest.mark.postgres
def test_a_database_restart_does_not_fail_the_next_call(
    postgres_server: PostgresServer, fresh_postgres_url: str
) -> None:
    # given a journal whose pooled connections are all open
    journal = Journal.open(fresh_postgres_url)
    try:
        journal.begin_cycle(started(1))
        # when the server drops every session (restart, failover)
        postgres_server.disconnect_clients(SCRATCH_DATABASE)
        # then the next cycle's write goes through on a fresh connection
        journal.finish_cycle(traded(started(1), D("2")))
        assert journal.daily_pnl(DAY).realised_gbp == D("2")
    finally:
        journal.close()


@pytest.mark.postgres
def test_a_plain_postgresql_url_uses_psycopg(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("plain_scheme")
    try:
        journal = Journal.open(url.replace("postgresql+psycopg://", "postgresql://"))
        try:
            assert journal.current_revision() == head_revision()
            assert journal.redacted_url.startswith("postgresql+psycopg://")
        finally:
            journal.close()
    finally:
        postgres_server.drop_database("plain_scheme")


# --------------------------------------------------------------------------------------------
# SQLite housekeeping


def test_the_wal_is_copied_into_the_database_file_in_the_background(tmp_path: Path) -> None:
    # given a journal whose writes so far live in the WAL
    path = tmp_path / "journal.db"
    journal = Journal.open(f"sqlite:///{path}")
    try:
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size_before = path.stat().st_size
        # when cycles are journalled (far below SQLite's own checkpoint threshold)
        for seq in range(1, 41):
            journal.finish_cycle(traded(started(seq), D(seq)))
        # then within a few seconds the database file itself holds them
        deadline = time.monotonic() + 10
        while path.stat().st_size == size_before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.stat().st_size > size_before
    finally:
        journal.close()


def test_closing_the_journal_stops_its_background_thread(tmp_path: Path) -> None:
    def checkpoint_threads() -> int:
        return sum(t.name == "journal-checkpoint" for t in threading.enumerate())

    before = checkpoint_threads()
    journal = Journal.open(f"sqlite:///{tmp_path / 'journal.db'}")
    assert checkpoint_threads() == before + 1
    journal.close()
    assert checkpoint_threads() == before


def test_an_in_memory_journal_keeps_its_data_between_calls() -> None:
    journal = Journal.open("sqlite://")
    try:
        journal.begin_cycle(started(1))
        assert journal.next_cycle_seq() == 2
        assert [c.cycle_id for c in journal.incomplete_cycles()] == ["bot-000000001"]
    finally:
        journal.close()
