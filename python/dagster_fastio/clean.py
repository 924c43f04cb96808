"""Moved to dagster_fastio.cli.leftovers.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.cli.leftovers import (
    Leftover,
    leftovers,
    local_leftovers,
    s3_leftovers,
)

__all__ = ["Leftover", "leftovers", "local_leftovers", "s3_leftovers"]
