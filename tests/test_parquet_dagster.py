"""FastIOManager storing Parquet: assets write pandas, polars and pyarrow tables as `.parquet`
files and downstream assets read them back as pandas, polars, pyarrow, a LazyFrame and a DuckDB
relation, on local disk and on S3, partitioned and not; a format switch orphans nothing."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from dagster_helpers import run_assets, stored_files
from servers import S3Server

from dagster_fastio import FastIOManager, api

SEEN: dict[str, Any] = {}


@dg.asset
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"city": pd.Series(["Oslo", "Lima", None], dtype="str"), "temp": [3.5, 19.0, 11.25]},
        index=pd.Index([7, 8, 9], name="station"),
    )


@dg.asset
def polars_frame() -> pl.DataFrame:
    return pl.DataFrame({"k": ["x", "y", "x"], "v": [1, 2, 3]}).with_columns(
        pl.col("k").cast(pl.Categorical)
    )


@dg.asset
def arrow_table() -> pa.Table:
    return pa.table({"n": list(range(1000)), "half": [i / 2 for i in range(1000)]})


@dg.asset
def as_pandas(frame: pd.DataFrame) -> None:
    SEEN["pandas"] = frame


@dg.asset
def as_polars(polars_frame: pl.DataFrame) -> None:
    SEEN["polars"] = polars_frame


@dg.asset
def as_lazy(arrow_table: pl.LazyFrame) -> None:
    SEEN["lazy"] = arrow_table.filter(pl.col("n") >= 990).collect()


@dg.asset
def as_arrow(arrow_table: pa.Table) -> None:
    SEEN["arrow"] = arrow_table


@dg.asset
def as_relation(arrow_table: duckdb.DuckDBPyRelation) -> None:
    SEEN["relation"] = arrow_table.aggregate("count(*) AS rows, sum(n) AS total").fetchall()


EVERY_READER = [
    frame,
    polars_frame,
    arrow_table,
    as_pandas,
    as_polars,
    as_lazy,
    as_arrow,
    as_relation,
]


def check_every_reader() -> None:
    expected = frame()
    pd.testing.assert_frame_equal(SEEN["pandas"], expected)
    assert SEEN["polars"].to_dicts() == polars_frame().to_dicts()
    assert SEEN["polars"].schema["k"] == pl.Categorical
    assert SEEN["lazy"]["n"].to_list() == list(range(990, 1000))
    assert SEEN["arrow"].equals(arrow_table())
    assert SEEN["relation"] == [(1000, sum(range(1000)))]


def test_parquet_outputs_are_read_back_as_every_type(tmp_path: Path) -> None:
    SEEN.clear()
    result = run_assets(
        EVERY_READER, tmp_path, io_manager=FastIOManager(base_path=str(tmp_path), format="parquet")
    )
    check_every_reader()
    assert stored_files(tmp_path) == [
        "arrow_table.parquet",
        "frame.parquet",
        "polars_frame.parquet",
    ]
    # Files any Parquet reader opens, with the pandas index.
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "frame.parquet"), frame())
    assert duckdb.sql(f"SELECT sum(n) FROM '{tmp_path / 'arrow_table.parquet'}'").fetchall() == [
        (sum(range(1000)),)
    ]
    event = result.asset_materializations_for_node("arrow_table")[0]
    assert event.metadata["format"].value == "parquet"
    assert event.metadata["compression"].value == "zstd"
    assert event.metadata["dagster/uri"].value == str(tmp_path / "arrow_table.parquet")
    footer = api.read_footer(tmp_path / "arrow_table.parquet")
    assert footer.content_hash == event.metadata["content_hash"].value
    assert footer.metadata["dagster/asset_key"] == "arrow_table"


def test_parquet_on_s3_is_read_back_as_every_type(s3s_server: S3Server, s3s_bucket: str) -> None:
    SEEN.clear()
    base = f"s3://{s3s_bucket}/warehouse"
    manager = FastIOManager(base_path=base, format="parquet", storage_options=s3s_server.options())
    dg.materialize(EVERY_READER, resources={"io_manager": manager})
    check_every_reader()
    assert sorted(s3s_server.keys(s3s_bucket)) == [
        "warehouse/arrow_table.parquet",
        "warehouse/frame.parquet",
        "warehouse/polars_frame.parquet",
    ]


def test_one_asset_chooses_parquet_through_its_metadata(tmp_path: Path) -> None:
    @dg.asset(metadata={"fastio/format": "parquet"})
    def shared() -> pa.Table:
        return pa.table({"a": [1, 2, 3]})

    @dg.asset
    def private() -> pa.Table:
        return pa.table({"a": [4]})

    @dg.asset
    def both(shared: pa.Table, private: pa.Table) -> pa.Table:
        return pa.concat_tables([shared, private])

    run_assets([shared, private, both], tmp_path)
    assert stored_files(tmp_path) == ["both.arrow", "private.arrow", "shared.parquet"]
    assert api.read(tmp_path / "both.arrow")["a"].to_pylist() == [1, 2, 3, 4]


def test_switching_format_replaces_the_file_and_old_outputs_still_load(tmp_path: Path) -> None:
    @dg.asset
    def source() -> pa.Table:
        return pa.table({"a": [1, 2, 3]})

    @dg.asset
    def other() -> pa.Table:
        return pa.table({"b": ["x"]})

    @dg.asset
    def reader(source: pa.Table, other: pa.Table) -> None:
        SEEN["switched"] = (source["a"].to_pylist(), other["b"].to_pylist())

    run_assets([source, other], tmp_path)
    assert stored_files(tmp_path) == ["other.arrow", "source.arrow"]
    parquet = FastIOManager(base_path=str(tmp_path), format="parquet")
    run_assets([source, other], tmp_path, selection=[source], io_manager=parquet)
    assert stored_files(tmp_path) == ["other.arrow", "source.parquet"]
    # `other` was stored as IPC before the switch: it loads all the same, either way round.
    run_assets([source, other, reader], tmp_path, selection=[reader], io_manager=parquet)
    assert SEEN["switched"] == ([1, 2, 3], ["x"])
    run_assets([source, other, reader], tmp_path, selection=[reader])
    assert SEEN["switched"] == ([1, 2, 3], ["x"])

    # A pickled output removes the table of either format.
    @dg.asset(name="source")
    def source_as_object() -> dict[str, int]:
        return {"a": 1}

    run_assets([source_as_object], tmp_path, io_manager=parquet)
    assert stored_files(tmp_path) == ["other.arrow", "source.pickle.zst"]


DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-06")


@dg.asset(partitions_def=DAYS, metadata={"partition_expr": "day"})
def daily(context: dg.AssetExecutionContext) -> pa.Table:
    keys = context.partition_keys
    return pa.table(
        {
            "day": [key for key in keys for _ in range(3)],
            "value": list(range(3 * len(keys))),
        }
    )


@dg.asset(deps=[daily])
def daily_total(daily: duckdb.DuckDBPyRelation) -> None:
    SEEN["daily"] = (
        daily.filter("partition_key >= '2024-01-04'")
        .aggregate("count(*) AS rows, sum(value) AS total")
        .fetchall()
    )


@dg.asset(ins={"daily": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
def daily_frame(daily: pd.DataFrame) -> None:
    SEEN["daily_frame"] = daily


def test_partitioned_parquet_assets_and_a_range_output(tmp_path: Path) -> None:
    SEEN.clear()
    parquet = FastIOManager(base_path=str(tmp_path), format="parquet")
    run_assets([daily], tmp_path, partition_key="2024-01-01", io_manager=parquet)
    assert stored_files(tmp_path) == ["daily/2024-01-01.parquet"]
    # A single-run backfill of the other four days: one table split into four Parquet files.
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [daily],
            instance=instance,
            resources={"io_manager": parquet},
            tags={
                "dagster/asset_partition_range_start": "2024-01-02",
                "dagster/asset_partition_range_end": "2024-01-05",
            },
        )
        assert result.success
    assert stored_files(tmp_path) == [f"daily/2024-01-0{d}.parquet" for d in range(1, 6)]
    for day in range(1, 6):
        table = pq.read_table(tmp_path / f"daily/2024-01-0{day}.parquet")
        assert table["day"].to_pylist() == [f"2024-01-0{day}"] * 3
    run_assets(
        [daily, daily_total, daily_frame],
        tmp_path,
        selection=[daily_total, daily_frame],
        io_manager=parquet,
    )
    # Days 4 and 5 came from the range run, whose values ran on from day 2's: 6 to 11.
    assert SEEN["daily"] == [(6, sum(range(6, 12)))]
    assert len(SEEN["daily_frame"]) == 15


def test_an_unknown_format_is_refused_with_the_choices() -> None:
    context = dg.build_init_resource_context()
    with pytest.raises(ValueError, match="expected 'ipc' or 'parquet'"):
        FastIOManager(base_path="/tmp/unused", format="orc").setup_for_execution(context)
    with pytest.raises(ValueError, match="'snappy'"):
        manager = FastIOManager(base_path="/tmp/unused", compression="lzo", format="parquet")
        manager.setup_for_execution(context)
    # snappy is a Parquet codec, not an IPC one.
    with pytest.raises(ValueError, match="'zstd', 'lz4', 'none'"):
        FastIOManager(base_path="/tmp/unused", compression="snappy").setup_for_execution(context)


LETTERS = dg.StaticPartitionsDefinition(["a", "b", "c"])


@dg.asset(partitions_def=LETTERS)
def letters(context: dg.AssetExecutionContext) -> pa.Table:
    rows = "abc".index(context.partition_key) + 1
    return pa.table({"n": list(range(rows)), "letter": [context.partition_key] * rows})


@dg.asset(ins={"letters": dg.AssetIn(metadata={"fastio/dataset": True})})
def letters_scan(letters: pl.LazyFrame) -> None:
    SEEN["scan"] = letters.filter(pl.col("partition_key") != "a").collect().sort("letter", "n")


@dg.asset
def letters_dataset(letters: ds.Dataset) -> None:
    SEEN["dataset"] = letters.to_table(filter=ds.field("partition_key") == "c")


def test_parquet_partitions_as_one_dataset(tmp_path: Path) -> None:
    parquet = FastIOManager(base_path=str(tmp_path), format="parquet")
    for key in "abc":
        run_assets([letters], tmp_path, partition_key=key, io_manager=parquet)
    run_assets(
        [letters, letters_scan, letters_dataset],
        tmp_path,
        selection=[letters_scan, letters_dataset],
        io_manager=parquet,
    )
    assert SEEN["scan"]["letter"].to_list() == ["b", "b", "c", "c", "c"]
    assert SEEN["dataset"]["n"].to_pylist() == [0, 1, 2]


def test_a_changed_compat_level_rewrites_an_unchanged_table(tmp_path: Path) -> None:
    @dg.asset
    def views() -> pa.Table:
        return pa.table(
            {"s": pa.array(["a string of more than twelve bytes"] * 10, pa.string_view())}
        )

    first = run_assets([views], tmp_path)
    again = run_assets([views], tmp_path)
    wide = run_assets(
        [views], tmp_path, io_manager=FastIOManager(base_path=str(tmp_path), compat="wide")
    )
    unchanged = [
        r.asset_materializations_for_node("views")[0].metadata["unchanged"].value
        for r in (first, again, wide)
    ]
    assert unchanged == [False, True, False]
    assert pa.ipc.open_file(tmp_path / "views.arrow").schema.field("s").type == pa.large_string()


def test_an_input_looks_for_its_upstream_assets_format_first(tmp_path: Path) -> None:
    @dg.asset(metadata={"fastio/format": "parquet"})
    def chosen() -> pa.Table:
        return pa.table({"v": ["parquet"]})

    @dg.asset
    def reads(chosen: pa.Table) -> None:
        SEEN["chosen"] = chosen["v"].to_pylist()

    run_assets([chosen], tmp_path)
    # A stale file of the manager's own format, as a write that died before its cleanup leaves.
    api.write(pa.table({"v": ["stale ipc"]}), tmp_path / "chosen.arrow")
    run_assets([chosen, reads], tmp_path, selection=[reads])
    assert SEEN["chosen"] == ["parquet"]
