"""dagster_fastio.checks: Dagster's own asset checks run on what FastIOManager stored, in real
runs, passing and failing (a changed schema, a row count out of bounds, a stale asset)."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
import datetime
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

import dagster_fastio as fio
from dagster_fastio import FastIOManager

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """The run's check evaluations by check name (each check runs once per run here)."""
    evaluations = result.get_asset_check_evaluations()
    by_name = {evaluation.check_name: evaluation for evaluation in evaluations}
    assert len(by_name) == len(evaluations), "a check ran twice in one run"
    return by_name


def _run(
    defs: list[Any],
    base: Path,
    instance: dg.DagsterInstance,
    *,
    selection: Any = None,
    partition_key: str | None = None,
) -> dg.ExecuteInProcessResult:
    # A failed check of WARN severity does not fail the run; anything else would.
    result = dg.materialize(
        defs,
        selection=selection,
        partition_key=partition_key,
        instance=instance,
        resources={"io_manager": FastIOManager(base_path=str(base))},
    )
    assert result.success
    return result


class Table:
    """What the asset under test returns next: set ``value`` between runs."""

    value: pa.Table = pa.table({"x": [1, 2, 3]})


def _table_asset() -> dg.AssetsDefinition:
    @dg.asset
    def numbers() -> pa.Table:
        return Table.value

    return numbers


def test_schema_change_check_passes_while_the_columns_stay_and_fails_when_they_change(
    tmp_path: Path,
) -> None:
    numbers = _table_asset()
    built = fio.checks([numbers], min_rows=None, io_slowdown=None)
    assert [spec.name for c in built for spec in c.check_specs] == ["column_schema_change"]
    with dg.DagsterInstance.ephemeral() as instance:
        Table.value = pa.table({"x": [1, 2, 3], "label": ["a", "b", "c"]})
        first = _evaluations(_run([numbers, *built], tmp_path, instance))
        assert first["column_schema_change"].passed  # nothing to compare with yet

        Table.value = pa.table({"x": [4, 5], "label": ["d", "e"]})
        same = _evaluations(_run([numbers, *built], tmp_path, instance))
        assert same["column_schema_change"].passed
        assert "No changes" in same["column_schema_change"].description

        # x becomes a float, label goes, weight arrives.
        Table.value = pa.table({"x": [1.5], "weight": [2]})
        changed = _evaluations(_run([numbers, *built], tmp_path, instance))["column_schema_change"]
        assert not changed.passed
        assert changed.severity == dg.AssetCheckSeverity.WARN
        assert "Added columns: weight" in changed.description
        assert "Removed columns: label" in changed.description
        assert "x: int64 -> double" in changed.description


def test_row_count_bounds_check_passes_inside_the_bounds_and_fails_outside(
    tmp_path: Path,
) -> None:
    numbers = _table_asset()
    built = fio.checks(
        [numbers],
        schema_change=False,
        min_rows=2,
        max_rows=5,
        severity=dg.AssetCheckSeverity.ERROR,
        io_slowdown=None,
    )
    name = "dagster_row_count_bounds_check"
    assert [spec.name for c in built for spec in c.check_specs] == [name]
    with dg.DagsterInstance.ephemeral() as instance:
        for rows, passes in [(2, True), (5, True), (1, False), (6, False)]:
            Table.value = pa.table({"x": list(range(rows))})
            evaluation = _evaluations(_run([numbers, *built], tmp_path, instance))[name]
            assert evaluation.passed is passes, (rows, evaluation.description)
            assert f"Value `{rows}`" in evaluation.description
            assert evaluation.severity == dg.AssetCheckSeverity.ERROR


def test_default_checks_fail_an_empty_table(tmp_path: Path) -> None:
    numbers = _table_asset()
    built = fio.checks([numbers])
    with dg.DagsterInstance.ephemeral() as instance:
        Table.value = pa.table({"x": pa.array([], pa.int64())})
        evaluations = _evaluations(_run([numbers, *built], tmp_path, instance))
        assert set(evaluations) == {
            "column_schema_change",
            "dagster_row_count_bounds_check",
            "io_slowdown",
        }
        assert not evaluations["dagster_row_count_bounds_check"].passed
        assert "less than 1" in evaluations["dagster_row_count_bounds_check"].description


def test_checks_run_on_their_own_after_the_asset(tmp_path: Path) -> None:
    # As a sensor or the UI runs them: a later run that executes only the checks.
    numbers = _table_asset()
    built = fio.checks([numbers], min_rows=10)
    with dg.DagsterInstance.ephemeral() as instance:
        Table.value = pa.table({"x": [1, 2, 3]})
        _run([numbers], tmp_path, instance)
        only_checks = dg.AssetSelection.checks(*built)
        evaluations = _evaluations(
            _run([numbers, *built], tmp_path, instance, selection=only_checks)
        )
        assert not evaluations["dagster_row_count_bounds_check"].passed
        assert (
            "Value `3` is less than 10" in evaluations["dagster_row_count_bounds_check"].description
        )


def test_partition_row_count_bounds_check_reads_the_latest_partition(tmp_path: Path) -> None:
    rows_by_day = {"2024-01-01": 3, "2024-01-02": 1}

    @dg.asset(partitions_def=DAYS)
    def daily(context: dg.AssetExecutionContext) -> pa.Table:
        return pa.table({"x": list(range(rows_by_day[context.partition_key]))})

    built = fio.checks(
        [daily], schema_change=False, min_rows=None, min_partition_rows=2, io_slowdown=None
    )
    name = "dagster_partition_row_count_bounds_check"
    assert [spec.name for c in built for spec in c.check_specs] == [name]
    only_checks = dg.AssetSelection.checks(*built)
    with dg.DagsterInstance.ephemeral() as instance:
        _run([daily], tmp_path, instance, partition_key="2024-01-01")
        evaluation = _evaluations(_run([daily, *built], tmp_path, instance, selection=only_checks))
        assert evaluation[name].passed, evaluation[name].description
        _run([daily], tmp_path, instance, partition_key="2024-01-02")
        evaluation = _evaluations(_run([daily, *built], tmp_path, instance, selection=only_checks))
        assert not evaluation[name].passed
        assert "Value `1` is less than 2" in evaluation[name].description


def test_row_count_bounds_check_of_a_partitioned_asset_reads_the_total(tmp_path: Path) -> None:
    @dg.asset(partitions_def=DAYS)
    def daily() -> pa.Table:
        return pa.table({"x": [1, 2, 3]})

    built = fio.checks([daily], schema_change=False, min_rows=4, io_slowdown=None)
    only_checks = dg.AssetSelection.checks(*built)
    name = "dagster_row_count_bounds_check"
    with dg.DagsterInstance.ephemeral() as instance:
        _run([daily], tmp_path, instance, partition_key="2024-01-01")
        evaluation = _evaluations(_run([daily, *built], tmp_path, instance, selection=only_checks))
        assert not evaluation[name].passed  # 3 rows stored in all
        assert "Value `3`" in evaluation[name].description
        _run([daily], tmp_path, instance, partition_key="2024-01-02")
        evaluation = _evaluations(_run([daily, *built], tmp_path, instance, selection=only_checks))
        assert evaluation[name].passed, evaluation[name].description  # 6 rows in all
        assert "Value `6`" in evaluation[name].description


def test_freshness_check_passes_for_a_fresh_asset_and_fails_for_a_stale_one(
    tmp_path: Path,
) -> None:
    numbers = _table_asset()
    Table.value = pa.table({"x": [1]})
    within_hour = fio.checks(
        [numbers],
        schema_change=False,
        min_rows=None,
        freshness=dg.FreshnessPolicy.time_window(fail_window=datetime.timedelta(hours=1)),
        io_slowdown=None,
    )
    within_a_millisecond = fio.checks(
        [numbers],
        schema_change=False,
        min_rows=None,
        freshness=datetime.timedelta(milliseconds=1),
        io_slowdown=None,
    )
    with dg.DagsterInstance.ephemeral() as instance:
        _run([numbers], tmp_path, instance)
        time.sleep(0.01)
        fresh = _evaluations(
            _run(
                [numbers, *within_hour],
                tmp_path,
                instance,
                selection=dg.AssetSelection.checks(*within_hour),
            )
        )
        stale = _evaluations(
            _run(
                [numbers, *within_a_millisecond],
                tmp_path,
                instance,
                selection=dg.AssetSelection.checks(*within_a_millisecond),
            )
        )
    assert list(fresh) == list(stale) == ["freshness_check"]
    assert fresh["freshness_check"].passed
    assert not stale["freshness_check"].passed
    params = fresh["freshness_check"].metadata["dagster/freshness_params"].value
    assert params["lower_bound_delta_seconds"] == 3600


def test_cron_freshness_policy_reaches_the_check(tmp_path: Path) -> None:
    numbers = _table_asset()
    Table.value = pa.table({"x": [1]})
    policy = dg.FreshnessPolicy.cron(
        deadline_cron="0 6 * * *",
        lower_bound_delta=datetime.timedelta(hours=2),
        timezone="Europe/Paris",
    )
    built = fio.checks(
        [numbers], schema_change=False, min_rows=None, freshness=policy, io_slowdown=None
    )
    with dg.DagsterInstance.ephemeral() as instance:
        evaluation = _evaluations(_run([numbers, *built], tmp_path, instance))["freshness_check"]
    # Materialized just now, after the last 06:00 deadline's lower bound.
    assert evaluation.passed
    params = evaluation.metadata["dagster/freshness_params"].value
    assert params == {
        "deadline_cron": "0 6 * * *",
        "lower_bound_delta_seconds": 7200,
        "timezone": "Europe/Paris",
    }


def test_checks_load_into_definitions_beside_the_assets(tmp_path: Path) -> None:
    numbers = _table_asset()

    @dg.asset(partitions_def=DAYS)
    def daily() -> pa.Table:
        return pa.table({"x": [1]})

    built = fio.checks(
        [numbers, daily], max_rows=10, max_partition_rows=5, freshness=datetime.timedelta(days=1)
    )
    defs = dg.Definitions(
        assets=[numbers, daily],
        asset_checks=built,
        resources={"io_manager": FastIOManager(base_path=str(tmp_path))},
    )
    keys = {
        (key.asset_key.to_user_string(), key.name)
        for key in defs.resolve_asset_graph().asset_check_keys
    }
    assert keys == {
        ("numbers", "column_schema_change"),
        ("daily", "column_schema_change"),
        ("numbers", "dagster_row_count_bounds_check"),
        ("daily", "dagster_row_count_bounds_check"),
        ("daily", "dagster_partition_row_count_bounds_check"),
        ("numbers", "freshness_check"),
        ("daily", "freshness_check"),
        ("numbers", "io_slowdown"),
        ("daily", "io_slowdown"),
    }


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"min_rows": 5, "max_rows": 2}, ValueError, "min_rows \\(5\\) is greater than max_rows"),
        ({"min_rows": -1}, ValueError, "min_rows must not be negative"),
        ({"max_rows": True}, TypeError, "max_rows must be an int"),
        ({"min_rows": 1.5}, TypeError, "min_rows must be an int"),
        ({"min_partition_rows": 1}, ValueError, "need a partitioned asset definition"),
        ({"freshness": datetime.timedelta(0)}, ValueError, "positive age"),
        ({"freshness": 3600}, TypeError, "freshness must be a timedelta"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        fio.checks([_table_asset()], **kwargs)


def test_no_assets_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one asset"):
        fio.checks([])
