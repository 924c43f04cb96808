"""Helpers shared by the FastIOManager test modules."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_fastio import FastIOManager

# Dagster's default compute-log capture starts a `tail -F` beside each step and, when the step
# ends, sends it SIGTERM and waits up to 30 s for it. Started by a worker that inherited SIGTERM
# ignored (a background job's), the tail ignores it too: each step then took 30 s more, and
# the tails outlived the tests. The instances of the tests that run steps in other processes
# capture nothing, so that no tail is ever started.
NO_COMPUTE_LOGS = {
    "compute_logs": {
        "module": "dagster._core.storage.noop_compute_log_manager",
        "class": "NoOpComputeLogManager",
    }
}


def instance_without_compute_logs(
    folder: Path,
) -> AbstractContextManager[dg.DagsterInstance]:
    """A test instance in ``folder`` whose steps start no compute-log ``tail``."""
    return dg.instance_for_test(temp_dir=str(folder), overrides=NO_COMPUTE_LOGS)


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
