"""Moved to dagster_fastio.cli.planning.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.cli.planning import (
    ASSUMED_PROFILE,
    DAYS_PER_MONTH,
    METHODS,
    MethodPlan,
    Plan,
    PlanInputs,
    parse_rate_mb_s,
    parse_size_mb,
    plan,
)

__all__ = [
    "ASSUMED_PROFILE",
    "DAYS_PER_MONTH",
    "METHODS",
    "MethodPlan",
    "Plan",
    "PlanInputs",
    "parse_rate_mb_s",
    "parse_size_mb",
    "plan",
]
