"""flash-green operator: ArbitrageBot resources reconciled into running bots."""
