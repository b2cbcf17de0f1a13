"""Every statement the journal runs, compiled once per engine: parameters in, rows by name out.

Hot path. SQLAlchemy Core builds and compiles every statement once, when the journal opens; each
call then runs the compiled SQL on the pooled driver connection, which skips SQLAlchemy's
per-execution work (about ten times the cost of the statement itself on SQLite). What that work
would have done to values is kept: each parameter and each result value goes through its column
type's conversion, the very one SQLAlchemy Core queries use (`encoding.EngineFormType.driver_form`
for money and time, SQLAlchemy's own processors for the other types), so there is one encoding.
Each conversion is looked up once per statement, not per value. Rows come back keyed by name.

Scoped by bot: every statement writes and reads the rows of the one bot the journal was opened
for. Its `bot` parameter is fixed when the statement is compiled (already in storage form), so no
caller passes it and no statement can forget it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.compiler import SQLCompiler

from bot.journal import schema
from bot.journal.encoding import EngineFormType
from bot.journal.errors import JournalError
from bot.journal.records import CycleStatus

Convert = Callable[[Any], Any]
Row = dict[str, Any]

# The same figures recur cycle after cycle (quantities, fees, zero) and a cycle stamps several
# columns with the same instant: each is converted once. Only these exact classes are kept, so
# a float or int equal to a cached Decimal (1.5 == Decimal("1.5")) is still converted (refused).
_CACHED_CLASSES = frozenset({Decimal, datetime})
CONVERSION_CACHE_SIZE = 4096
_ASKED = object()  # a parameter each call supplies (the others are fixed at compile time)


class Statement:
    """One statement compiled for one engine: its SQL, its parameters and its result columns."""

    __slots__ = ("_bind_names", "_binds", "_columns", "_decoding", "_dialect", "_positional", "text")

    def __init__(
        self,
        text: str,
        binds: Sequence[tuple[str, Convert | None, Any]],
        *,
        positional: bool,
        columns: Sequence[tuple[str, sa.types.TypeEngine[Any]]],
        dialect: sa.Dialect,
    ) -> None:
        """Use `Statements`: it compiles the SQL and finds each parameter's conversion."""
        self.text = text
        self._binds = tuple(binds)  # (name, conversion, fixed value or _ASKED), in placeholder order
        self._bind_names = tuple(name for name, _, _ in binds)
        self._positional = positional
        self._columns = tuple(columns)
        self._dialect = dialect
        self._decoding: tuple[tuple[str, Convert | None], ...] | None = None  # known after the first fetch

    def params(self, values: Mapping[str, Any]) -> Any:
        """`values` (Python values by parameter name) as the driver takes them.

        Each value is in its storage form, and the whole is a tuple in placeholder order for a
        positional driver (sqlite3) or a mapping for a named one (psycopg).
        """
        stored = []
        for name, convert, fixed in self._binds:
            if fixed is not _ASKED:
                stored.append(fixed)
                continue
            value = values[name]
            stored.append(value if convert is None or value is None else convert(value))
        if self._positional:
            return tuple(stored)
        return dict(zip(self._bind_names, stored, strict=True))

    def rows(self, cursor: Any) -> list[Row]:
        """The rows this statement just produced on `cursor`, keyed by column name."""
        decoding = self._decoding
        if decoding is None:
            decoding = self._decoding = self._result_conversions(cursor.description)
        # strict=False: the column count was checked once, when the conversions were chosen.
        return [
            {
                name: v if decode is None or v is None else decode(v)
                for (name, decode), v in zip(decoding, raw, strict=False)
            }
            for raw in cursor.fetchall()
        ]

    def _result_conversions(self, description: Sequence[Any]) -> tuple[tuple[str, Convert | None], ...]:
        if len(description) != len(self._columns):
            names = [name for name, _ in self._columns]
            raise JournalError(f"expected columns {names}, the database returned {len(description)}")
        return tuple(
            (name, _from_driver(column_type, self._dialect, driver_column[1]))
            for (name, column_type), driver_column in zip(self._columns, description, strict=True)
        )


def _to_driver(column_type: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> Convert | None:
    """The column type's own conversion of a parameter (None: the driver takes the value as is)."""
    if isinstance(column_type, EngineFormType):
        return column_type.driver_form(dialect).to_driver  # money and time: without the wrapping
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _from_driver(
    column_type: sa.types.TypeEngine[Any], dialect: sa.Dialect, type_code: Any
) -> Convert | None:
    """The column type's own conversion of a result value (None: the driver's value is final).

    As in SQLAlchemy, a processor may depend on the driver's type code (PostgreSQL NUMERIC).
    """
    if isinstance(column_type, EngineFormType):
        return column_type.driver_form(dialect).from_driver
    return column_type.dialect_impl(dialect).result_processor(dialect, type_code)


class _Compiler:
    """Compiles statements for one dialect; parameters of one column type share a conversion cache.

    Parameters named in `fixed` take that value in every call (converted once, here).
    """

    def __init__(self, dialect: sa.Dialect, fixed: Mapping[str, Any]) -> None:
        self.dialect = dialect
        self._fixed = dict(fixed)
        self._caches: dict[type[Any], dict[Any, Any]] = {}

    def __call__(
        self, stmt: sa.ClauseElement, keys: Sequence[str] | None = None, *, literal: bool = False
    ) -> Statement:
        """Compile `stmt` once; `literal` inlines constant values (where the statement has no input)."""
        compiled = stmt.compile(
            dialect=self.dialect,
            column_keys=list(keys) if keys is not None else None,
            compile_kwargs={"literal_binds": True} if literal else {},
        )
        assert isinstance(compiled, SQLCompiler)
        names = compiled.positiontup if compiled.positional else compiled.bind_names.values()
        binds = [self._bind(name, compiled.binds[name]) for name in names or ()]
        columns = [_named(c) for c in stmt.selected_columns] if isinstance(stmt, sa.Select) else []
        return Statement(
            compiled.string, binds, positional=compiled.positional, columns=columns, dialect=self.dialect
        )

    def _bind(self, name: str, bind: sa.BindParameter[Any]) -> tuple[str, Convert | None, Any]:
        column_type = bind.type
        convert = self._converter(name, column_type)
        if name in self._fixed:
            value = self._fixed[name]
        elif bind.value is not None and not bind.required:
            value = bind.value  # a constant of the statement (sa.literal)
        else:
            return name, convert, _ASKED
        return name, None, value if convert is None or value is None else convert(value)

    def _converter(self, name: str, column_type: sa.types.TypeEngine[Any]) -> Convert | None:
        process = _to_driver(column_type, self.dialect)
        if process is None:
            return None
        cache = self._caches.setdefault(type(column_type), {})

        def convert(value: Any) -> Any:
            cached = value.__class__ in _CACHED_CLASSES
            if cached:
                hit = cache.get(value)
                if hit is not None:
                    return hit
            try:
                stored = process(value)
            except (TypeError, ValueError) as exc:
                raise JournalError(f"{name}: {exc}") from None
            if cached:
                if len(cache) >= CONVERSION_CACHE_SIZE:
                    cache.clear()
                cache[value] = stored
            return stored

        return convert


def _named(column: sa.ColumnElement[Any]) -> tuple[str, sa.types.TypeEngine[Any]]:
    # Rows are read by column name, so every result column needs one (label expressions).
    if not column.key:
        raise TypeError(f"result column {column!r} has no name: label it")
    return column.key, column.type


def _cols(table: sa.Table, *exclude: str) -> list[str]:
    return [c.name for c in table.columns if c.name not in exclude]


class Statements:
    """Every statement the journal runs, compiled for one dialect and one bot."""

    def __init__(self, dialect: sa.Dialect, bot: str) -> None:
        """Compile every statement for `dialect` and `bot` (once per journal, when it opens)."""
        compile_ = _Compiler(dialect, {"bot": bot})
        insert: Callable[[sa.Table], Any] = sqlite.insert if dialect.name == "sqlite" else postgresql.insert
        c, o, t, d, n, a = schema.TABLES
        bp = sa.bindparam

        def upsert(table: sa.Table, key: list[str], keep: Iterable[str]) -> Statement:
            stmt = insert(table)
            kept = {"bot", *key, *keep}
            update = {name: stmt.excluded[name] for name in _cols(table) if name not in kept}
            # a row of another bot is never overwritten (keys embed the bot's name: belt and braces)
            mine = table.c.bot == stmt.excluded.bot
            return compile_(
                stmt.on_conflict_do_update(index_elements=key, set_=update, where=mine), _cols(table)
            )

        def add(table: sa.Table, key: list[str], summed: Iterable[str]) -> Statement:
            stmt = insert(table)
            update = {name: table.c[name] + stmt.excluded[name] for name in summed}
            return compile_(stmt.on_conflict_do_update(index_elements=key, set_=update), _cols(table))

        def insert_new(table: sa.Table, key: list[str]) -> Statement:
            return compile_(insert(table).on_conflict_do_nothing(index_elements=key), _cols(table))

        def paged(stmt: sa.Select[Any]) -> sa.Select[Any]:
            return stmt.limit(bp("limit", type_=sa.Integer)).offset(bp("offset", type_=sa.Integer))

        def of_bot(table: sa.Table) -> sa.ColumnElement[bool]:
            return table.c.bot == bp("bot", type_=sa.String)

        def constant(text: str) -> sa.ColumnElement[Any]:
            # Written into the SQL, so the planner matches the partial indexes' WHERE clauses.
            return sa.literal_column(f"'{text}'")

        # Writes
        self.cycle_new = compile_(sa.insert(c), _cols(c))  # begin_cycle: fails when the cycle exists
        self.cycle_insert = insert_new(c, ["cycle_id"])
        self.cycle_upsert = upsert(c, ["cycle_id"], ["seq", "started_at"])
        prior = sa.select(c.c.status, c.c.realised_gbp, c.c.finished_at).where(
            c.c.cycle_id == bp("cycle_id"), of_bot(c)
        )
        self.cycle_prior = compile_(prior.with_for_update())  # FOR UPDATE on PostgreSQL only
        self.order_new = compile_(sa.insert(o), _cols(o))
        self.order_insert = insert_new(o, ["client_order_id"])
        self.order_upsert = upsert(o, ["client_order_id"], ["cycle_id", "created_at"])
        self.trade_upsert = upsert(t, ["cycle_id"], [])
        self.trade_delete = compile_(sa.delete(t).where(t.c.cycle_id == bp("cycle_id"), of_bot(t)))
        self.daily_add = add(d, ["bot", "day"], ["realised_gbp", "loss_gbp", "trades", "unwound"])
        self.count_add = add(n, ["bot", "day", "outcome", "reason"], ["count"])
        self.audit_insert = compile_(sa.insert(a), _cols(a, "id"))

        # Reads
        self.ping = compile_(sa.select(sa.literal(1).label("ok")), literal=True)
        next_seq = sa.func.coalesce(sa.func.max(c.c.seq), sa.literal(0)) + sa.literal(1)
        self.next_seq = compile_(sa.select(next_seq.label("next_seq")).where(of_bot(c)))
        started = (c.c.status == constant(CycleStatus.STARTED.value), of_bot(c))
        open_status = o.c.status.in_([constant(status) for status in schema.OPEN_ORDER_STATUSES])
        order_age = (o.c.created_at, o.c.client_order_id)
        self.cycles_started = compile_(sa.select(c).where(*started).order_by(c.c.seq))
        self.orders_of_started = compile_(
            sa.select(o).join(c, o.c.cycle_id == c.c.cycle_id).where(*started).order_by(*order_age)
        )
        self.cycle_by_id = compile_(sa.select(c).where(c.c.cycle_id == bp("cycle_id"), of_bot(c)))
        self.orders_by_cycle = compile_(
            sa.select(o).where(o.c.cycle_id == bp("cycle_id"), of_bot(o)).order_by(*order_age)
        )
        self.trade_by_cycle = compile_(sa.select(t).where(t.c.cycle_id == bp("cycle_id"), of_bot(t)))
        self.open_orders = compile_(sa.select(o).where(open_status, of_bot(o)).order_by(*order_age))
        self.daily_one = compile_(sa.select(d).where(d.c.day == bp("day"), of_bot(d)))
        self.daily_range = compile_(
            sa.select(d).where(d.c.day >= bp("since"), d.c.day <= bp("until"), of_bot(d)).order_by(d.c.day)
        )
        self.skipped = compile_(
            sa.select(n.c.outcome, n.c.reason, n.c.count).where(n.c.day == bp("day"), of_bot(n))
        )
        self.audit_page = compile_(
            paged(sa.select(a).where(of_bot(a)).order_by(a.c.at.desc(), a.c.id.desc()))
        )
        # trades and count_trades, one variant per combination of the optional time bounds
        self.trades_page: dict[tuple[bool, bool], Statement] = {}
        self.trades_count: dict[tuple[bool, bool], Statement] = {}
        for has_since in (False, True):
            for has_until in (False, True):
                where = [of_bot(t)]
                if has_since:
                    where.append(t.c.executed_at >= bp("since"))
                if has_until:
                    where.append(t.c.executed_at < bp("until"))
                newest_first = (t.c.executed_at.desc(), t.c.cycle_id.desc())
                page = paged(sa.select(t).where(*where).order_by(*newest_first))
                self.trades_page[(has_since, has_until)] = compile_(page)
                count = sa.select(sa.func.count().label("trades")).select_from(t).where(*where)
                self.trades_count[(has_since, has_until)] = compile_(count)
