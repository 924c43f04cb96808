"""Sizes, rates and durations as people write them: '500MB', '1Gbit', '4h'.

All sizes are decimal megabytes (1 MB = 10**6 bytes).
"""

from __future__ import annotations

import re

__all__ = ["parse_hours", "parse_rate_mb_s", "parse_size_mb"]

_UNITS = {
    "b": 1e-6,
    "kb": 1e-3,
    "mb": 1.0,
    "gb": 1e3,
    "tb": 1e6,
    "kib": 1024 / 1e6,
    "mib": 1024**2 / 1e6,
    "gib": 1024**3 / 1e6,
    "tib": 1024**4 / 1e6,
}
_RATES = {"kbit": 1e-3 / 8, "mbit": 1 / 8, "gbit": 1e3 / 8, "kb/s": 1e-3, "mb/s": 1.0, "gb/s": 1e3}
_HOURS = {"s": 1 / 3600, "min": 1 / 60, "m": 1 / 60, "h": 1.0, "d": 24.0}


def parse_size_mb(text: str) -> float:
    """'500MB', '1.5 GB', '64MiB' or a bare number of MB, as MB; anything else is a ValueError."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (examples: 500MB, 1.5GB, 64MiB)")
    number, unit = float(match.group(1)), match.group(2).lower() or "mb"
    if unit not in _UNITS:
        raise ValueError(
            f"unknown size unit {match.group(2)!r}: expected B, KB, MB, GB, TB, KiB, MiB, "
            "GiB or TiB"
        )
    return number * _UNITS[unit]


def parse_rate_mb_s(text: str) -> float:
    """'1Gbit', '100Mbit', '250MB/s' or a bare number of Gbit/s, as MB/s."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z/]*)\s*", str(text))
    if not match:
        raise ValueError(f"not a bandwidth: {text!r} (examples: 1Gbit, 100Mbit, 250MB/s)")
    number, unit = float(match.group(1)), match.group(2).lower() or "gbit"
    unit = unit.removesuffix("/s") if unit.endswith("bit/s") else unit
    if unit not in _RATES:
        raise ValueError(
            f"unknown bandwidth unit {match.group(2)!r}: expected Kbit, Mbit, Gbit, KB/s, "
            "MB/s or GB/s"
        )
    if number <= 0:
        raise ValueError("the bandwidth must be positive")
    return number * _RATES[unit]


def parse_hours(text: str) -> float:
    """'4h', '90min', '30m', '1d', '3600s' or a bare number of hours, as hours (positive)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (examples: 4h, 90min, 1d)")
    number, unit = float(match.group(1)), match.group(2).lower() or "h"
    if unit not in _HOURS:
        raise ValueError(f"unknown duration unit {match.group(2)!r}: expected s, min, h or d")
    if number <= 0:
        raise ValueError("the window must be positive")
    return number * _HOURS[unit]
