"""Shared shape of a benchmark figure and percentile arithmetic."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank on sorted samples."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def figure(name: str, value: float, unit: str, floor: float) -> dict[str, object]:
    """One entry of bench/results.json: {name, value, unit, floor, ratio}."""
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "floor": round(floor, 4),
        "ratio": round(value / floor, 3) if floor else None,
    }


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)
