"""One step of a Dagster handoff in a fresh Python process, as Dagster's default executor runs
each step: a write (`handle_output`) or a load (`load_input`) through one I/O manager.

The parent calls `run_step`; this file, run as a script, is the child. The child imports what
a step's process has imported before its op runs (dagster, pandas, polars, pyarrow,
dagster-fastio), builds the manager, its context and, for a write, the frame, then times the
one call with `report.measured` (peak = VmHWM minus the RSS before the call) and prints one
JSON line. Linux only.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["EXIT_ABORTS", "Step", "run_step"]

RESULT_PREFIX = "fresh-process-result "
EXIT_ABORTS: list[Step] = []
"""Steps whose process aborted at exit after printing its result (see ``run_step``)."""


@dataclass(frozen=True)
class Step:
    """What one child process does."""

    manager: str
    """`FilesystemIOManager` or `FastIOManager`."""
    base: str
    """The manager's folder."""
    frame: str
    """`pandas` or `polars`."""
    action: str
    """`write` or `load`."""
    size: str
    """A size of `flights_tables.flights_of_size`."""
    mark: int
    """The first `MARK_COLUMN` value written, and expected back on a load."""
    options: dict[str, Any] = field(default_factory=dict)
    """FastIOManager config beyond `base_path`."""
    sync_inside: bool = False
    """Write dirty pages back before the clock stops (`report.measured`)."""


def run_step(step: Step) -> dict[str, Any]:
    """Runs `step` in a new interpreter; returns `seconds`, `peak`, `frame` (the bytes the
    frame holds in memory), `rows` and, for a FastIOManager write, the `compression` it
    chose."""
    done = subprocess.run(
        [sys.executable, __file__, json.dumps(asdict(step))],
        check=False,
        capture_output=True,
        text=True,
    )
    line = next(
        (line for line in reversed(done.stdout.splitlines()) if line.startswith(RESULT_PREFIX)),
        None,
    )
    if done.returncode == -signal.SIGABRT and line is not None:
        # The step finished and printed its figures, then the interpreter aborted on its way
        # out ("terminate called without an active exception", a few in a hundred processes
        # on a busy machine): counted and named in the report, not hidden.
        EXIT_ABORTS.append(step)
        print(f"{step.manager} {step.action}: aborted at exit after its result", file=sys.stderr)
    elif done.returncode != 0 or line is None:
        raise RuntimeError(f"{step} failed:\n{done.stderr[-4000:]}")
    return json.loads(line.removeprefix(RESULT_PREFIX))


def _child(step: Step) -> dict[str, Any]:
    import dagster as dg
    import pandas as pd
    import polars as pl
    from flights_tables import MARK_COLUMN, check_written, flights_of_size, with_mark
    from report import measured

    from dagster_fastio import FastIOManager

    if step.manager == "FilesystemIOManager":
        manager = dg.FilesystemIOManager(base_dir=step.base).create_io_manager(
            dg.build_init_resource_context()
        )
    else:
        manager = FastIOManager(base_path=step.base, **step.options)
    frame_type = {"pandas": pd.DataFrame, "polars": pl.DataFrame}[step.frame]
    dagster_type = dg.PythonObjectDagsterType(frame_type)
    key = dg.AssetKey(["flights"])
    output = dg.build_output_context(asset_key=key, dagster_type=dagster_type)
    if step.action == "write":
        table = with_mark(flights_of_size(step.size), step.mark)
        frame = table.to_pandas() if step.frame == "pandas" else pl.from_arrow(table)
        del table
        seconds, peak, _ = measured(
            lambda: manager.handle_output(output, frame), sync_inside=step.sync_inside
        )
        check_written(output)
        codec = output.get_logged_metadata().get("compression")
    else:
        codec = None
        inputs = dg.build_input_context(
            asset_key=key, upstream_output=output, dagster_type=dagster_type
        )
        seconds, peak, frame = measured(
            lambda: manager.load_input(inputs), sync_inside=step.sync_inside
        )
        if not isinstance(frame, frame_type) or frame[MARK_COLUMN][0] != step.mark:
            raise AssertionError(f"{step}: loaded {type(frame).__name__}, not what was written")
    in_memory = (
        frame.memory_usage(deep=True).sum() if step.frame == "pandas" else frame.estimated_size()
    )
    return {
        "seconds": seconds,
        "peak": peak,
        "frame": int(in_memory),
        "rows": len(frame),
        "compression": None if codec is None else codec.value,
    }


if __name__ == "__main__":
    result = _child(Step(**json.loads(sys.argv[1])))
    print(RESULT_PREFIX + json.dumps(result), flush=True)
