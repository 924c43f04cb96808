"""A partitioned asset read as one dataset: a polars LazyFrame (input metadata
``{"fastio/dataset": True}``) or a ``pyarrow.dataset.Dataset`` input over the stored partition
files, with the key as a string column. Dagster runs over static, daily and multi-partitions,
locally, on s3s-fs and on memory://; files opened are counted by wrapping the reader, or
files that must not be opened are deleted or overwritten with junk."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
import datetime
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.feather as feather
import pytest
from dagster_helpers import run_assets
from polars.testing import assert_frame_equal
from servers import S3Server

from dagster_fastio import FastIOManager, api
from dagster_fastio.datasets import StoredPartitions, chosen_files, scan_partitions
from dagster_fastio.layout import Location
from dagster_fastio.storage import Storage

DATASET = {"fastio/dataset": True}

# ---------------------------------------------------------------------------------------------
# Helpers.


class Opened:
    """Every ``api.read`` (a partition's data) and ``api.describe`` (a footer, for the
    schema) made while a test runs, as (file name relative to the asset, columns)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, asset: str) -> None:
        self.asset = asset
        self.reads: list[tuple[str, list[str] | None]] = []
        self.footers: list[str] = []
        real_read, real_describe = api.read, api.describe

        def read(uri: Any, columns: Any = None, *args: Any, **kwargs: Any) -> pa.Table:
            self.reads.append((self._name(uri), None if columns is None else list(columns)))
            return real_read(uri, columns, *args, **kwargs)

        def describe(uri: Any, *args: Any, **kwargs: Any) -> api.IpcSummary:
            self.footers.append(self._name(uri))
            return real_describe(uri, *args, **kwargs)

        monkeypatch.setattr(api, "read", read)
        monkeypatch.setattr(api, "describe", describe)

    def _name(self, uri: Any) -> str:
        return str(uri).replace("\\", "/").split(f"/{self.asset}/", 1)[1]

    @property
    def files(self) -> list[str]:
        return [name for name, _ in self.reads]

    def clear(self) -> None:
        self.reads.clear()
        self.footers.clear()


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    failures = result.get_step_failure_events()
    assert len(failures) == 1
    error = failures[0].step_failure_data.error
    assert error is not None
    return error.to_string()


def _concatenated(base: Path, asset: str, keys: dict[str, str], column: str) -> pl.DataFrame:
    """The partitions' files read by pyarrow one by one, each with its key: what a dataset
    over them must equal."""
    frames = []
    for file, key in keys.items():
        table = feather.read_table(base / asset / file)
        frames.append(pl.DataFrame(pl.from_arrow(table)).with_columns(pl.lit(key).alias(column)))
    return pl.concat(frames)


# ---------------------------------------------------------------------------------------------
# Four static partitions, partition "a" holding 1 row, "b" 2, "c" 3, "d" 4.

LETTERS = dg.StaticPartitionsDefinition(["a", "b", "c", "d"])
LETTER_FILES = {f"{key}.arrow": key for key in "abcd"}


@dg.asset(partitions_def=LETTERS)
def letters(context: dg.AssetExecutionContext) -> pa.Table:
    key = context.partition_key
    rows = "abcd".index(key) + 1
    return pa.table(
        {
            "n": pa.array(range(rows), pa.int64()),
            "label": [f"{key}{i}" for i in range(rows)],
        }
    )


def _materialize_letters(io_manager: FastIOManager, base: Path) -> None:
    for key in "abcd":
        run_assets([letters], base, partition_key=key, io_manager=io_manager)


@pytest.fixture(scope="module")
def letters_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("letters")
    _materialize_letters(FastIOManager(base_path=str(base)), base)
    return base


@pytest.fixture
def letters_copy(letters_base: Path, tmp_path: Path) -> Path:
    """A copy of the four partitions that a test may damage."""
    base = tmp_path / "letters-copy"
    shutil.copytree(letters_base, base)
    return base


def _run_downstream(
    *downstream: dg.AssetsDefinition, base: Path, upstream: Any = letters, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    """One run of the ``downstream`` assets of ``upstream``, which is not materialized again.
    (An asset cannot take two inputs of one upstream asset, so each way of reading is its own
    asset.)"""
    return run_assets([upstream, *downstream], base, selection=list(downstream), **kwargs)


def test_lazy_dataset_filter_on_the_key_opens_only_that_partition(
    letters_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Opened(monkeypatch, "letters")
    seen: dict[str, Any] = {}

    @dg.asset(ins={"letters": dg.AssetIn(metadata=DATASET)})
    def only_c(letters: pl.LazyFrame) -> None:
        seen["schema"] = letters.collect_schema()
        seen["footers"] = list(opened.footers)
        seen["reads before collect"] = list(opened.reads)
        seen["c"] = letters.filter(pl.col("partition_key") == "c").select("n").collect()

    _run_downstream(only_c, base=letters_base)
    assert seen["schema"] == pl.Schema(
        {"n": pl.Int64, "label": pl.String, "partition_key": pl.String}
    )
    # Loading the input reads one footer (the first partition's, for the schema) and no data.
    assert seen["footers"] == ["a.arrow"]
    assert seen["reads before collect"] == []
    # Collecting reads one file, and only the column the query uses.
    assert opened.reads == [("c.arrow", ["n"])]
    assert seen["c"]["n"].to_list() == [0, 1, 2]


def test_lazy_dataset_equals_the_concatenated_partitions_and_the_default_stays(
    letters_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Opened(monkeypatch, "letters")
    seen: dict[str, Any] = {}

    @dg.asset(ins={"letters": dg.AssetIn(metadata=DATASET)})
    def as_dataset(letters: pl.LazyFrame) -> None:
        seen["dataset"] = letters.collect()

    @dg.asset
    def as_default(letters: pl.LazyFrame) -> None:
        seen["default"] = letters.collect()

    _run_downstream(as_dataset, as_default, base=letters_base)
    expected = _concatenated(letters_base, "letters", LETTER_FILES, "partition_key")
    assert seen["dataset"].height == 10
    assert_frame_equal(seen["dataset"], expected)
    # The same rows as today's concatenation, which has no key column.
    assert seen["default"].columns == ["n", "label"]
    assert_frame_equal(seen["dataset"].drop("partition_key"), seen["default"])
    # The dataset read each file once (the default scan reads through polars' own reader).
    assert sorted(opened.files) == sorted(LETTER_FILES)


def test_lazy_dataset_projection_and_key_filters(
    letters_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Opened(monkeypatch, "letters")
    seen: dict[str, Any] = {}

    @dg.asset(ins={"letters": dg.AssetIn(metadata=DATASET)})
    def queries(letters: pl.LazyFrame) -> None:
        def run(name: str, query: pl.LazyFrame) -> None:
            opened.clear()
            seen[name] = (query.collect(), list(opened.reads))

        run("labels", letters.select("label"))
        run(
            "a or c, n > 0",
            letters.filter(pl.col("partition_key").is_in(["a", "c"]), pl.col("n") > 0),
        )
        run("not b", letters.filter(pl.col("partition_key") != "b").select("partition_key"))
        run("mixed or", letters.filter((pl.col("partition_key") == "a") | (pl.col("n") >= 3)))
        run("count d", letters.filter(pl.col("partition_key") == "d").select(pl.len()))
        run("head", letters.head(1))

    _run_downstream(queries, base=letters_base)
    frame, reads = seen["labels"]
    assert frame.columns == ["label"] and frame.height == 10
    assert reads == [(file, ["label"]) for file in LETTER_FILES]

    frame, reads = seen["a or c, n > 0"]
    assert frame.rows() == [(1, "c1", "c"), (2, "c2", "c")]
    assert [name for name, _ in reads] == ["a.arrow", "c.arrow"]

    frame, reads = seen["not b"]
    # The key column alone: files are opened for their row counts, no column is decoded.
    assert frame["partition_key"].to_list() == ["a"] + ["c"] * 3 + ["d"] * 4
    assert reads == [("a.arrow", []), ("c.arrow", []), ("d.arrow", [])]

    frame, reads = seen["mixed or"]
    # A term mixing a stored column with the key prunes nothing, but filters right.
    assert frame.rows() == [(0, "a0", "a"), (3, "d3", "d")]
    assert len(reads) == 4

    frame, reads = seen["count d"]
    assert frame.item() == 4
    assert [name for name, _ in reads] == ["d.arrow"]

    frame, reads = seen["head"]
    assert frame.rows() == [(0, "a0", "a")]
    assert [name for name, _ in reads] == ["a.arrow"]


def test_files_a_filter_excludes_are_never_opened(letters_copy: Path) -> None:
    (letters_copy / "letters" / "b.arrow").unlink()
    (letters_copy / "letters" / "d.arrow").write_bytes(b"not an Arrow file at all")
    seen: dict[str, Any] = {}

    @dg.asset(ins={"letters": dg.AssetIn(metadata=DATASET)})
    def polars_filtered(letters: pl.LazyFrame) -> None:
        seen["polars"] = letters.filter(pl.col("partition_key").is_in(["a", "c"])).collect()

    @dg.asset
    def arrow_filtered(letters: ds.Dataset) -> None:
        seen["arrow"] = letters.to_table(filter=ds.field("partition_key").isin(["a", "c"]))
        seen["fragments"] = [
            Path(fragment.path).name
            for fragment in letters.get_fragments(filter=ds.field("partition_key") != "b")
        ]

    _run_downstream(polars_filtered, arrow_filtered, base=letters_copy)
    assert seen["polars"]["label"].to_list() == ["a0", "c0", "c1", "c2"]
    assert seen["arrow"].column("label").to_pylist() == ["a0", "c0", "c1", "c2"]
    assert seen["arrow"].column("partition_key").to_pylist() == ["a", "c", "c", "c"]
    assert seen["fragments"] == ["a.arrow", "c.arrow", "d.arrow"]

    # The same datasets unfiltered open the damaged files and fail.
    @dg.asset(ins={"letters": dg.AssetIn(metadata=DATASET)})
    def polars_everything(letters: pl.LazyFrame) -> None:
        letters.filter(pl.col("partition_key") != "b").collect()

    result = _run_downstream(polars_everything, base=letters_copy, raise_on_error=False)
    assert "CorruptFileError" in _failure_text(result)

    @dg.asset
    def arrow_everything(letters: ds.Dataset) -> None:
        letters.to_table()

    result = _run_downstream(arrow_everything, base=letters_copy, raise_on_error=False)
    assert "b.arrow" in _failure_text(result)


def test_missing_partitions_are_skipped_when_allowed(letters_copy: Path) -> None:
    (letters_copy / "letters" / "b.arrow").unlink()
    seen: dict[str, Any] = {}
    allowed = {**DATASET, "allow_missing_partitions": True}

    @dg.asset(ins={"letters": dg.AssetIn(metadata=allowed)})
    def polars_tolerant(letters: pl.LazyFrame) -> None:
        keys = letters.collect()["partition_key"]
        seen["polars"] = keys.unique(maintain_order=True).to_list()

    @dg.asset(ins={"letters": dg.AssetIn(metadata={"allow_missing_partitions": True})})
    def arrow_tolerant(letters: ds.Dataset) -> None:
        seen["arrow"] = sorted(set(letters.to_table().column("partition_key").to_pylist()))

    @dg.asset(ins={"letters": dg.AssetIn(metadata=DATASET)})
    def strict(letters: pl.LazyFrame) -> None:
        seen["strict, filtered"] = letters.filter(pl.col("partition_key") == "c").collect().height
        with pytest.raises(FileNotFoundError, match=r"b\.arrow"):
            letters.collect()
        seen["strict raised"] = True

    with dg.instance_for_test() as instance:
        result = _run_downstream(
            polars_tolerant, arrow_tolerant, strict, base=letters_copy, instance=instance
        )
        warnings = [
            entry.user_message
            for entry in instance.all_logs(result.run_id)
            if "Skipped missing partition" in entry.user_message
        ]
    assert seen["polars"] == ["a", "c", "d"]
    assert seen["arrow"] == ["a", "c", "d"]
    assert seen["strict, filtered"] == 3
    assert seen["strict raised"]
    # Once for the polars scan, once for the pyarrow dataset, naming the file.
    assert len(warnings) == 2
    assert all("letters/b.arrow" in message for message in warnings)


def test_columns_metadata_and_the_key_column_name(letters_base: Path) -> None:
    seen: dict[str, Any] = {}

    @dg.asset(
        ins={
            "letters": dg.AssetIn(
                metadata={"columns": ["label"], "fastio/partition_columns": "letter"}
            )
        }
    )
    def polars_renamed(letters: pl.LazyFrame) -> None:
        seen["polars"] = letters.filter(pl.col("letter") == "b").collect()

    @dg.asset(
        ins={
            "letters": dg.AssetIn(metadata={"columns": ["n"], "fastio/partition_columns": "letter"})
        }
    )
    def arrow_renamed(letters: ds.Dataset) -> None:
        seen["arrow"] = letters.to_table(filter=ds.field("letter") == "b")

    _run_downstream(polars_renamed, arrow_renamed, base=letters_base)
    assert seen["polars"].rows() == [("b0", "b"), ("b1", "b")]
    assert seen["arrow"].to_pydict() == {"n": [0, 1], "letter": ["b", "b"]}


def test_asking_a_dataset_of_another_type_is_an_error(letters_base: Path) -> None:
    @dg.asset(ins={"letters": dg.AssetIn(metadata=DATASET)})
    def wrong(letters: pa.Table) -> None:
        pass

    result = _run_downstream(wrong, base=letters_base, raise_on_error=False)
    assert "applies to inputs annotated pl.LazyFrame" in _failure_text(result)


# ---------------------------------------------------------------------------------------------
# Daily partitions: all of them, and the window a partition mapping gives.

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-08")
DAY_KEYS = [f"2024-01-0{day}" for day in range(1, 8)]


@dg.asset(partitions_def=DAYS)
def sales(context: dg.AssetExecutionContext) -> pl.DataFrame:
    day = int(context.partition_key[-2:])
    return pl.DataFrame({"store": ["north", "south"], "amount": [day * 10, day * 10 + 1]})


@pytest.fixture(scope="module")
def sales_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sales")
    assert DAYS.get_partition_keys() == DAY_KEYS
    for key in DAY_KEYS:
        run_assets([sales], base, partition_key=key)
    return base


def test_arrow_dataset_of_daily_partitions_prunes_by_date(sales_base: Path, tmp_path: Path) -> None:
    base = tmp_path / "sales"
    shutil.copytree(sales_base, base)
    # Days 2 to 5 are damaged: a filter from day 6 on must not open them (day 1 gives the
    # schema, from its footer).
    for day in range(2, 6):
        (base / "sales" / f"2024-01-0{day}.arrow").write_bytes(b"\0" * 64)
    seen: dict[str, Any] = {}

    @dg.asset
    def late_sales(sales: ds.Dataset) -> pa.Table:
        seen["schema"] = sales.schema
        recent = ds.field("partition_key") >= "2024-01-06"
        seen["table"] = sales.to_table(filter=recent, columns=["amount", "partition_key"])
        return seen["table"]

    run_assets([sales, late_sales], base, selection=[late_sales])
    assert seen["schema"].names == ["store", "amount", "partition_key"]
    assert b"dagster_fastio.python_type" not in (seen["schema"].metadata or {})
    assert seen["table"].to_pydict() == {
        "amount": [60, 61, 70, 71],
        "partition_key": ["2024-01-06"] * 2 + ["2024-01-07"] * 2,
    }


def test_datasets_of_all_days_equal_the_concatenation(sales_base: Path) -> None:
    seen: dict[str, Any] = {}

    @dg.asset(ins={"sales": dg.AssetIn(metadata=DATASET)})
    def polars_sales(sales: pl.LazyFrame) -> None:
        seen["polars"] = sales.collect()
        # The key is a string; a date is one cast away.
        seen["dates"] = (
            sales.filter(pl.col("partition_key").str.to_date() > datetime.date(2024, 1, 5))
            .select("amount")
            .collect()
        )

    @dg.asset
    def arrow_sales(sales: ds.Dataset) -> None:
        seen["arrow"] = sales.to_table()

    _run_downstream(polars_sales, arrow_sales, base=sales_base, upstream=sales)
    expected = _concatenated(
        sales_base, "sales", {f"{key}.arrow": key for key in DAY_KEYS}, "partition_key"
    )
    assert_frame_equal(seen["polars"], expected)
    assert_frame_equal(pl.DataFrame(pl.from_arrow(seen["arrow"])), expected)
    assert seen["dates"]["amount"].to_list() == [60, 61, 70, 71]


def test_a_partition_mapping_gives_the_dataset_its_window(
    sales_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Opened(monkeypatch, "sales")
    seen: dict[str, Any] = {}

    @dg.asset(
        partitions_def=DAYS,
        ins={
            "sales": dg.AssetIn(
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-2),
                metadata=DATASET,
            )
        },
    )
    def three_days(sales: pl.LazyFrame) -> pl.DataFrame:
        seen["keys"] = sales.select("partition_key").unique(maintain_order=True).collect()
        return sales.group_by("store").agg(pl.col("amount").sum()).sort("store").collect()

    run_assets([sales, three_days], sales_base, selection=[three_days], partition_key="2024-01-05")
    assert seen["keys"]["partition_key"].to_list() == ["2024-01-03", "2024-01-04", "2024-01-05"]
    # Only the window's files, once per collect.
    assert sorted(opened.files) == [f"2024-01-0{day}.arrow" for day in (3, 3, 4, 4, 5, 5)]
    stored = feather.read_table(sales_base / "three_days" / "2024-01-05.arrow")
    assert stored.to_pydict() == {"store": ["north", "south"], "amount": [120, 123]}


# ---------------------------------------------------------------------------------------------
# Multi-partitions: one key column per dimension.

GRID = dg.MultiPartitionsDefinition(
    {
        "date": dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04"),
        "color": dg.StaticPartitionsDefinition(["blue", "red"]),
    }
)


@dg.asset(partitions_def=GRID)
def paint(context: dg.AssetExecutionContext) -> pa.Table:
    keys = context.partition_key.keys_by_dimension
    day = datetime.date.fromisoformat(keys["date"])
    # A stored "date" column, as daily data often has: it shares the dimension's name.
    return pa.table({"date": [day], "litres": [float(day.day) + (keys["color"] == "red")]})


@pytest.fixture(scope="module")
def paint_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("paint")
    for key in GRID.get_partition_keys():
        run_assets([paint], base, partition_key=key)
    return base


def test_multi_partitions_give_one_key_column_per_dimension(
    paint_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Opened(monkeypatch, "paint")
    seen: dict[str, Any] = {}
    renamed = {**DATASET, "fastio/partition_columns": {"date": "day"}}

    @dg.asset(ins={"polars": dg.AssetIn(key="paint", metadata=renamed)})
    def red(polars: pl.LazyFrame) -> None:
        seen["schema"] = polars.collect_schema()
        opened.clear()
        seen["red"] = polars.filter(pl.col("color") == "red").collect()
        seen["red files"] = sorted(opened.files)
        opened.clear()
        query = polars.filter(pl.col("color") == "blue", pl.col("day") == "2024-01-02")
        seen["one"] = query.select("litres").collect()
        seen["one file"] = list(opened.reads)
        seen["all"] = polars.collect()

    run_assets([paint, red], paint_base, selection=[red])
    assert seen["schema"].names() == ["date", "litres", "color", "day"]
    assert seen["red files"] == [f"red/2024-01-0{day}.arrow" for day in (1, 2, 3)]
    assert seen["red"]["litres"].to_list() == [2.0, 3.0, 4.0]
    assert seen["red"]["day"].to_list() == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert seen["one file"] == [("blue/2024-01-02.arrow", ["litres"])]
    assert seen["one"]["litres"].to_list() == [2.0]
    files = {
        f"{key.keys_by_dimension['color']}/{key.keys_by_dimension['date']}.arrow": key
        for key in GRID.get_partition_keys()
    }
    expected = pl.concat(
        [
            pl.DataFrame(
                pl.from_arrow(feather.read_table(paint_base / "paint" / file))
            ).with_columns(
                color=pl.lit(key.keys_by_dimension["color"]),
                day=pl.lit(key.keys_by_dimension["date"]),
            )
            for file, key in files.items()
        ]
    )
    assert_frame_equal(seen["all"], expected)


def test_a_stored_column_named_like_a_key_column_is_an_error(paint_base: Path) -> None:
    @dg.asset(ins={"paint": dg.AssetIn(metadata=DATASET)})
    def clash(paint: pl.LazyFrame) -> None:
        pass

    result = run_assets([paint, clash], paint_base, selection=[clash], raise_on_error=False)
    message = _failure_text(result)
    assert "column named 'date'" in message
    assert "fastio/partition_columns" in message

    @dg.asset
    def arrow_clash(paint: ds.Dataset) -> None:
        pass

    result = run_assets(
        [paint, arrow_clash], paint_base, selection=[arrow_clash], raise_on_error=False
    )
    assert "column named 'date'" in _failure_text(result)


def test_arrow_dataset_of_multi_partitions(paint_base: Path) -> None:
    seen: dict[str, Any] = {}

    @dg.asset(ins={"paint": dg.AssetIn(metadata={"fastio/partition_columns": {"date": "day"}})})
    def blue(paint: ds.Dataset) -> None:
        where = (ds.field("color") == "blue") & (ds.field("day") <= "2024-01-02")
        seen["fragments"] = sorted(
            "/".join(Path(f.path).parts[-2:]) for f in paint.get_fragments(filter=where)
        )
        seen["table"] = paint.to_table(filter=where, columns=["litres", "day"])

    run_assets([paint, blue], paint_base, selection=[blue])
    assert seen["fragments"] == ["blue/2024-01-01.arrow", "blue/2024-01-02.arrow"]
    assert seen["table"].to_pydict() == {"litres": [1.0, 2.0], "day": ["2024-01-01", "2024-01-02"]}


# ---------------------------------------------------------------------------------------------
# Object stores.


def test_datasets_over_s3(
    s3_server: S3Server, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On s3s-fs and on moto: both paths, this package's reader and pyarrow's S3FileSystem.
    manager = FastIOManager(base_path=f"s3://{bucket}/lake", storage_options=s3_server.options())
    _materialize_letters(manager, tmp_path)
    assert s3_server.keys(bucket) == [f"lake/letters/{file}" for file in LETTER_FILES]
    opened = Opened(monkeypatch, "letters")
    seen: dict[str, Any] = {}

    @dg.asset(ins={"letters": dg.AssetIn(metadata=DATASET)})
    def polars_from_s3(letters: pl.LazyFrame) -> None:
        seen["polars"] = letters.filter(pl.col("partition_key") == "b").collect()
        seen["polars reads"] = list(opened.reads)
        seen["all"] = letters.collect()

    @dg.asset
    def arrow_from_s3(letters: ds.Dataset) -> None:
        seen["arrow"] = letters.to_table(filter=ds.field("partition_key") == "b")
        seen["fragments"] = [
            f.path for f in letters.get_fragments(filter=ds.field("partition_key") == "b")
        ]
        seen["filesystem"] = repr(letters.filesystem)

    _run_downstream(polars_from_s3, base=tmp_path, io_manager=manager)
    _run_downstream(arrow_from_s3, base=tmp_path, io_manager=manager)
    assert seen["polars"].rows() == [(0, "b0", "b"), (1, "b1", "b")]
    assert seen["polars reads"] == [("b.arrow", ["n", "label"])]
    assert seen["all"].height == 10
    assert seen["arrow"].to_pydict() == {
        "n": [0, 1],
        "label": ["b0", "b1"],
        "partition_key": ["b", "b"],
    }
    assert seen["fragments"] == [f"{bucket}/lake/letters/b.arrow"]
    assert s3_server.secret_key not in seen["filesystem"]


def test_arrow_dataset_over_s3_with_a_wrong_secret_does_not_show_it(
    s3s_server: S3Server, s3s_bucket: str, tmp_path: Path
) -> None:
    options = s3s_server.options()
    manager = FastIOManager(base_path=f"s3://{s3s_bucket}/lake", storage_options=options)
    _materialize_letters(manager, tmp_path)
    wrong_secret = "wrong-secret-never-shown-0123456789"
    wrong = FastIOManager(
        base_path=f"s3://{s3s_bucket}/lake",
        storage_options={**options, "aws_secret_access_key": wrong_secret},
    )

    @dg.asset
    def denied(letters: ds.Dataset) -> None:
        letters.to_table()

    result = _run_downstream(denied, base=tmp_path, io_manager=wrong, raise_on_error=False)
    message = _failure_text(result)
    assert wrong_secret not in message
    assert "letters" in message


def test_memory_store_serves_the_lazy_dataset_and_names_it_for_arrow(tmp_path: Path) -> None:
    manager = FastIOManager(base_path="memory://datasets-test")
    _materialize_letters(manager, tmp_path)
    seen: dict[str, Any] = {}

    @dg.asset(ins={"letters": dg.AssetIn(metadata=DATASET)})
    def in_memory(letters: pl.LazyFrame) -> None:
        seen["d"] = letters.filter(pl.col("partition_key") == "d").select("n").collect()

    _run_downstream(in_memory, base=tmp_path, io_manager=manager)
    assert seen["d"]["n"].to_list() == [0, 1, 2, 3]

    @dg.asset
    def arrow_in_memory(letters: ds.Dataset) -> None:
        pass

    result = _run_downstream(
        arrow_in_memory, base=tmp_path, io_manager=manager, raise_on_error=False
    )
    message = _failure_text(result)
    assert "local files and s3:// objects, not memory://" in message
    assert "fastio/dataset" in message


def test_storage_options_pyarrow_cannot_take_are_named_without_values() -> None:
    from dagster_fastio.arrow_filesystems import arrow_filesystem

    with pytest.raises(ValueError, match="'aws_sse_kms_key_id'") as raised:
        arrow_filesystem(["s3://b/k.arrow"], {"aws_sse_kms_key_id": "kms-secret-value"})
    assert "kms-secret-value" not in str(raised.value)
    filesystem, paths = arrow_filesystem(
        ["s3://b/x/k.arrow"],
        {"aws_endpoint": "http://127.0.0.1:9", "aws_region": "us-east-1", "max_retries": "3"},
    )
    assert paths == ["b/x/k.arrow"]
    assert filesystem.region == "us-east-1"


# ---------------------------------------------------------------------------------------------
# The machinery without Dagster: which files a predicate keeps, and partitions that differ.


@pytest.fixture
def three_parts(tmp_path: Path) -> Iterator[tuple[StoredPartitions, Storage]]:
    base = Location.base(str(tmp_path))
    stems = base.stem(["t"]).partitions(["x", "y", "z"])
    tables = {
        "x": pa.table({"v": pa.array([1, 2], pa.int64())}),
        # A later partition with an added column and a narrower type.
        "y": pa.table({"v": pa.array([3], pa.int32()), "extra": ["e"]}),
        "z": pa.table({"other": [True]}),
    }
    for key, stem in stems.items():
        api.write(tables[key], stem.table.text)
    yield StoredPartitions.of(stems), Storage(base, None, None, None, None, False, None)


def test_chosen_files_evaluates_only_terms_of_key_columns(
    three_parts: tuple[StoredPartitions, Storage],
) -> None:
    parts, _ = three_parts
    key, v = pl.col("partition_key"), pl.col("v")
    assert chosen_files(parts, None) == [0, 1, 2]
    assert chosen_files(parts, key == "y") == [1]
    assert chosen_files(parts, ~(key == "y")) == [0, 2]
    assert chosen_files(parts, (key == "x") & (v > 1) & (key != "z")) == [0]
    assert chosen_files(parts, (key == "x") | (v > 1)) == [0, 1, 2]
    assert chosen_files(parts, key.is_in(["x", "z"]) & key.str.contains("z")) == [2]
    assert chosen_files(parts, key.is_null()) == []
    assert chosen_files(parts, v > 1) == [0, 1, 2]


def test_partitions_with_other_columns_read_as_concatenation_fills_them(
    three_parts: tuple[StoredPartitions, Storage],
) -> None:
    parts, storage = three_parts
    frame = scan_partitions(parts, storage)
    # The first partition gives the schema; a partition's missing column is null, and a
    # narrower type is cast to the dataset's.
    assert frame.collect_schema() == pl.Schema({"v": pl.Int64, "partition_key": pl.String})
    assert frame.collect().rows() == [(1, "x"), (2, "x"), (3, "y"), (None, "z")]
    assert frame.filter(pl.col("v") > 1).collect().rows() == [(2, "x"), (3, "y")]


def test_an_unpartitioned_upstream_is_a_dataset_of_one_file(tmp_path: Path) -> None:
    @dg.asset
    def single() -> pa.Table:
        return pa.table({"x": [1, 2, 3]})

    seen: dict[str, Any] = {}

    @dg.asset(ins={"single": dg.AssetIn(metadata=DATASET)})
    def polars_single(single: pl.LazyFrame) -> None:
        seen["polars"] = single.filter(pl.col("x") > 1).collect()

    @dg.asset
    def arrow_single(single: ds.Dataset | None) -> None:
        assert single is not None
        seen["arrow"] = single.to_table(filter=ds.field("x") < 3)

    run_assets([single], tmp_path)
    _run_downstream(polars_single, arrow_single, base=tmp_path, upstream=single)
    assert seen["polars"].rows() == [(2,), (3,)]
    assert seen["arrow"].to_pydict() == {"x": [1, 2]}
