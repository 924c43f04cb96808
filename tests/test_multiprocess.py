"""FastIOManager under Dagster's multiprocess executor: each step runs in its own process
(started with spawn or forkserver), so every handoff goes through the stored files.

The assets and the job factory live at module level so that the child processes can rebuild
the job from this module.
"""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest
from dagster_helpers import instance_without_compute_logs

from dagster_fastio import FastIOManager
from dagster_fastio.io_manager import read_pickle

TESTS_FOLDER = str(Path(__file__).resolve().parent)
ROWS = 1_000


@dg.asset
def numbers() -> pa.Table:
    values = list(range(ROWS))
    return pa.table({"n": values, "parity": ["even" if v % 2 == 0 else "odd" for v in values]})


@dg.asset
def squares(numbers: pa.Table) -> pd.DataFrame:
    # Runs in another process than `numbers`: the table can only have come through the file.
    assert isinstance(numbers, pa.Table)
    assert numbers.num_rows == ROWS
    assert numbers.column("n").to_pylist() == list(range(ROWS))
    frame = numbers.to_pandas()
    frame["square"] = frame["n"] ** 2
    frame["parity"] = pd.Categorical(frame["parity"])
    return frame.set_index("n")


@dg.asset
def summary(numbers: pa.Table, squares: pd.DataFrame) -> dict:
    assert isinstance(squares, pd.DataFrame)
    assert squares.index.name == "n"
    assert isinstance(squares["parity"].dtype, pd.CategoricalDtype)
    assert squares.loc[12, "square"] == 144
    return {
        "pid": os.getpid(),
        "rows": numbers.num_rows,
        "sum_of_squares": int(squares["square"].sum()),
        "even": int((squares["parity"] == "even").sum()),
    }


def _job(io_manager: Any) -> dg.JobDefinition:
    definitions = dg.Definitions(
        assets=[numbers, squares, summary],
        jobs=[dg.define_asset_job("handoff", executor_def=dg.multiprocess_executor)],
        resources={"io_manager": io_manager},
    )
    return definitions.resolve_job_def("handoff")


def default_base_job() -> dg.JobDefinition:
    """The manager writes under the instance's storage folder, as the children see it."""
    return _job(FastIOManager())


def configured_base_job() -> dg.JobDefinition:
    """The base folder comes from the run config."""
    return _job(FastIOManager.configure_at_launch())


def _run_config(start_method: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "execution": {"config": {"max_concurrent": 2, "start_method": {start_method: {}}}},
        **(extra or {}),
    }


def _unpickle(path: Path) -> Any:
    return read_pickle(path)


def _check(result: dg.JobExecutionResult, base: Path) -> None:
    assert result.success
    assert sorted(p.name for p in base.iterdir() if p.is_file()) == [
        "numbers.arrow",
        "squares.arrow",
        "summary.pickle.zst",
    ]
    values = _unpickle(base / "summary.pickle.zst")
    assert values["pid"] != os.getpid()
    assert values["rows"] == ROWS
    assert values["sum_of_squares"] == sum(n * n for n in range(ROWS))
    assert values["even"] == ROWS // 2
    squares_table = feather.read_table(base / "squares.arrow")
    assert squares_table.num_rows == ROWS
    step_pids = {
        event.pid
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_START
    }
    assert len(step_pids) == 3, "each step runs in its own process"
    assert os.getpid() not in step_pids


def _reconstructable(factory: Any) -> Any:
    """``dg.reconstructable(factory)``, importable by the children.

    Dagster drops ``sys.path[0]`` (here this tests folder, put there by pytest) before it
    imports the job's module in a child process, and adds the working directory instead: so
    the working directory is this folder.
    """
    return dg.build_reconstructable_job(
        factory.__module__, factory.__name__, reconstructor_working_directory=TESTS_FOLDER
    )


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_multiprocess_handoff_under_the_instance_storage(tmp_path: Path, start_method: str) -> None:
    with instance_without_compute_logs(tmp_path) as instance:
        result = dg.execute_job(
            _reconstructable(default_base_job),
            instance=instance,
            run_config=_run_config(start_method),
        )
        _check(result, Path(instance.storage_directory()))


def test_multiprocess_handoff_with_a_configured_base_path(tmp_path: Path) -> None:
    base = tmp_path / "fastio"
    instance_folder = tmp_path / "instance"
    instance_folder.mkdir()
    config = {
        "resources": {"io_manager": {"config": {"base_path": str(base), "compression": "lz4"}}}
    }
    with instance_without_compute_logs(instance_folder) as instance:
        result = dg.execute_job(
            _reconstructable(configured_base_job),
            instance=instance,
            run_config=_run_config("forkserver", config),
        )
        _check(result, base)
        compressions = {
            event.asset_key.to_user_string(): event.materialization.metadata["compression"].value
            for event in result.get_asset_materialization_events()
        }
    assert compressions == {"numbers": "lz4", "squares": "lz4", "summary": "zstd"}
