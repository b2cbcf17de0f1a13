"""Money and time as the journal stores them: the one encoding every engine, query and test uses.

Money is exact: a fixed-point value with 8 decimal places (at most 10 digits before the point).
PostgreSQL stores it as NUMERIC(18, 8); SQLite, which has no exact decimal type, stores the same
value as an integer count of 10^-8 GBP (so `SUM()` in SQL stays exact). Both engines hand back a
`Decimal` with 8 decimal places. Binary floats are refused.

Timestamps are timezone-aware UTC: PostgreSQL stores TIMESTAMP WITH TIME ZONE; SQLite stores
fixed-width ISO 8601 text with the `+00:00` offset (it sorts chronologically). Naive datetimes
are refused.

`Money` and `UtcDateTime` are the column types of `schema`; SQLAlchemy Core queries convert through
them, and so does the journal's compiled fast path (`statements`), which asks these types for
their bind and result processors instead of converting values itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

MONEY_SCALE = 8
MONEY_PRECISION = 18
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
MONEY_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)  # exclusive bound on the magnitude
ZERO_MONEY = Decimal(0).quantize(MONEY_QUANTUM)  # what zero money reads back as
# Explicit context: the caller's thread context (precision, traps) must not change what is stored.
_MONEY_CONTEXT = Context(prec=40, rounding=ROUND_HALF_UP, traps=[InvalidOperation])


def exact_money(value: Decimal | int) -> Decimal:
    """The value as stored: 8 decimal places, rounded half away from zero as PostgreSQL rounds.

    Raises TypeError for floats (never exact) and ValueError for NaN, infinities and values whose
    magnitude reaches 10^10.
    """
    if type(value) is not Decimal:
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"money must be a Decimal, got {type(value).__name__}")
        value = Decimal(value)
    try:
        exact = value.quantize(MONEY_QUANTUM, context=_MONEY_CONTEXT)
        if -MONEY_LIMIT < exact < MONEY_LIMIT:
            return exact if exact else ZERO_MONEY  # no negative zero
    except InvalidOperation:
        pass
    raise ValueError(f"money must be a finite number with |value| < 10^10 GBP, got {value}")


def money_to_minor(value: Decimal | int) -> int:
    """Money as an integer count of 10^-8 GBP (the SQLite storage form)."""
    return int(exact_money(value).scaleb(MONEY_SCALE))


def money_from_minor(value: int) -> Decimal:
    """Inverse of `money_to_minor`: a Decimal with 8 decimal places."""
    return Decimal(value).scaleb(-MONEY_SCALE)


def aware_utc(value: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused (their zone is a guess)."""
    if not isinstance(value, datetime):
        raise TypeError(f"timestamp must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def utc_to_text(value: datetime) -> str:
    """Fixed-width ISO 8601 with microseconds and `+00:00` (the SQLite storage form)."""
    return aware_utc(value).isoformat(timespec="microseconds")


def utc_from_text(value: str) -> datetime:
    """Inverse of `utc_to_text`: an aware UTC datetime."""
    return datetime.fromisoformat(value).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DriverForm:
    """How one engine's driver takes and gives back a value (None is passed through by callers)."""

    to_driver: Callable[[Any], Any]
    from_driver: Callable[[Any], Any]


_MONEY_FORMS = {"sqlite": DriverForm(money_to_minor, money_from_minor)}
_NATIVE_MONEY = DriverForm(exact_money, exact_money)  # NUMERIC(18, 8): the driver speaks Decimal
_TIME_FORMS = {"sqlite": DriverForm(utc_to_text, utc_from_text)}
_NATIVE_TIME = DriverForm(aware_utc, aware_utc)  # TIMESTAMPTZ: the driver speaks aware datetimes


class EngineFormType(TypeDecorator[T], ABC):
    """A column type stored differently per engine, always the same Python value.

    `driver_form(dialect)` is the one place its conversions are chosen: SQLAlchemy's processing
    (Core queries) calls it through `process_bind_param` and `process_result_value`, and the
    journal's compiled statements call it directly, once per statement.
    """

    cache_ok = True

    @abstractmethod
    def driver_form(self, dialect: Dialect) -> DriverForm:
        """The conversions to and from the driver of `dialect` (each column type says its own)."""

    def process_bind_param(self, value: T | None, dialect: Dialect) -> Any:
        """The value in its storage form; TypeError or ValueError when it cannot be stored exactly."""
        return None if value is None else self.driver_form(dialect).to_driver(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> T | None:
        """The Python value of a stored one."""
        return None if value is None else self.driver_form(dialect).from_driver(value)


class Money(EngineFormType[Decimal]):
    """Exact money: NUMERIC(18, 8) on PostgreSQL, integer 10^-8 units on SQLite; always Decimal."""

    impl = sa.Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """The column type each engine stores: BIGINT on SQLite, NUMERIC(18, 8) elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def driver_form(self, dialect: Dialect) -> DriverForm:
        """Integer 10^-8 GBP on SQLite, Decimal elsewhere; both refuse floats."""
        return _MONEY_FORMS.get(dialect.name, _NATIVE_MONEY)


class UtcDateTime(EngineFormType[datetime]):
    """Aware UTC timestamps: TIMESTAMPTZ on PostgreSQL, ISO 8601 text on SQLite; naive refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """The column type each engine stores: text on SQLite, TIMESTAMPTZ elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def driver_form(self, dialect: Dialect) -> DriverForm:
        """Fixed-width ISO 8601 text on SQLite, aware datetimes elsewhere; both refuse naive ones."""
        return _TIME_FORMS.get(dialect.name, _NATIVE_TIME)


def utc_day(value: datetime) -> date:
    """The UTC calendar day of an instant (the unit of daily PnL and the loss limit)."""
    return aware_utc(value).date()
