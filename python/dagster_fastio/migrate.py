"""Moved to dagster_fastio.cli.migration.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.cli.migration import (
    ALREADY_MIGRATED,
    FAILED,
    FAILURES,
    MIGRATED,
    SUPERSEDED,
    UNREADABLE,
    WOULD_MIGRATE,
    Candidate,
    Migration,
    Outcome,
    Summary,
    redact,
)

__all__ = [
    "ALREADY_MIGRATED",
    "FAILED",
    "FAILURES",
    "MIGRATED",
    "SUPERSEDED",
    "UNREADABLE",
    "WOULD_MIGRATE",
    "Candidate",
    "Migration",
    "Outcome",
    "Summary",
    "redact",
]
