"""The simulated markets a bot trades against by default.

`bot.markets.model` is the pure, seeded price model (GB half-hourly power and a futures leg);
`bot.markets.faults` parses SIM_FAULTS and decides when a simulated venue or loan fails. The
venues and the loan that use them live in `bot.venues.simulated` and `bot.loans.simulated`.
"""
