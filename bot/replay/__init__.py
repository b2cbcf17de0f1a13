"""Replay and backtest: recorded books through the very cycle code that trades (docs/replay.md)."""
