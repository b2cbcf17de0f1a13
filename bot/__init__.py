"""flash-green: the in-pod arbitrage bot."""

__version__ = "0.1.0"
