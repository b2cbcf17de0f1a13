"""Events on an ArbitrageBot: which transitions deserve one, and a repeat counted instead of posted.

The recorder runs against kmock over loopback (real HTTP, the Events API's own count field).
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import kopf

from arbitrage_operator.events import Announcement, EventRecorder, ObjectRef, Posted, next_write
from arbitrage_operator.kube import KubeApi
from arbitrage_operator.story import EVENT_REASONS, announcements
from tests.fixtures.kube import KubeEmulator

NOON = datetime.datetime(2026, 3, 4, 12, 0, tzinfo=datetime.UTC)
BOT = ObjectRef("arbitrage.flashgreen.dev/v1alpha1", "ArbitrageBot", "desk-e", "alpha", "uid-1")
PAUSED = Announcement("Paused", "spec.paused is true.")


def conditions(**statuses: tuple[str, str]) -> dict[str, Any]:
    """A status with conditions given as type=(status, reason)."""
    return {
        "conditions": [
            {"type": t, "status": s, "reason": r, "message": f"{t} {r}"} for t, (s, r) in statuses.items()
        ]
    }


def reasons(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    return [a.reason for a in announcements(old, new)]


# -- the dedupe decision (pure) --------------------------------------------------------------


def test_a_first_announcement_is_a_new_event_counted_once() -> None:
    write = next_write(None, BOT, PAUSED, now=NOON, new_name="alpha.1")
    assert write.verb == "create"
    assert write.body["count"] == 1
    assert write.body["involvedObject"] == {
        "apiVersion": "arbitrage.flashgreen.dev/v1alpha1",
        "kind": "ArbitrageBot",
        "namespace": "desk-e",
        "name": "alpha",
        "uid": "uid-1",
    }
    assert write.body["firstTimestamp"] == write.body["lastTimestamp"] == "2026-03-04T12:00:00Z"


def test_the_same_reason_within_a_minute_counts_on_the_same_event() -> None:
    # given an Event posted 59 s ago
    previous = Posted("alpha.1", 1, NOON, NOON)
    # when the same reason comes again
    write = next_write(previous, BOT, PAUSED, now=NOON + datetime.timedelta(seconds=59), new_name="alpha.2")
    # then the existing Event is counted, not a new one posted
    assert (write.verb, write.event_name) == ("count", "alpha.1")
    assert write.body == {"count": 2, "lastTimestamp": "2026-03-04T12:00:59Z", "message": PAUSED.message}


def test_the_same_reason_after_a_quiet_minute_is_a_new_event() -> None:
    previous = Posted("alpha.1", 3, NOON, NOON)
    write = next_write(previous, BOT, PAUSED, now=NOON + datetime.timedelta(seconds=61), new_name="alpha.2")
    assert (write.verb, write.event_name, write.body["count"]) == ("create", "alpha.2", 1)


def test_a_long_message_is_cut_to_what_the_api_server_takes() -> None:
    write = next_write(None, BOT, Announcement("ConfigInvalid", "x" * 5000), now=NOON, new_name="a.1")
    assert len(write.body["message"]) == 1024


# -- the recorder against the emulator -------------------------------------------------------


def test_a_repeated_reason_is_one_event_with_a_count(kube: KubeEmulator) -> None:
    # given the recorder on a real HTTP connection to the emulator
    async def announce_three_times() -> None:
        api = KubeApi()
        api.use(kopf.ConnectionInfo(server=kube.url))
        recorder = EventRecorder(api)
        try:
            for second in (0, 10, 20):
                await recorder.announce(BOT, [PAUSED], now=NOON + datetime.timedelta(seconds=second))
            await recorder.announce(
                BOT, [Announcement("Resumed", "go")], now=NOON + datetime.timedelta(seconds=21)
            )
        finally:
            await api.close()

    # when a pause is announced three times within a minute, then a resume
    asyncio.run(announce_three_times())
    # then there are two Events: the pause counted three times, the resume once
    events = {e["reason"]: e for e in kube.list("v1/events", "desk-e")}
    assert set(events) == {"Paused", "Resumed"}
    assert (events["Paused"]["count"], events["Paused"]["lastTimestamp"]) == (3, "2026-03-04T12:00:20Z")
    assert events["Resumed"]["count"] == 1


# -- which transitions are announced (pure) --------------------------------------------------


def test_a_new_bot_is_not_a_story_unless_it_is_refused() -> None:
    assert reasons({}, conditions(ConfigValid=("True", "Valid"), Ready=("False", "NotDeployed"))) == []
    assert reasons({}, conditions(ConfigValid=("False", "InvalidSpec"))) == ["ConfigInvalid"]


def test_condition_transitions_have_their_reasons() -> None:
    old = conditions(
        ConfigValid=("False", "InvalidSpec"), Ready=("False", "NotDeployed"), Trading=("False", "X")
    )
    new = conditions(ConfigValid=("True", "Valid"), Ready=("True", "Up"), Trading=("True", "InsideWindow"))
    assert reasons(old, new) == ["ConfigValid", "BecameReady", "TradingStarted"]
    assert reasons(new, old) == ["ConfigInvalid", "NotReady", "TradingStopped"]


def test_a_pause_replaces_trading_stopped_and_a_resume_is_announced() -> None:
    trading = conditions(Trading=("True", "InsideWindow"))
    paused = conditions(Trading=("False", "Paused"))
    assert reasons(trading, paused) == ["Paused"]
    assert reasons(paused, trading) == ["Resumed", "TradingStarted"]


def test_the_loss_limit_and_venue_circuits_are_announced_on_change_only() -> None:
    old = {"dailyLossLimitHit": False, "venues": [{"name": "ice", "leg": "futures", "breaker": "closed"}]}
    new = {
        "dailyLossLimitHit": True,
        "venues": [{"name": "ice", "leg": "futures", "breaker": "open", "lastError": "timeout"}],
    }
    assert reasons(old, new) == ["DailyLossLimitHit", "VenueCircuitOpen"]
    assert reasons(new, new) == []
    assert reasons(new, old) == ["VenueCircuitClosed"]


def test_every_announced_reason_is_documented() -> None:
    every = {
        "ConfigInvalid",
        "ConfigValid",
        "BecameReady",
        "NotReady",
        "TradingStarted",
        "TradingStopped",
        "Paused",
        "Resumed",
        "DailyLossLimitHit",
        "VenueCircuitOpen",
        "VenueCircuitClosed",
    }
    assert set(EVENT_REASONS) == every
