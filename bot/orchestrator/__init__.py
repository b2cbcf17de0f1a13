"""The trading loop: `python -m bot.orchestrator`."""
