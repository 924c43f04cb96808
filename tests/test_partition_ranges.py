"""Outputs that cover a range of partitions, as single-run backfills produce them: split by the
``partition_expr`` column into the files one-partition runs write."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions at definition time.
import datetime as dt
import warnings
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

import dagster_fastio as fio
from dagster_fastio import FastIOManager, api
from tests.dagster_helpers import stored_files
from tests.servers import S3Server

# backfill_policy is a beta parameter: its warning is not this suite's subject.
pytestmark = pytest.mark.filterwarnings("ignore:Parameter `backfill_policy`")

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-06-01")
SINGLE_RUN = dg.BackfillPolicy.single_run()


def _range(start: str, end: str) -> dict[str, str]:
    # What the backfill daemon puts on the one run of a single-run backfill.
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


def _run(assets, base, tags=None, partition_key=None, raise_on_error=True, io_manager=None):
    return dg.materialize(
        assets,
        tags=tags,
        partition_key=partition_key,
        raise_on_error=raise_on_error,
        resources={"io_manager": io_manager or FastIOManager(base_path=str(base))},
    )


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    events = result.asset_materializations_for_node(key)
    return {name: getattr(value, "value", value) for name, value in events[0].metadata.items()}


def _days_table(window: dg.TimeWindow, rows_per_day: int = 3) -> pa.Table:
    days = []
    day = window.start.date()
    while day < window.end.date():
        days += [day] * rows_per_day
        day += dt.timedelta(days=1)
    return pa.table({"day": pa.array(days, pa.date32()), "n": list(range(len(days)))})


def _daily(context: dg.AssetExecutionContext) -> pa.Table:
    return _days_table(context.partition_time_window)


# Defined at import, where the mark above does not reach: the beta warning is silenced here.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")
    daily = dg.asset(
        name="daily",
        partitions_def=DAYS,
        backfill_policy=SINGLE_RUN,
        metadata={"partition_expr": "day"},
    )(_daily)


def test_a_100_day_range_is_split_into_the_files_of_one_day_runs(tmp_path: Path) -> None:
    result = _run([daily], tmp_path, tags=_range("2024-01-01", "2024-04-09"))
    files = stored_files(tmp_path)
    assert len(files) == 100 and files[0] == "daily/2024-01-01.arrow"
    meta = _metadata(result, "daily")
    assert meta["partitions"] == 100 and meta["written_rows"] == 300
    # The definition holds more keys than a write adds up (TOTAL_ROWS_MAX_PARTITIONS).
    assert "dagster/row_count" not in meta
    assert set(meta["partition_rows"].values()) == {3}
    for name in ("2024-01-01", "2024-02-29", "2024-04-09"):
        table = pyarrow.feather.read_table(tmp_path / "daily" / f"{name}.arrow")
        assert table["day"].to_pylist() == [dt.date.fromisoformat(name)] * 3
        footer = api.read_footer(tmp_path / "daily" / f"{name}.arrow")
        assert footer.metadata["dagster/partition_key"] == name
        assert footer.metadata["dagster/run_id"] == result.run_id
    # A one-day run afterwards writes to the same place and reads alongside.
    _run([daily], tmp_path, partition_key="2024-04-10")
    assert len(stored_files(tmp_path)) == 101

    every_stored = dg.AssetIn(
        partition_mapping=dg.AllPartitionMapping(), metadata={"allow_missing_partitions": True}
    )

    @dg.asset(ins={"daily": every_stored})
    def total(daily: pa.Table) -> pa.Table:
        return pa.table({"rows": [daily.num_rows]})

    @dg.asset(ins={"daily": every_stored})
    def by_day(daily: dict[str, pa.Table]) -> dict:
        return {key: table.num_rows for key, table in daily.items()}

    loaded = dg.materialize(
        [daily.to_source_asset(), total, by_day],
        resources={"io_manager": FastIOManager(base_path=str(tmp_path))},
    )
    assert loaded.success
    assert pyarrow.feather.read_table(tmp_path / "total.arrow")["rows"].to_pylist() == [303]
    counts = api.read_pickle(tmp_path / "by_day.pickle.zst")
    assert len(counts) == 101 and set(counts.values()) == {3}


def test_zoned_timestamps_and_wall_clock_dates_map_to_the_partitions_windows(
    tmp_path: Path,
) -> None:
    hours = dg.HourlyPartitionsDefinition(start_date="2024-03-01-00:00", timezone="Europe/Paris")

    @dg.asset(partitions_def=hours, backfill_policy=SINGLE_RUN, metadata={"partition_expr": "at"})
    def zoned(context: dg.AssetExecutionContext) -> pa.Table:
        start = context.partition_time_window.start.astimezone(dt.timezone.utc)
        times = [start + dt.timedelta(minutes=20 * i) for i in range(9)]  # three hours
        return pa.table({"at": pa.array(times, pa.timestamp("ms", "UTC"))})

    @dg.asset(partitions_def=hours, backfill_policy=SINGLE_RUN, metadata={"partition_expr": "at"})
    def naive(context: dg.AssetExecutionContext) -> pa.Table:
        # Wall-clock times in Paris, without a zone: compared as the database managers do.
        start = context.partition_time_window.start.replace(tzinfo=None)
        times = [start + dt.timedelta(minutes=20 * i) for i in range(9)]
        return pa.table({"at": pa.array(times, pa.timestamp("us"))})

    tags = _range("2024-03-01-10:00", "2024-03-01-12:00")
    _run([zoned, naive], tmp_path, tags=tags)
    for asset in ("zoned", "naive"):
        for hour in (10, 11, 12):
            table = pyarrow.feather.read_table(tmp_path / asset / f"2024-03-01-{hour}:00.arrow")
            assert table.num_rows == 3, (asset, hour)
    first = pyarrow.feather.read_table(tmp_path / "zoned" / "2024-03-01-10:00.arrow")
    # 10:00 in Paris (UTC+1 in March) is 09:00 UTC.
    assert first["at"][0].as_py() == dt.datetime(2024, 3, 1, 9, tzinfo=dt.timezone.utc)


STATIC = dg.StaticPartitionsDefinition(["apple", "kiwi", "pear", "plum"])


def test_static_keys_without_rows_get_empty_files_and_strays_fail_the_run(tmp_path: Path) -> None:
    rows = {"fruit": ["apple", "pear", "apple"], "n": [1, 2, 3]}

    @dg.asset(
        partitions_def=STATIC, backfill_policy=SINGLE_RUN, metadata={"partition_expr": "fruit"}
    )
    def fruit() -> pa.Table:
        return pa.table(rows)

    result = _run([fruit], tmp_path, tags=_range("apple", "pear"))
    assert _metadata(result, "fruit")["partition_rows"] == {"apple": 2, "kiwi": 0, "pear": 1}
    kiwi = pyarrow.feather.read_table(tmp_path / "fruit" / "kiwi.arrow")
    assert kiwi.num_rows == 0 and kiwi.schema.names == ["fruit", "n"]
    before = {
        name: (tmp_path / "fruit" / name).read_bytes() for name in ("apple.arrow", "pear.arrow")
    }
    # A row of a partition outside the run's range would overwrite a partition Dagster does not
    # record as materialized, or be lost: the run fails and no file of the range is replaced.
    rows["fruit"] = ["apple", "plum", "pear"]
    failed = _run([fruit], tmp_path, tags=_range("apple", "pear"), raise_on_error=False)
    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "fruit = plum" in failure.event_specific_data.error.to_string()
    after = {name: (tmp_path / "fruit" / name).read_bytes() for name in before}
    assert after == before
    assert not (tmp_path / "fruit" / "plum.arrow").exists()
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "fruit").iterdir())


def test_a_missing_partition_expr_says_what_to_set(tmp_path: Path) -> None:
    @dg.asset(partitions_def=STATIC, backfill_policy=SINGLE_RUN)
    def bare() -> pa.Table:
        return pa.table({"fruit": ["apple"]})

    failed = _run([bare], tmp_path, tags=_range("apple", "kiwi"), raise_on_error=False)
    (failure,) = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "partition_expr" in failure.event_specific_data.error.to_string()


def test_multi_partitions_split_on_one_column_per_dimension(tmp_path: Path) -> None:
    multi = dg.MultiPartitionsDefinition(
        {
            "date": dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04"),
            "color": dg.StaticPartitionsDefinition(["blue", "red"]),
        }
    )

    @dg.asset(
        partitions_def=multi,
        backfill_policy=SINGLE_RUN,
        metadata={"partition_expr": {"date": "day", "color": "shade"}},
    )
    def colors(context: dg.AssetExecutionContext) -> pl.DataFrame:
        keys = context.partition_keys
        return pl.DataFrame(
            {
                "day": [dt.date.fromisoformat(k.keys_by_dimension["date"]) for k in keys],
                "shade": [k.keys_by_dimension["color"] for k in keys],
                "n": list(range(len(keys))),
            }
        )

    result = _run([colors], tmp_path, tags=_range("blue|2024-01-01", "red|2024-01-03"))
    files = stored_files(tmp_path)
    assert files == sorted(
        f"colors/{color}/2024-01-0{d}.arrow" for color in ("blue", "red") for d in (1, 2, 3)
    )
    red = pl.read_ipc(tmp_path / "colors" / "red" / "2024-01-02.arrow")
    assert red["shade"].to_list() == ["red"] and red["day"].to_list() == [dt.date(2024, 1, 2)]
    assert _metadata(result, "colors")["dagster/row_count"] == 6


def test_lazy_frames_and_readers_stream_through_the_split(tmp_path: Path) -> None:
    @dg.asset(partitions_def=DAYS, backfill_policy=SINGLE_RUN, metadata={"partition_expr": "day"})
    def lazy(context: dg.AssetExecutionContext) -> pl.LazyFrame:
        return pl.from_arrow(_days_table(context.partition_time_window, 1000)).lazy()

    @dg.asset(partitions_def=DAYS, backfill_policy=SINGLE_RUN, metadata={"partition_expr": "day"})
    def reader(context: dg.AssetExecutionContext) -> pa.RecordBatchReader:
        table = _days_table(context.partition_time_window, 1000)
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=700))

    _run([lazy, reader], tmp_path, tags=_range("2024-01-01", "2024-01-05"))
    for asset in ("lazy", "reader"):
        tables = [
            pyarrow.feather.read_table(tmp_path / asset / f"2024-01-0{d}.arrow")
            for d in range(1, 6)
        ]
        assert [t.num_rows for t in tables] == [1000] * 5
        assert all(pc.all(pc.equal(t["day"], t["day"][0])).as_py() for t in tables)

    @dg.asset(partitions_def=DAYS)
    def again(lazy: pl.DataFrame) -> pl.DataFrame:
        return lazy

    loaded = dg.materialize(
        [lazy.to_source_asset(), again],
        partition_key="2024-01-03",
        resources={"io_manager": FastIOManager(base_path=str(tmp_path))},
    )
    assert loaded.success
    assert pl.read_ipc(tmp_path / "again" / "2024-01-03.arrow").height == 1000


def test_a_range_output_splits_on_s3(s3s_server: S3Server, s3s_bucket: str) -> None:
    manager = FastIOManager(
        base_path=f"s3://{s3s_bucket}/ranges", storage_options=s3s_server.options()
    )
    result = _run([daily], Path(), tags=_range("2024-01-01", "2024-01-10"), io_manager=manager)
    assert _metadata(result, "daily")["partitions"] == 10
    for day in range(1, 11):
        uri = f"s3://{s3s_bucket}/ranges/daily/2024-01-{day:02d}.arrow"
        table = fio.read(uri, storage_options=s3s_server.options())
        assert table["day"].to_pylist() == [dt.date(2024, 1, day)] * 3
