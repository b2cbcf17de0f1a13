"""The kopf handlers; `kopf run --module=arbitrage_operator.handlers` registers them all.

One module per job, each a thin adapter around the pure spec, manifest and status functions:

- `lifecycle`: startup (the composition root: settings, API client, kopf tuning), login, cleanup;
- `reconcile`: an ArbitrageBot created, changed or resumed → its children and its status;
- `webhook`: the validating admission webhook (registered at startup when it has a server);
- `deployments`: Ready follows the owned Deployments;
- `trading_clock`: Trading follows the clock (the trading window opens and closes by itself);
- `live_status`: each ready bot's own report (PnL, trades, venues, journal) read from its API.
"""

from arbitrage_operator.handlers import deployments, lifecycle, live_status, reconcile, trading_clock, webhook

__all__ = ["deployments", "lifecycle", "live_status", "reconcile", "trading_clock", "webhook"]
