"""FastIOManager with partitioned assets in real Dagster runs: time-window fan-in, all-partition
mappings, missing partitions, dynamic partitions and a change from unpartitioned to
partitioned (also over a file left by Dagster's FilesystemIOManager)."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pytest
from dagster_helpers import run_assets, stored_files

from dagster_fastio import FastIOManager
from dagster_fastio.io_manager import read_pickle

# ---------------------------------------------------------------------------------------------
# Helpers.


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict[str, Any]:
    events = [
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(key)
    ]
    assert len(events) == 1
    return {name: value.value for name, value in events[0].materialization.metadata.items()}


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    failures = result.get_step_failure_events()
    assert len(failures) == 1
    error = failures[0].step_failure_data.error
    assert error is not None
    return error.to_string()


# ---------------------------------------------------------------------------------------------
# 24 hourly partitions read by one daily partition.

HOURS = dg.HourlyPartitionsDefinition(start_date="2024-01-01-00:00", end_date="2024-01-02-00:00")
DAY = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-02")
HOUR_KEYS = [f"2024-01-01-{hour:02d}:00" for hour in range(24)]


@dg.asset(partitions_def=HOURS)
def hourly(context: dg.AssetExecutionContext) -> pa.Table:
    hour = int(context.partition_key[11:13])
    return pa.table(
        {
            "hour": pa.array([hour, hour], pa.int64()),
            "minute": pa.array([0, 30], pa.int64()),
            "label": [f"h{hour}a", f"h{hour}b"],
        }
    )


@pytest.fixture(scope="module")
def hourly_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base folder holding the 24 hourly partitions, each materialized by its own run."""
    base = tmp_path_factory.mktemp("hourly")
    assert HOURS.get_partition_keys() == HOUR_KEYS
    for key in HOUR_KEYS:
        result = run_assets([hourly], base, partition_key=key)
        assert _metadata(result, "hourly")["dagster/partition_row_count"] == 2
    return base


def _daily_run(base: Path, downstream: dg.AssetsDefinition) -> dg.ExecuteInProcessResult:
    return run_assets(
        [hourly, downstream], base, selection=[downstream], partition_key="2024-01-01"
    )


def test_hourly_partitions_are_one_file_each(hourly_base: Path) -> None:
    files = [name for name in stored_files(hourly_base) if name.startswith("hourly/")]
    assert files == [f"hourly/{key}.arrow" for key in HOUR_KEYS]
    assert feather.read_table(hourly_base / "hourly" / "2024-01-01-13:00.arrow").column(
        "hour"
    ).to_pylist() == [13, 13]


def test_daily_reads_hourly_partitions_as_a_dict(hourly_base: Path) -> None:
    @dg.asset(
        partitions_def=DAY,
        ins={"hourly": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping())},
    )
    def daily_dict(hourly: dict[str, pa.Table]) -> pa.Table:
        assert sorted(hourly) == HOUR_KEYS
        for key, table in hourly.items():
            assert isinstance(table, pa.Table)
            assert table.column("hour").to_pylist() == [int(key[11:13])] * 2
        return pa.table({"hours": [len(hourly)]})

    result = _daily_run(hourly_base, daily_dict)
    meta = _metadata(result, "daily_dict")
    assert meta["dagster/partition_row_count"] == 1
    assert meta["dagster/uri"] == str(hourly_base / "daily_dict" / "2024-01-01.arrow")
    assert feather.read_table(hourly_base / "daily_dict" / "2024-01-01.arrow").to_pylist() == [
        {"hours": 24}
    ]


def test_daily_reads_hourly_partitions_concatenated_as_a_table(hourly_base: Path) -> None:
    # The default mapping between two time-window partitionings is the time-window one.
    @dg.asset(partitions_def=DAY)
    def daily_table(hourly: pa.Table) -> pa.Table:
        assert isinstance(hourly, pa.Table)
        assert hourly.num_rows == 48
        assert hourly.column_names == ["hour", "minute", "label"]
        assert b"dagster_fastio.python_type" not in (hourly.schema.metadata or {})
        # Concatenated in partition order.
        assert hourly.column("hour").to_pylist() == [h for h in range(24) for _ in range(2)]
        return hourly.group_by("minute").aggregate([("hour", "sum")]).sort_by("minute")

    _daily_run(hourly_base, daily_table)
    stored = feather.read_table(hourly_base / "daily_table" / "2024-01-01.arrow")
    assert stored.to_pylist() == [
        {"minute": 0, "hour_sum": sum(range(24))},
        {"minute": 30, "hour_sum": sum(range(24))},
    ]


def test_daily_reads_hourly_partitions_concatenated_as_pandas(hourly_base: Path) -> None:
    @dg.asset(partitions_def=DAY)
    def daily_pandas(hourly: pd.DataFrame) -> dict:
        assert isinstance(hourly, pd.DataFrame)
        assert list(hourly.columns) == ["hour", "minute", "label"]
        assert len(hourly) == 48
        return {"sum": int(hourly["hour"].sum()), "labels": sorted(hourly["label"])[:2]}

    _daily_run(hourly_base, daily_pandas)
    assert read_pickle(hourly_base / "daily_pandas" / "2024-01-01.pickle.zst") == {
        "sum": 2 * sum(range(24)),
        "labels": ["h0a", "h0b"],
    }


def test_daily_reads_hourly_partitions_as_polars(hourly_base: Path) -> None:
    @dg.asset(partitions_def=DAY)
    def daily_polars(hourly: pl.DataFrame) -> pl.DataFrame:
        assert isinstance(hourly, pl.DataFrame)
        assert hourly.height == 48
        return hourly.group_by("hour").len().sort("hour")

    _daily_run(hourly_base, daily_polars)
    stored = pl.read_ipc(hourly_base / "daily_polars" / "2024-01-01.arrow")
    assert stored["hour"].to_list() == list(range(24))
    assert stored["len"].to_list() == [2] * 24


def test_daily_reads_hourly_partitions_as_one_lazy_scan(hourly_base: Path) -> None:
    @dg.asset(partitions_def=DAY)
    def daily_lazy(hourly: pl.LazyFrame) -> int:
        assert isinstance(hourly, pl.LazyFrame)
        return hourly.select(pl.col("hour").sum()).collect().item()

    result = _daily_run(hourly_base, daily_lazy)
    assert result.output_for_node("daily_lazy") == 2 * sum(range(24))


def test_daily_reads_hourly_partitions_as_one_reader(hourly_base: Path) -> None:
    @dg.asset(partitions_def=DAY)
    def daily_reader(hourly: pa.RecordBatchReader) -> int:
        assert isinstance(hourly, pa.RecordBatchReader)
        return hourly.read_all().num_rows

    assert _daily_run(hourly_base, daily_reader).output_for_node("daily_reader") == 48


def test_dict_of_pandas_and_projected_columns(hourly_base: Path) -> None:
    @dg.asset(partitions_def=DAY, ins={"hourly": dg.AssetIn(metadata={"columns": ["label"]})})
    def daily_projected(hourly: dict[str, pd.DataFrame]) -> list:
        assert len(hourly) == 24
        for frame in hourly.values():
            assert isinstance(frame, pd.DataFrame)
            assert list(frame.columns) == ["label"]
        return hourly["2024-01-01-05:00"]["label"].tolist()

    assert _daily_run(hourly_base, daily_projected).output_for_node("daily_projected") == [
        "h5a",
        "h5b",
    ]


def test_projected_columns_on_a_concatenated_table(hourly_base: Path) -> None:
    @dg.asset(partitions_def=DAY, ins={"hourly": dg.AssetIn(metadata={"columns": ["minute"]})})
    def daily_minutes(hourly: pa.Table) -> list:
        assert hourly.column_names == ["minute"]
        return sorted(set(hourly.column("minute").to_pylist()))

    assert _daily_run(hourly_base, daily_minutes).output_for_node("daily_minutes") == [0, 30]


def test_unpartitioned_downstream_loads_every_hourly_partition(hourly_base: Path) -> None:
    @dg.asset
    def all_hours_dict(hourly: dict[str, pa.Table]) -> list:
        return sorted(hourly)

    @dg.asset
    def all_hours_table(hourly: pa.Table) -> int:
        return hourly.num_rows

    @dg.asset
    def all_hours_unannotated_dict(hourly: dict):
        assert all(isinstance(table, pa.Table) for table in hourly.values())
        return len(hourly)

    result = run_assets(
        [hourly, all_hours_dict, all_hours_table, all_hours_unannotated_dict],
        hourly_base,
        selection=[all_hours_dict, all_hours_table, all_hours_unannotated_dict],
    )
    assert result.output_for_node("all_hours_dict") == HOUR_KEYS
    assert result.output_for_node("all_hours_table") == 48
    assert result.output_for_node("all_hours_unannotated_dict") == 24


# ---------------------------------------------------------------------------------------------
# Static partitions: identity and all-partition mappings.

LETTERS = dg.StaticPartitionsDefinition(["a", "b", "c"])


@dg.asset(partitions_def=LETTERS)
def letters(context: dg.AssetExecutionContext) -> pa.Table:
    return pa.table({"letter": [context.partition_key] * 3, "n": [1, 2, 3]})


def _materialize_letters(base: Path, keys: Sequence[str] = ("a", "b", "c")) -> None:
    for key in keys:
        run_assets([letters], base, partition_key=key)


def test_identity_mapping_loads_the_one_matching_partition(tmp_path: Path) -> None:
    _materialize_letters(tmp_path)

    @dg.asset(partitions_def=LETTERS)
    def same_letter(context: dg.AssetExecutionContext, letters: pa.Table) -> pa.Table:
        assert set(letters.column("letter").to_pylist()) == {context.partition_key}
        return letters.slice(0, 1)

    @dg.asset(partitions_def=LETTERS)
    def same_letter_dict(letters: dict[str, pa.Table]) -> list:
        return sorted(letters)

    result = run_assets(
        [letters, same_letter, same_letter_dict],
        tmp_path,
        selection=[same_letter, same_letter_dict],
        partition_key="b",
    )
    assert result.output_for_node("same_letter_dict") == ["b"]
    assert feather.read_table(tmp_path / "same_letter" / "b.arrow").to_pylist() == [
        {"letter": "b", "n": 1}
    ]


def test_all_partition_mapping_loads_every_upstream_partition(tmp_path: Path) -> None:
    _materialize_letters(tmp_path)
    sides = dg.StaticPartitionsDefinition(["left", "right"])

    @dg.asset(
        partitions_def=sides,
        ins={"letters": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    )
    def every_letter(context: dg.AssetExecutionContext, letters: dict[str, pa.Table]) -> dict:
        return {"side": context.partition_key, "letters": sorted(letters)}

    @dg.asset(
        partitions_def=sides,
        ins={"letters": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    )
    def every_letter_table(letters: pa.Table) -> int:
        return letters.num_rows

    result = run_assets(
        [letters, every_letter, every_letter_table],
        tmp_path,
        selection=[every_letter, every_letter_table],
        partition_key="right",
    )
    assert result.output_for_node("every_letter_table") == 9
    assert read_pickle(tmp_path / "every_letter" / "right.pickle.zst") == {
        "side": "right",
        "letters": ["a", "b", "c"],
    }


def test_unpartitioned_downstream_of_a_multi_partitioned_asset(tmp_path: Path) -> None:
    grid = dg.MultiPartitionsDefinition(
        {
            "row": dg.StaticPartitionsDefinition(["r1", "r2"]),
            "col": dg.StaticPartitionsDefinition(["c1", "c2"]),
        }
    )

    @dg.asset(partitions_def=grid)
    def cells(context: dg.AssetExecutionContext) -> pd.DataFrame:
        keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
        return pd.DataFrame({"row": [keys["row"]], "col": [keys["col"]]})

    @dg.asset
    def board(cells: dict[str, pd.DataFrame]) -> dict:
        return {str(key): frame.iloc[0].to_dict() for key, frame in cells.items()}

    for key in grid.get_partition_keys():
        run_assets([cells], tmp_path, partition_key=key)
    result = run_assets([cells, board], tmp_path, selection=[board])
    assert result.output_for_node("board") == {
        "c1|r1": {"row": "r1", "col": "c1"},
        "c1|r2": {"row": "r2", "col": "c1"},
        "c2|r1": {"row": "r1", "col": "c2"},
        "c2|r2": {"row": "r2", "col": "c2"},
    }
    assert stored_files(tmp_path) == [
        "board.pickle.zst",
        "cells/c1/r1.arrow",
        "cells/c1/r2.arrow",
        "cells/c2/r1.arrow",
        "cells/c2/r2.arrow",
    ]


def test_multi_partitions_with_a_time_dimension_feed_a_daily_asset(tmp_path: Path) -> None:
    days = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-03")
    day_and_region = dg.MultiPartitionsDefinition(
        {"date": days, "region": dg.StaticPartitionsDefinition(["eu", "us"])}
    )

    @dg.asset(partitions_def=day_and_region)
    def sales(context: dg.AssetExecutionContext) -> pd.DataFrame:
        keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
        return pd.DataFrame({"region": [keys["region"]], "day": [keys["date"]]})

    @dg.asset(partitions_def=days)
    def daily_sales(sales: pd.DataFrame) -> list:
        return sorted(zip(sales["day"], sales["region"], strict=True))

    @dg.asset(partitions_def=days)
    def daily_sales_dict(sales: dict[str, pd.DataFrame]) -> list:
        return sorted(str(key) for key in sales)

    for key in day_and_region.get_partition_keys():
        run_assets([sales], tmp_path, partition_key=key)
    assert [name for name in stored_files(tmp_path) if name.startswith("sales/")] == [
        "sales/2024-01-01/eu.arrow",
        "sales/2024-01-01/us.arrow",
        "sales/2024-01-02/eu.arrow",
        "sales/2024-01-02/us.arrow",
    ]
    result = run_assets(
        [sales, daily_sales, daily_sales_dict],
        tmp_path,
        selection=[daily_sales, daily_sales_dict],
        partition_key="2024-01-02",
    )
    assert result.output_for_node("daily_sales") == [("2024-01-02", "eu"), ("2024-01-02", "us")]
    assert result.output_for_node("daily_sales_dict") == ["2024-01-02|eu", "2024-01-02|us"]


def test_pickled_partitions_load_as_a_dict(tmp_path: Path) -> None:
    @dg.asset(partitions_def=LETTERS)
    def counts(context: dg.AssetExecutionContext) -> dict:
        return {"letter": context.partition_key, "n": ord(context.partition_key)}

    @dg.asset
    def all_counts(counts: dict[str, dict]) -> int:
        assert counts == {key: {"letter": key, "n": ord(key)} for key in "abc"}
        return sum(value["n"] for value in counts.values())

    for key in "abc":
        run_assets([counts], tmp_path, partition_key=key)
    result = run_assets([counts, all_counts], tmp_path, selection=[all_counts])
    assert result.output_for_node("all_counts") == ord("a") + ord("b") + ord("c")
    assert [name for name in stored_files(tmp_path) if name.startswith("counts/")] == [
        "counts/a.pickle.zst",
        "counts/b.pickle.zst",
        "counts/c.pickle.zst",
    ]


@pytest.mark.filterwarnings("ignore:Parameter `backfill_policy` of function `asset`:Warning")
def test_several_partitions_in_one_output_without_partition_expr_fail_naming_both_ways(
    tmp_path: Path,
) -> None:
    @dg.asset(partitions_def=LETTERS, backfill_policy=dg.BackfillPolicy.single_run())
    def ranged() -> pa.Table:
        return pa.table({"x": [1]})

    result = dg.materialize(
        [ranged],
        resources={"io_manager": FastIOManager(base_path=str(tmp_path))},
        raise_on_error=False,
        tags={
            "dagster/asset_partition_range_start": "a",
            "dagster/asset_partition_range_end": "c",
        },
    )
    assert not result.success
    message = _failure_text(result)
    assert "partition_expr" in message
    assert "multi-run backfill" in message
    assert stored_files(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# Missing partitions.


def _allow_missing(allowed: bool) -> dict[str, dg.AssetIn]:
    metadata = {"allow_missing_partitions": True} if allowed else {}
    return {"letters": dg.AssetIn(metadata=metadata)}


def test_allow_missing_partitions_skips_them(tmp_path: Path) -> None:
    _materialize_letters(tmp_path, ["a", "c"])

    @dg.asset(ins=_allow_missing(True))
    def as_dict(letters: dict[str, pa.Table]) -> list:
        return sorted(letters)

    @dg.asset(ins=_allow_missing(True))
    def as_table(letters: pa.Table) -> list:
        return sorted(set(letters.column("letter").to_pylist()))

    @dg.asset(ins=_allow_missing(True))
    def as_pandas(letters: pd.DataFrame) -> int:
        return len(letters)

    @dg.asset(ins=_allow_missing(True))
    def as_lazy(letters: pl.LazyFrame) -> int:
        return letters.collect().height

    downstream = [as_dict, as_table, as_pandas, as_lazy]
    result = run_assets([letters, *downstream], tmp_path, selection=downstream)
    assert result.output_for_node("as_dict") == ["a", "c"]
    assert result.output_for_node("as_table") == ["a", "c"]
    assert result.output_for_node("as_pandas") == 6
    assert result.output_for_node("as_lazy") == 6


def test_optional_input_of_a_missing_matching_partition_is_none(tmp_path: Path) -> None:
    _materialize_letters(tmp_path, ["a"])

    @dg.asset(partitions_def=LETTERS)
    def maybe(letters: pa.Table | None) -> str:
        return "missing" if letters is None else "present"

    for key, expected in (("a", "present"), ("b", "missing")):
        result = run_assets([letters, maybe], tmp_path, selection=[maybe], partition_key=key)
        assert result.output_for_node("maybe") == expected


def test_allow_missing_partitions_with_nothing_stored_gives_an_empty_dict(
    tmp_path: Path,
) -> None:
    @dg.asset(ins=_allow_missing(True))
    def as_dict(letters: dict[str, pa.Table]) -> int:
        assert letters == {}
        return len(letters)

    assert (
        run_assets([letters, as_dict], tmp_path, selection=[as_dict]).output_for_node("as_dict")
        == 0
    )


@pytest.mark.parametrize(
    "annotation", [dict[str, pa.Table], pa.Table, pd.DataFrame, pl.LazyFrame, dict]
)
def test_missing_partition_fails_the_run_naming_the_path(tmp_path: Path, annotation: Any) -> None:
    _materialize_letters(tmp_path, ["a", "c"])

    def body(letters: Any) -> int:
        if isinstance(letters, pl.LazyFrame):
            letters = letters.collect()
        return len(letters)

    body.__annotations__ = {"letters": annotation, "return": int}
    strict = dg.asset(name="strict", ins=_allow_missing(False))(body)

    result = run_assets([letters, strict], tmp_path, selection=[strict], raise_on_error=False)
    assert not result.success
    assert str(tmp_path / "letters" / "b.arrow") in _failure_text(result)
    assert not (tmp_path / "strict.arrow").exists()
    assert not (tmp_path / "strict.pickle.zst").exists()


def test_missing_partition_raises_from_materialize(tmp_path: Path) -> None:
    _materialize_letters(tmp_path, ["b"])

    @dg.asset
    def strict(letters: dict[str, pa.Table]) -> int:
        return len(letters)

    # materialize() re-raises the I/O manager's own error.
    with pytest.raises(FileNotFoundError) as caught:
        run_assets([letters, strict], tmp_path, selection=[strict])
    message = str(caught.value)
    assert (
        str(tmp_path / "letters" / "a.arrow") in message
        or str(tmp_path / "letters" / "c.arrow") in message
    )


# ---------------------------------------------------------------------------------------------
# Dynamic partitions.


def test_dynamic_partitions(tmp_path: Path) -> None:
    items = dg.DynamicPartitionsDefinition(name="items")
    keys = ["apple", "berry.v2", "cherry"]

    @dg.asset(partitions_def=items)
    def item(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return pl.DataFrame({"item": [context.partition_key], "size": [len(context.partition_key)]})

    @dg.asset
    def inventory(item: dict[str, pl.DataFrame]) -> dict:
        return {key: frame["size"].item() for key, frame in item.items()}

    @dg.asset
    def inventory_table(item: pl.DataFrame) -> list:
        return sorted(item["item"].to_list())

    base = tmp_path / "base"
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "instance")) as instance:
        instance.add_dynamic_partitions("items", keys)
        for key in keys:
            result = run_assets([item], base, partition_key=key, instance=instance)
            assert _metadata(result, "item")["dagster/uri"] == str(base / "item" / f"{key}.arrow")
        result = run_assets(
            [item, inventory, inventory_table],
            base,
            selection=[inventory, inventory_table],
            instance=instance,
        )
    assert result.output_for_node("inventory") == {"apple": 5, "berry.v2": 8, "cherry": 6}
    assert result.output_for_node("inventory_table") == keys
    assert stored_files(base) == [
        "inventory.pickle.zst",
        "inventory_table.pickle.zst",
        "item/apple.arrow",
        "item/berry.v2.arrow",
        "item/cherry.arrow",
    ]


# ---------------------------------------------------------------------------------------------
# From unpartitioned to partitioned.

PERIODS = dg.StaticPartitionsDefinition(["p1", "p2"])


def _partitioned_version() -> list[dg.AssetsDefinition]:
    @dg.asset(partitions_def=PERIODS, name="a")
    def a(context: dg.AssetExecutionContext) -> pa.Table:
        return pa.table({"period": [context.partition_key]})

    @dg.asset(partitions_def=PERIODS)
    def reader(a: pa.Table) -> list:
        return a.column("period").to_pylist()

    return [a, reader]


def test_unpartitioned_then_partitioned(tmp_path: Path) -> None:
    @dg.asset(name="a")
    def a_unpartitioned() -> pa.Table:
        return pa.table({"period": ["all time"]})

    run_assets([a_unpartitioned], tmp_path)
    assert stored_files(tmp_path) == ["a.arrow"]

    a, reader = _partitioned_version()
    run_assets([a], tmp_path, partition_key="p1")
    assert "a/p1.arrow" in stored_files(tmp_path)
    result = run_assets([a, reader], tmp_path, selection=[reader], partition_key="p1")
    assert result.output_for_node("reader") == ["p1"]


def test_partitioned_over_a_filesystem_io_manager_file(tmp_path: Path) -> None:
    @dg.asset(name="a")
    def a_unpartitioned() -> pa.Table:
        return pa.table({"period": ["all time"]})

    base = tmp_path / "base"
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "instance")) as instance:
        run_assets(
            [a_unpartitioned],
            base,
            instance=instance,
            io_manager=dg.FilesystemIOManager(base_dir=str(base)),
        )
        # Dagster's own manager: a suffix-less file exactly where the partitions' folder goes.
        assert stored_files(base) == ["a"]
        assert (base / "a").is_file()

        a, reader = _partitioned_version()
        written = run_assets([a], base, partition_key="p2", instance=instance)
        # Its value is kept as this package's file of the unpartitioned key (see
        # test_partition_flip.py), where UPathIOManager deletes it.
        assert stored_files(base) == ["a.pickle.zst", "a/p2.arrow"]
        messages = [entry.user_message for entry in instance.all_logs(written.run_id)]
        assert any("Moved away" in message and str(base / "a") in message for message in messages)

        result = run_assets(
            [a, reader], base, selection=[reader], partition_key="p2", instance=instance
        )
    assert result.output_for_node("reader") == ["p2"]
    assert feather.read_table(base / "a" / "p2.arrow").column("period").to_pylist() == ["p2"]
