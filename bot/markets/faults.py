"""Faults of the simulated venues and loan: parsed from SIM_FAULTS, or forced by tests.

`SIM_FAULTS` holds `name=probability` entries (`futures_reject=0.02,partial_fill=0.05`). Each
chance is rolled on a seeded RNG, so a run is reproducible. Tests and unwind drills force a fault
a number of times instead (`plan.force("futures_reject")`, `venue.faults.force("reject")`,
`loan.faults.force("refuse")`): a forced fault fires on the next matching call, exactly once per
time forced, whatever the probabilities say.

Restart drills go further: `SIM_KILL_AT` (`power-unwind:after`) has the simulated venue SIGKILL
its own process at one order's boundary, so a test can restart the bot and compare what restart
recovery journals with what the venues' ledger says really filled.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Every fault, and what happens when it fires.
FAULTS: dict[str, str] = {
    "power_reject": "the power venue rejects the order",
    "futures_reject": "the futures venue rejects the order",
    "partial_fill": "an order fills half its quantity; the rest is cancelled",
    "order_timeout": "an order stays OPEN and never fills until it is cancelled",
    "loan_refuse": "the lender refuses to draw the loan",
    "repay_fail": "the repayment fails; the loan stays outstanding",
    "settle_refuse": "the lender refuses to settle a hedged cycle; nothing settles and both legs unwind",
    "stale_book": "a book is stamped older than the quote age limit",
}
VENUE_FAULTS = frozenset({"power_reject", "futures_reject", "partial_fill", "order_timeout", "stale_book"})
LOAN_FAULTS = frozenset({"loan_refuse", "repay_fail", "settle_refuse"})

# Short names a venue or the loan accepts for its own faults.
_LEG_ALIASES: dict[str, dict[str, str]] = {
    "power": {
        "reject": "power_reject",
        "partial": "partial_fill",
        "timeout": "order_timeout",
        "stale": "stale_book",
    },
    "futures": {
        "reject": "futures_reject",
        "partial": "partial_fill",
        "timeout": "order_timeout",
        "stale": "stale_book",
    },
    "loan": {"refuse": "loan_refuse", "repay": "repay_fail", "settle": "settle_refuse"},
}
_LEG_ONLY = {"power_reject": "power", "futures_reject": "futures"}


def _unknown(name: str) -> ValueError:
    return ValueError(f"unknown fault {name!r}: use one of {', '.join(FAULTS)}")


def parse_fault_spec(entries: Iterable[str] | str) -> dict[str, float]:
    """`["futures_reject=0.02", "partial_fill=0.05"]` (or the same comma-separated) to a mapping.

    Raises `ValueError` naming the entry on an unknown fault, a missing `=`, a probability that is
    not a number in [0, 1], or a fault given twice.
    """
    items = entries.split(",") if isinstance(entries, str) else list(entries)
    out: dict[str, float] = {}
    for raw in items:
        entry = raw.strip()
        if not entry:
            continue
        name, sep, value = (part.strip() for part in entry.partition("="))
        if not sep:
            raise ValueError(f"SIM_FAULTS entry {entry!r} must be name=probability, e.g. {name}=0.05")
        if name in out:
            raise ValueError(f"SIM_FAULTS names {name} twice: keep one entry")
        out[name] = _checked(name, value, f"SIM_FAULTS entry {entry!r}")
    return out


def _checked(name: str, value: object, where: str) -> float:
    """The probability of fault `name` as a float in [0, 1]; `ValueError` saying `where` otherwise."""
    if name not in FAULTS:
        raise ValueError(f"{where}: {_unknown(name)}")
    try:
        probability = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        probability = math.nan
    if not 0.0 <= probability <= 1.0:  # NaN fails this too
        raise ValueError(f"{where}: probability of {name} must be a number from 0 to 1, got {value!r}")
    return probability


class FaultPlan:
    """Which faults fire: forced ones first (exactly as many times as forced), then by chance."""

    def __init__(
        self,
        probabilities: Mapping[str, float] | None = None,
        *,
        seed: int = 0,
        names: frozenset[str] = frozenset(FAULTS),
    ) -> None:
        """`names` are the faults this plan's owner acts on; forcing any other one is an error."""
        checked = {k: _checked(k, v, "fault plan") for k, v in (probabilities or {}).items()}
        self._names = names
        self._chance = {k: v for k, v in checked.items() if k in names and v > 0}
        self._forced: dict[tuple[str, str | None], int] = {}
        self._rng = random.Random(seed)
        self.fired: dict[str, int] = {}  # how often each fault fired (for tests and logs)

    @classmethod
    def from_setting(
        cls, entries: Iterable[str] | str, *, seed: int, names: frozenset[str] = frozenset(FAULTS)
    ) -> FaultPlan:
        """A plan from the SIM_FAULTS setting (a list or a comma-separated string)."""
        return cls(parse_fault_spec(entries), seed=seed, names=names)

    @property
    def probabilities(self) -> dict[str, float]:
        """The chance of each fault that can fire by chance (forced ones aside)."""
        return dict(self._chance)

    def force(self, name: str, times: int = 1, *, leg: str | None = None) -> None:
        """Make fault `name` fire on the next `times` matching calls (of `leg` only, if given)."""
        if name not in FAULTS:
            raise _unknown(name)
        if name not in self._names:
            owner = "the loan (loan.faults)" if name in LOAN_FAULTS else "the venues (market.faults)"
            raise ValueError(f"fault {name!r} belongs to {owner}, not to this plan")
        if leg is not None and _LEG_ONLY.get(name, leg) != leg:
            raise ValueError(f"fault {name!r} fires on the {_LEG_ONLY[name]} leg only, not on {leg}")
        if not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, got {times!r}")
        key = (name, leg)
        self._forced[key] = self._forced.get(key, 0) + times

    def pending(self, name: str, *, leg: str | None = None) -> int:
        """How many forced firings of `name` (for `leg`, or for any leg) are still to come."""
        return self._forced.get((name, leg), 0)

    def clear(self) -> None:
        """Drop every forced fault still pending (chances stay)."""
        self._forced.clear()

    def drop(self, name: str, *, leg: str | None = None) -> None:
        """Drop the pending forced firings of `name` (those forced for `leg`, or for any leg)."""
        self._forced.pop((name, leg), None)

    def trips(self, name: str, *, leg: str | None = None) -> bool:
        """Whether fault `name` fires now for `leg`; consumes one forced firing when it does."""
        forced = self._forced
        if forced:
            for key in ((name, leg), (name, None)):
                left = forced.get(key, 0)
                if left:
                    if left == 1:
                        del forced[key]
                    else:
                        forced[key] = left - 1
                    self._count(name)
                    return True
        chance = self._chance.get(name)
        if chance is not None and self._rng.random() < chance:
            self._count(name)
            return True
        return False

    def scoped(self, owner: str) -> ScopedFaults:
        """The view one venue (`power`, `futures`) or the loan (`loan`) exposes as `.faults`."""
        return ScopedFaults(self, owner)

    def _count(self, name: str) -> None:
        self.fired[name] = self.fired.get(name, 0) + 1

    def __repr__(self) -> str:
        return f"FaultPlan(chances={self._chance!r}, forced={self._forced!r})"


class ScopedFaults:
    """Faults of one venue or of the loan, by short name: `force("reject")`, `force("refuse")`."""

    def __init__(self, plan: FaultPlan, owner: str) -> None:
        if owner not in _LEG_ALIASES:
            raise ValueError(f"unknown fault owner {owner!r}: use power, futures or loan")
        self.plan = plan
        self.owner = owner

    def resolve(self, name: str) -> str:
        """The full fault name for a short or full name; `ValueError` when it is not this owner's."""
        full = _LEG_ALIASES[self.owner].get(name, name)
        if full not in FAULTS:
            short = ", ".join(_LEG_ALIASES[self.owner])
            raise ValueError(f"unknown fault {name!r} for {self.owner}: use {short} or a full name")
        mine = LOAN_FAULTS if self.owner == "loan" else VENUE_FAULTS
        other_leg = _LEG_ONLY.get(full)
        if full not in mine or (other_leg is not None and other_leg != self.owner):
            raise ValueError(f"fault {full!r} does not apply to the {self.owner} side")
        return full

    def force(self, name: str, times: int = 1) -> None:
        """Make this venue's (or the loan's) fault fire on its next `times` calls."""
        full = self.resolve(name)
        leg = self.owner if self.owner != "loan" and full not in _LEG_ONLY else None
        self.plan.force(full, times, leg=leg)

    def trips(self, name: str) -> bool:
        """Whether this owner's fault `name` fires now."""
        full = self.resolve(name)
        return self.plan.trips(full, leg=self.owner if self.owner != "loan" else None)

    def pending(self, name: str) -> int:
        """How many forced firings of this owner's fault `name` are still to come."""
        full = self.resolve(name)
        leg = self.owner if self.owner != "loan" and full not in _LEG_ONLY else None
        return self.plan.pending(full, leg=leg)

    def clear(self) -> None:
        """Drop the forced faults still pending on this owner's side (chances stay)."""
        for name in LOAN_FAULTS if self.owner == "loan" else VENUE_FAULTS:
            if _LEG_ONLY.get(name, self.owner) != self.owner:
                continue  # the other venue's rejection
            leg = self.owner if self.owner != "loan" and name not in _LEG_ONLY else None
            self.plan.drop(name, leg=leg)


# -- kill drills ---------------------------------------------------------------------------------

KILL_MOMENTS = ("before", "after")


@dataclass(frozen=True)
class KillPoint:
    """Where a restart drill SIGKILLs the process: at one order's boundary (SIM_KILL_AT).

    `order` is a client order id without its cycle (`power-unwind`, `power-unwind-2`,
    `futures-exit`); `moment` is `before` (the bot has journalled the order and calls `place()`;
    the venue has not seen it) or `after` (the venue has executed it and written its ledger; the
    bot has not heard the answer).
    """

    order: str
    moment: str

    def matches(self, client_order_id: str, moment: str) -> bool:
        """Whether this point is order `client_order_id` at `moment`."""
        return moment == self.moment and client_order_id.endswith(f"-{self.order}")


def parse_kill_point(value: str) -> KillPoint | None:
    """`power-unwind:after` to a `KillPoint` (None for an empty value); `ValueError` otherwise."""
    text = value.strip()
    if not text:
        return None
    order, sep, moment = (part.strip() for part in text.rpartition(":"))
    leg, _, purpose = order.partition("-")
    if not sep or moment not in KILL_MOMENTS or leg not in ("power", "futures") or not purpose:
        raise ValueError(
            f"SIM_KILL_AT {text!r} must be <leg>-<purpose>[-<attempt>]:<before|after>, "
            "e.g. power-unwind:after or futures-exit:before"
        )
    return KillPoint(order, moment)
