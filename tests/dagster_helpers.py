"""Helpers shared by the FastIOManager test modules."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_fastio import FastIOManager


def run_assets(
    assets: Sequence[Any],
    base: Path,
    *,
    selection: Sequence[Any] | None = None,
    partition_key: str | None = None,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
    io_manager: Any = None,
) -> dg.ExecuteInProcessResult:
    """Materializes ``assets`` with a FastIOManager on ``base`` (or ``io_manager``)."""
    result = dg.materialize(
        assets,
        selection=selection,
        partition_key=partition_key,
        instance=instance,
        raise_on_error=raise_on_error,
        resources={"io_manager": io_manager or FastIOManager(base_path=str(base))},
    )
    if raise_on_error:
        assert result.success
    return result


def stored_files(base: Path) -> list[str]:
    """Every file under ``base``, as sorted POSIX paths relative to it."""
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
