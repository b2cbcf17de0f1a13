"""The pure domain core: quotes, sizing, costs, the decision, guards. No I/O here."""
