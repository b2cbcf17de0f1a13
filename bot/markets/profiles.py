"""The market profiles SIM_PROFILE selects: which `MarketParams` the simulated venues trade against.

`realistic` is the model's own calibration (a paying spread in a few percent of one-second cycles,
the first one often a minute or two away) and what every pod runs. `demo` exists for the person
who has just typed `make run`: the market opens inside a dislocation that pays for several
seconds, so the whole flow (loan, both legs, repayment, the journal, the panel's charts) shows up
at once, and dislocations then arrive far more often than on a real market. It is not a forecast
of anything, so a bot on it says so in its log and on its control panel.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from bot.markets.model import MarketParams

MarketProfile = Literal["realistic", "demo"]

REALISTIC = MarketParams()

# The demo's market (measured at default costs and EXEC_LATENCY_MS; tests/test_demo_profile.py):
# - it opens 3 GBP/MWh over the futures' fair price; the spread pays at default costs while a
#   dislocation is above about 1 GBP/MWh, so the first cycles pay for ~15 s from the start;
# - dislocations arrive three times as often, each smaller, so about a third of the cycles trade;
# - they fade with a 10 s half-life rather than 4 s, and the power price wanders half as far from
#   its daily shape: both legs' orders take ~0.2 s to travel, and on the realistic figures the
#   market moves past an order's limit price in that time often enough that a quarter of the
#   attempts unwind (about 1 in 20 here), which would make the first minute look broken;
# - no price spikes: the futures take minutes to price a spike in, and a bot started in the few
#   seconds before one starts would find nothing that pays for minutes. Negative hours stay.
DEMO = replace(
    REALISTIC,
    opening_dislocation_gbp_mwh=3.0,
    dislocation_rate_per_s=3 * REALISTIC.dislocation_rate_per_s,
    dislocation_mean_gbp_mwh=0.25,
    dislocation_half_life_s=10.0,
    deviation_sd_gbp_mwh=REALISTIC.deviation_sd_gbp_mwh / 2,
    spike_start_evening=0.0,
    spike_start_morning=0.0,
    spike_start_other=0.0,
)

PROFILES: dict[MarketProfile, MarketParams] = {"realistic": REALISTIC, "demo": DEMO}

# What the log and the control panel say whenever the demo profile is in use.
DEMO_NOTICE = "Demo market profile: dislocations are frequent, not realistic"


def market_params(profile: MarketProfile) -> MarketParams:
    """The price model's parameters for a SIM_PROFILE value."""
    return PROFILES[profile]


__all__ = ["DEMO_NOTICE", "PROFILES", "MarketProfile", "market_params"]
