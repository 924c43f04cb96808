"""Moved to dagster_fastio.cli.measure.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.cli.measure import (
    DEFAULT_PROFILE,
    MethodResult,
    load_profile,
    load_profile_content,
    profile,
    run,
    save_profile,
    timed,
)

__all__ = [
    "DEFAULT_PROFILE",
    "MethodResult",
    "load_profile",
    "load_profile_content",
    "profile",
    "run",
    "save_profile",
    "timed",
]
