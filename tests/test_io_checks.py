"""The io_slowdown check: judged on the instance's event log, on history recorded with chosen
figures (so a slowdown is a fact of the test, never a timing) and on real runs."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

import dagster_fastio as fio
from dagster_fastio import FastIOManager
from dagster_fastio.keys import (
    LOAD_BYTES_KEY,
    LOAD_PEAK_MEMORY_MB_KEY,
    LOAD_SECONDS_KEY,
    WRITE_RAW_BYTES_KEY,
    WRITE_SECONDS_KEY,
)

MB = 1_000_000


@dg.asset
def events() -> pa.Table:
    return pa.table({"n": list(range(1_000))})


@dg.asset
def counted(events: pa.Table) -> int:
    return events.num_rows


def _record_write(instance: dg.DagsterInstance, seconds: float, mb: float = 100) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "events",
            metadata={WRITE_SECONDS_KEY: seconds, WRITE_RAW_BYTES_KEY: int(mb * MB)},
        )
    )


def _record_load(
    instance: dg.DagsterInstance, seconds: float, mb: float = 50, memory_mb: float = 120.0
) -> None:
    instance.report_runless_asset_event(
        dg.AssetObservation(
            "events",
            metadata={
                LOAD_SECONDS_KEY: seconds,
                LOAD_BYTES_KEY: int(mb * MB),
                LOAD_PEAK_MEMORY_MB_KEY: memory_mb,
            },
        )
    )


def _check_alone(instance: dg.DagsterInstance, **kwargs: Any) -> Any:
    """Runs only the io_slowdown check of ``events``, as a sensor or the UI would."""
    built = fio.checks([events], schema_change=False, min_rows=None, **kwargs)
    assert [spec.name for c in built for spec in c.check_specs] == ["io_slowdown"]
    result = dg.materialize(
        [events, *built],
        selection=dg.AssetSelection.checks(*built),
        instance=instance,
        resources={"io_manager": FastIOManager(base_path="/nonexistent-never-written")},
    )
    assert result.success  # a WARN check that fails does not fail the run
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_passes_with_too_little_history_and_says_why() -> None:
    with dg.instance_for_test() as instance:
        for seconds in (1.0, 1.0, 9.0):
            _record_write(instance, seconds)
        evaluation = _check_alone(instance)
        assert evaluation.passed
        assert "2 earlier measured write(s), 3 needed" in evaluation.description
        assert "no load with figures recorded yet" in evaluation.description


def test_warns_when_the_latest_write_is_slower_per_mb_than_the_window() -> None:
    with dg.instance_for_test() as instance:
        for seconds in (1.0, 1.2, 0.9, 1.1, 1.0):
            _record_write(instance, seconds)  # about 0.01 s/MB
        # Twice the bytes in twice the time is the same speed: passes.
        _record_write(instance, 2.1, mb=200)
        assert _check_alone(instance).passed
        # Four times the seconds for the same bytes: a slowdown.
        _record_write(instance, 4.0)
        evaluation = _check_alone(instance)
        assert not evaluation.passed
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
        assert "the latest write took" in evaluation.description.lower()
        metadata = {name: value.value for name, value in evaluation.metadata.items()}
        assert metadata["write_slowdown"] == pytest.approx(0.04 / 0.01025, abs=0.01)
        assert metadata["write_window"] == 6
        # A looser bound lets it pass.
        assert _check_alone(instance, io_slowdown=5.0).passed


def test_the_window_holds_only_the_previous_materializations() -> None:
    with dg.instance_for_test() as instance:
        for seconds in (10.0, 10.0, 10.0, 1.0, 1.0, 1.0):
            _record_write(instance, seconds)
        _record_write(instance, 4.0)
        # Over the last three (1 s each) 4 s is a slowdown; over all six it is not.
        assert not _check_alone(instance, io_window=3).passed
        assert _check_alone(instance, io_window=6).passed


def test_loads_are_judged_from_their_observations_and_memory_is_bounded() -> None:
    with dg.instance_for_test() as instance:
        for _ in range(4):
            _record_write(instance, 1.0)
            _record_load(instance, 0.5)
        _record_load(instance, 2.5, memory_mb=900.0)
        evaluation = _check_alone(instance)
        assert not evaluation.passed
        assert "the latest load took" in evaluation.description.lower()
        assert "write" not in evaluation.description.split(";")[0]
        memory = _check_alone(instance, io_slowdown=10.0, max_load_memory_mb=500)
        assert not memory.passed
        assert "the latest load needed 900.0 mb, over 500.0 mb" in memory.description.lower()
        assert _check_alone(instance, io_slowdown=10.0, max_load_memory_mb=1000).passed


def test_quick_writes_are_never_called_slow() -> None:
    with dg.instance_for_test() as instance:
        for _ in range(4):
            _record_write(instance, 0.001, mb=0.001)
        _record_write(instance, 0.01, mb=0.001)  # 10x, but 10 ms
        assert _check_alone(instance).passed
        assert not _check_alone(instance, io_min_seconds=0.0).passed


class Rows:
    count = 1_000


@dg.asset(name="events")
def changing_events() -> pa.Table:
    return pa.table({"n": list(range(Rows.count))})


def test_real_runs_record_what_the_check_reads(tmp_path: Path) -> None:
    built = fio.checks([events], schema_change=False, min_rows=None)
    resources = {"io_manager": FastIOManager(base_path=str(tmp_path / "store"))}
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        for size in range(5):
            # New content each run, so that each write is a write and not a hash.
            Rows.count = 1_000 + size
            result = dg.materialize(
                [changing_events, counted, *built], instance=instance, resources=resources
            )
            assert result.success
            (evaluation,) = result.get_asset_check_evaluations()
            assert evaluation.passed  # tiny writes: never slow, whatever the clock did
        metadata = {name: value.value for name, value in evaluation.metadata.items()}
        # Four earlier writes; the loads of this run's `counted` may come before the check.
        assert metadata["write_window"] == 4
        assert metadata["load_window"] in (3, 4)
        assert metadata["latest_write_seconds_per_mb"] > 0


def test_bad_io_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="io_slowdown must be above 1"):
        fio.checks([events], io_slowdown=0.5)
    with pytest.raises(ValueError, match="io_window must be at least 3"):
        fio.checks([events], io_window=2)
    with pytest.raises(ValueError, match="max_load_memory_mb must be positive"):
        fio.checks([events], max_load_memory_mb=0)
    assert fio.checks([events], schema_change=False, min_rows=None, io_slowdown=None) == []
