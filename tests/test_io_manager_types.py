"""FastIOManager type handling in real Dagster runs: what an output is stored as, and what an
input gets back for each annotation (or none), including column projection and laziness.

The downstream assets assert inside the run; `_run` fails the test when a step fails.
"""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
import typing
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pandas.testing as pdt
import polars as pl
import polars.testing as plt
import pyarrow as pa
import pyarrow.feather as feather
import pytest
from dagster_helpers import run_assets, stored_files

import dagster_fastio as fio
from dagster_fastio.io_manager import read_pickle

# ---------------------------------------------------------------------------------------------
# Helpers.


def _arrow_table() -> pa.Table:
    return pa.table(
        {
            "x": pa.array([1, 2, 3], pa.int64()),
            "y": pa.array(["a", "b", None]),
            "z": pa.array([0.5, 1.5, 2.5]),
        }
    )


def _rich_pandas() -> pd.DataFrame:
    """A frame whose dtypes only survive when the pandas metadata is kept."""
    return pd.DataFrame(
        {
            "category": pd.Categorical(
                ["low", "high", "low", "mid"], categories=["low", "mid", "high"], ordered=True
            ),
            "when": pd.date_range("2024-03-30 22:00", periods=4, freq="h", tz="Europe/Paris"),
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
            "flag": pd.array([True, None, False, True], dtype="boolean"),
            "ratio": pd.array([0.25, None, 1.0, 2.0], dtype="Float64"),
            "label": pd.array(["a", None, "c", "d"], dtype="string"),
            "plain": [1.0, 2.0, 3.0, 4.0],
        },
        index=pd.Index([10, 20, 30, 40], name="row_id"),
    )


def _polars_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "k": [1, 2, 3],
            "name": ["one", "two", None],
            "cat": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
            "items": [[1], [2, 3], []],
        }
    )


# ---------------------------------------------------------------------------------------------
# Round trips: stored by one asset, loaded unannotated by the next (the stored type returns).


def test_pyarrow_table_round_trip(tmp_path: Path) -> None:
    @dg.asset
    def up() -> pa.Table:
        return _arrow_table()

    @dg.asset
    def down(up):
        assert isinstance(up, pa.Table)
        assert up.equals(_arrow_table())
        assert up.schema.metadata is None
        return up.num_rows

    assert run_assets([up, down], tmp_path).output_for_node("down") == 3


def test_record_batch_output_comes_back_as_a_table(tmp_path: Path) -> None:
    @dg.asset
    def up() -> pa.RecordBatch:
        return pa.record_batch({"x": [1, 2], "y": ["p", "q"]})

    @dg.asset
    def down(up):
        assert isinstance(up, pa.Table)
        assert up.equals(pa.table({"x": [1, 2], "y": ["p", "q"]}))
        return True

    run_assets([up, down], tmp_path)
    assert stored_files(tmp_path) == ["down.pickle.zst", "up.arrow"]


def test_record_batch_reader_output_is_streamed_and_read_back_as_a_reader(
    tmp_path: Path,
) -> None:
    schema = pa.schema([("n", pa.int64()), ("sq", pa.int64())])
    batches = [
        pa.record_batch({"n": list(range(i, i + 100)), "sq": [v * v for v in range(i, i + 100)]})
        for i in range(0, 500, 100)
    ]

    @dg.asset
    def up() -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(schema, iter(batches))

    @dg.asset
    def down(up):
        assert isinstance(up, pa.RecordBatchReader)
        assert up.read_all().equals(pa.Table.from_batches(batches))
        return True

    @dg.asset
    def as_table(up: pa.Table) -> int:
        assert up.equals(pa.Table.from_batches(batches))
        return up.num_rows

    result = run_assets([up, down, as_table], tmp_path)
    assert result.output_for_node("as_table") == 500
    up_meta = next(
        event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey("up")
    )
    assert up_meta["dagster/row_count"].value == 500
    assert feather.read_table(tmp_path / "up.arrow").equals(pa.Table.from_batches(batches))


def test_arrow_stream_exporter_output_is_stored_as_a_table(tmp_path: Path) -> None:
    class Exporter:
        """Neither pyarrow nor pandas nor polars: only the Arrow C stream protocol."""

        def __init__(self, table: pa.Table) -> None:
            self._table = table

        def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
            return self._table.__arrow_c_stream__(requested_schema)

    @dg.asset
    def up():
        return Exporter(_arrow_table())

    @dg.asset
    def down(up: pa.Table) -> int:
        assert up.equals(_arrow_table())
        return up.num_rows

    assert run_assets([up, down], tmp_path).output_for_node("down") == 3
    assert feather.read_table(tmp_path / "up.arrow").equals(_arrow_table())


def test_pandas_round_trip_keeps_index_categorical_timezone_and_nullable_dtypes(
    tmp_path: Path,
) -> None:
    @dg.asset
    def up() -> pd.DataFrame:
        return _rich_pandas()

    @dg.asset
    def down(up):
        assert isinstance(up, pd.DataFrame)
        pdt.assert_frame_equal(up, _rich_pandas())
        return True

    @dg.asset
    def annotated(up: pd.DataFrame) -> bool:
        pdt.assert_frame_equal(up, _rich_pandas())
        assert up.index.name == "row_id"
        assert isinstance(up["category"].dtype, pd.CategoricalDtype)
        assert up["category"].cat.ordered
        assert str(up["when"].dt.tz) == "Europe/Paris"
        assert up["count"].dtype == "Int64"
        return True

    run_assets([up, down, annotated], tmp_path)
    # The file carries one dictionary for the categorical column and opens anywhere.
    stored = feather.read_table(tmp_path / "up.arrow")
    assert pa.types.is_dictionary(stored.schema.field("category").type)
    pdt.assert_frame_equal(stored.to_pandas(), _rich_pandas())


def test_pandas_frame_with_multiindex_and_unnamed_index(tmp_path: Path) -> None:
    multi = pd.DataFrame(
        {"v": [1.0, 2.0, 3.0]},
        index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["k", "n"]),
    )
    unnamed = pd.DataFrame({"v": [3, 4]}, index=[7, 9])

    @dg.asset
    def up_multi() -> pd.DataFrame:
        return multi

    @dg.asset
    def up_unnamed() -> pd.DataFrame:
        return unnamed

    @dg.asset
    def down(up_multi, up_unnamed):
        pdt.assert_frame_equal(up_multi, multi)
        pdt.assert_frame_equal(up_unnamed, unnamed)
        return True

    run_assets([up_multi, up_unnamed, down], tmp_path)


def test_categorical_with_several_chunks_is_stored_with_one_dictionary(tmp_path: Path) -> None:
    # Two chunks with different dictionaries: an Arrow IPC file allows only one per column.
    chunked = pa.concat_tables(
        [
            pa.table({"c": pa.array(["a", "b"]).dictionary_encode()}),
            pa.table({"c": pa.array(["c", "a"]).dictionary_encode()}),
        ]
    )

    @dg.asset
    def up() -> pa.Table:
        return chunked

    @dg.asset
    def down(up: pa.Table) -> list:
        return up.column("c").to_pylist()

    assert run_assets([up, down], tmp_path).output_for_node("down") == ["a", "b", "c", "a"]


def test_polars_frame_round_trip(tmp_path: Path) -> None:
    @dg.asset
    def up() -> pl.DataFrame:
        return _polars_frame()

    @dg.asset
    def down(up):
        assert isinstance(up, pl.DataFrame)
        plt.assert_frame_equal(up, _polars_frame())
        return True

    run_assets([up, down], tmp_path)
    plt.assert_frame_equal(pl.read_ipc(tmp_path / "up.arrow"), _polars_frame())


def test_polars_lazy_frame_output_is_collected_into_the_file(tmp_path: Path) -> None:
    source = pl.DataFrame({"n": list(range(1000))})

    @dg.asset
    def up() -> pl.LazyFrame:
        return source.lazy().filter(pl.col("n") % 2 == 0).with_columns(half=pl.col("n") // 2)

    @dg.asset
    def as_frame(up: pl.DataFrame) -> int:
        assert up.columns == ["n", "half"]
        assert up.height == 500
        assert up["half"].to_list() == list(range(500))
        return up.height

    @dg.asset
    def unannotated(up):
        # Stored from a LazyFrame, handed back as one: a scan of the file.
        assert isinstance(up, pl.LazyFrame)
        return up.select(pl.col("half").sum()).collect().item()

    result = run_assets([up, as_frame, unannotated], tmp_path)
    assert result.output_for_node("unannotated") == sum(range(500))
    stored = feather.read_table(tmp_path / "up.arrow")
    assert stored.num_rows == 500
    assert stored.column_names == ["n", "half"]
    up_meta = next(
        event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey("up")
    )
    assert up_meta["dagster/row_count"].value == 500
    assert [c.name for c in up_meta["dagster/column_schema"].value.columns] == ["n", "half"]
    assert up_meta["stored_bytes"].value == (tmp_path / "up.arrow").stat().st_size


def _string_heavy_polars(rows: int) -> pl.DataFrame:
    n = pl.col("n")
    return pl.select(n=pl.int_range(rows, dtype=pl.Int64)).with_columns(
        name=pl.format("name {}", n % 97),
        kind=pl.format("k{}", n % 3).cast(pl.Categorical),
        day=pl.date(2024, 1, 1) + pl.duration(days=n % 28),
        tags=pl.concat_list(pl.format("t{}", n % 5)),
    )


def test_polars_lazy_frame_output_with_string_columns(tmp_path: Path) -> None:
    # Strings, categoricals, dates and lists, in enough rows for several streamed batches.
    rows = 60_000
    source = _string_heavy_polars(rows)
    expected = source.filter(pl.col("n") % 2 == 1)
    batches = source.lazy().filter(pl.col("n") % 2 == 1).collect_batches()
    assert sum(1 for _ in batches) > 1

    @dg.asset
    def up() -> pl.LazyFrame:
        return source.lazy().filter(pl.col("n") % 2 == 1)

    @dg.asset
    def down(up: pl.DataFrame) -> bool:
        plt.assert_frame_equal(up, expected, check_dtypes=False)
        assert up["kind"].cast(pl.String).to_list()[:3] == ["k1", "k0", "k2"]
        return True

    result = run_assets([up, down], tmp_path, raise_on_error=False)
    failures = [
        event.step_failure_data.error.to_string()  # type: ignore[union-attr]
        for event in result.get_step_failure_events()
    ]
    assert result.success, failures
    stored = feather.read_table(tmp_path / "up.arrow")
    assert stored.num_rows == rows // 2
    assert stored.column("name").to_pylist()[:2] == ["name 1", "name 3"]


@pytest.mark.parametrize(
    ("value", "check"),
    [
        (pd.Series([1.5, None, 3.0], name="s", index=[7, 8, 9]), pdt.assert_series_equal),
        (pl.Series("s", [1, None, 3]), plt.assert_series_equal),
    ],
    ids=["pandas", "polars"],
)
def test_series_outputs_round_trip(tmp_path: Path, value: Any, check: Any) -> None:
    # A Series exports an Arrow stream of a plain array, not of a table: FilesystemIOManager
    # pickles it, and a drop-in must hand it over as well.
    @dg.asset
    def up():
        return value

    @dg.asset
    def down(up):
        check(up, value)
        return True

    result = run_assets([up, down], tmp_path, raise_on_error=False)
    failures = [
        event.step_failure_data.error.to_string()  # type: ignore[union-attr]
        for event in result.get_step_failure_events()
    ]
    assert result.success, failures


def test_dict_round_trip(tmp_path: Path) -> None:
    value = {"a": [1, 2, 3], "b": {"nested": (1, "x")}, "c": None}

    @dg.asset
    def up() -> dict:
        return value

    @dg.asset
    def down(up):
        assert up == value
        return True

    @dg.asset
    def annotated(up: dict[str, Any]) -> bool:
        assert up == value
        return True

    run_assets([up, down, annotated], tmp_path)
    assert read_pickle(tmp_path / "up.pickle.zst") == value


def test_int_round_trip(tmp_path: Path) -> None:
    @dg.asset
    def up() -> int:
        return 2**70

    @dg.asset
    def down(up: int) -> int:
        return up + 1

    assert run_assets([up, down], tmp_path).output_for_node("down") == 2**70 + 1
    assert read_pickle(tmp_path / "up.pickle.zst") == 2**70


def test_a_none_output_is_stored_as_filesystem_io_manager_stores_it(tmp_path: Path) -> None:
    @dg.asset
    def nothing_returned():
        return None

    @dg.asset
    def something() -> pa.Table:
        return _arrow_table()

    result = run_assets([nothing_returned, something], tmp_path)
    assert stored_files(tmp_path) == ["nothing_returned.pickle.zst", "something.arrow"]
    materialized = {
        event.asset_key.to_user_string(): event.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert set(materialized) == {"nothing_returned", "something"}
    # No path to a pickle of None, as UPathIOManager leaves it out.
    assert "path" not in materialized["nothing_returned"]
    assert "path" in materialized["something"]


def test_none_output_then_optional_input_gets_none(tmp_path: Path) -> None:
    @dg.asset
    def nothing_returned():
        return None

    @dg.asset
    def down(nothing_returned: typing.Optional[pd.DataFrame]) -> str:  # noqa: UP045
        assert nothing_returned is None
        return "none seen"

    assert run_assets([nothing_returned, down], tmp_path).output_for_node("down") == "none seen"


# ---------------------------------------------------------------------------------------------
# Input annotations choose the loaded type, whatever was stored.


TABLE_TYPES = {
    "pyarrow": lambda: _arrow_table(),
    "pandas": lambda: _arrow_table().to_pandas(),
    "polars": lambda: pl.from_arrow(_arrow_table()),
}


def _table_producer(kind: str) -> dg.AssetsDefinition:
    @dg.asset(name="up")
    def up():
        return TABLE_TYPES[kind]()

    return up


@pytest.mark.parametrize("stored", list(TABLE_TYPES))
def test_pandas_annotation(tmp_path: Path, stored: str) -> None:
    @dg.asset
    def down(up: pd.DataFrame) -> bool:
        assert isinstance(up, pd.DataFrame)
        pdt.assert_frame_equal(up, _arrow_table().to_pandas())
        return True

    run_assets([_table_producer(stored), down], tmp_path)


@pytest.mark.parametrize("stored", list(TABLE_TYPES))
def test_polars_annotation(tmp_path: Path, stored: str) -> None:
    @dg.asset
    def down(up: pl.DataFrame) -> bool:
        assert isinstance(up, pl.DataFrame)
        plt.assert_frame_equal(up, pl.from_arrow(_arrow_table()))
        return True

    run_assets([_table_producer(stored), down], tmp_path)


@pytest.mark.parametrize("stored", list(TABLE_TYPES))
def test_pyarrow_table_annotation(tmp_path: Path, stored: str) -> None:
    @dg.asset
    def down(up: pa.Table) -> bool:
        assert isinstance(up, pa.Table)
        # pandas and polars store strings as large_string: compare the values.
        assert up.to_pylist() == _arrow_table().to_pylist()
        assert b"dagster_fastio.python_type" not in (up.schema.metadata or {})
        return True

    run_assets([_table_producer(stored), down], tmp_path)


@pytest.mark.parametrize("stored", list(TABLE_TYPES))
def test_record_batch_reader_annotation(tmp_path: Path, stored: str) -> None:
    @dg.asset
    def down(up: pa.RecordBatchReader) -> bool:
        assert isinstance(up, pa.RecordBatchReader)
        assert up.read_all().to_pylist() == _arrow_table().to_pylist()
        return True

    run_assets([_table_producer(stored), down], tmp_path)


def test_record_batch_reader_input_does_not_show_the_internal_type_marker(
    tmp_path: Path,
) -> None:
    # A pa.Table input comes without the schema entry recording the stored Python type; a
    # reader over the same file should look the same.
    @dg.asset
    def up() -> pa.Table:
        return pa.table({"x": [1, 2]}).replace_schema_metadata({"owner": "me"})

    @dg.asset
    def as_reader(up: pa.RecordBatchReader) -> dict:
        return dict(up.schema.metadata or {})

    @dg.asset
    def as_table(up: pa.Table) -> dict:
        return dict(up.schema.metadata or {})

    result = run_assets([up, as_reader, as_table], tmp_path)
    assert result.output_for_node("as_table") == {b"owner": b"me"}
    assert result.output_for_node("as_reader") == {b"owner": b"me"}


def test_polars_lazy_annotation_reads_nothing_until_collected(tmp_path: Path) -> None:
    original = pa.table({"v": [1, 2, 3]})
    replacement = pa.table({"v": [10, 20, 30, 40]})
    path = tmp_path / "up.arrow"

    @dg.asset
    def up() -> pa.Table:
        return original

    @dg.asset
    def down(up: pl.LazyFrame) -> list:
        assert isinstance(up, pl.LazyFrame)
        # Replaced after the input was loaded: a lazy scan sees the new file at collect().
        fio.write(replacement, path)
        return up.collect()["v"].to_list()

    result = run_assets([up, down], tmp_path)
    assert result.output_for_node("down") == [10, 20, 30, 40]


def test_polars_lazy_annotation_fails_at_collect_when_the_file_is_gone(tmp_path: Path) -> None:
    @dg.asset
    def up() -> pa.Table:
        return pa.table({"v": [1, 2, 3]})

    @dg.asset
    def down(up: pl.LazyFrame) -> str:
        (tmp_path / "up.arrow").unlink()
        try:
            up.collect()
        except (FileNotFoundError, pl.exceptions.ComputeError, OSError):
            return "collect read the file"
        return "the data had been read already"

    assert run_assets([up, down], tmp_path).output_for_node("down") == "collect read the file"


@pytest.mark.parametrize("stored", list(TABLE_TYPES))
def test_polars_lazy_annotation_of_any_stored_table(tmp_path: Path, stored: str) -> None:
    @dg.asset
    def down(up: pl.LazyFrame) -> bool:
        assert isinstance(up, pl.LazyFrame)
        frame = up.collect()
        plt.assert_frame_equal(
            frame.select(_arrow_table().column_names), pl.from_arrow(_arrow_table())
        )
        return True

    run_assets([_table_producer(stored), down], tmp_path)


@pytest.mark.parametrize("stored", list(TABLE_TYPES))
def test_unannotated_input_gets_the_stored_type(tmp_path: Path, stored: str) -> None:
    expected_type = {"pyarrow": pa.Table, "pandas": pd.DataFrame, "polars": pl.DataFrame}[stored]

    @dg.asset
    def down(up):
        return type(up).__module__.split(".")[0] + "." + type(up).__name__

    result = run_assets([_table_producer(stored), down], tmp_path)
    name = result.output_for_node("down")
    assert name == expected_type.__module__.split(".")[0] + "." + expected_type.__name__


# ---------------------------------------------------------------------------------------------
# Optional inputs and missing upstreams.


@pytest.mark.parametrize("style", ["typing.Optional", "union with None"])
def test_optional_input_of_a_never_materialized_upstream_is_none(
    tmp_path: Path, style: str
) -> None:
    @dg.asset
    def up() -> pd.DataFrame:
        raise AssertionError("up is never run in this test")

    if style == "typing.Optional":

        @dg.asset
        def down(up: typing.Optional[pd.DataFrame]) -> str:  # noqa: UP045
            return "missing" if up is None else "present"

    else:

        @dg.asset
        def down(up: pd.DataFrame | None) -> str:
            return "missing" if up is None else "present"

    result = run_assets([up, down], tmp_path, selection=[down])
    assert result.output_for_node("down") == "missing"
    assert stored_files(tmp_path) == ["down.pickle.zst"]


def test_optional_input_of_an_external_asset_with_nothing_stored_is_none(tmp_path: Path) -> None:
    source = dg.AssetSpec("external")

    @dg.asset(ins={"data": dg.AssetIn(key="external")})
    def down(data: typing.Optional[pa.Table]) -> bool:  # noqa: UP045
        return data is None

    assert run_assets([source, down], tmp_path).output_for_node("down") is True


def test_optional_input_of_a_present_upstream_is_loaded(tmp_path: Path) -> None:
    @dg.asset
    def up() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2]})

    @dg.asset
    def down(up: typing.Optional[pd.DataFrame]) -> int:  # noqa: UP045
        assert up is not None
        return int(up["x"].sum())

    assert run_assets([up, down], tmp_path).output_for_node("down") == 3


def test_required_input_of_a_never_materialized_upstream_fails_naming_the_path(
    tmp_path: Path,
) -> None:
    @dg.asset
    def up() -> pd.DataFrame:
        raise AssertionError("up is never run in this test")

    @dg.asset
    def down(up: pd.DataFrame) -> int:
        return len(up)

    result = run_assets([up, down], tmp_path, selection=[down], raise_on_error=False)
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    assert str(tmp_path / "up.arrow") in error.to_string()
    assert stored_files(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# Column projection through input metadata.


def _wide() -> pa.Table:
    return pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"], "z": [0.1, 0.2, 0.3]})


@pytest.mark.parametrize(
    ("annotation", "to_table"),
    [
        (pa.Table, lambda value: value),
        (pd.DataFrame, pa.Table.from_pandas),
        (pl.DataFrame, lambda value: value.to_arrow()),
        (pl.LazyFrame, lambda value: value.collect().to_arrow()),
        (pa.RecordBatchReader, lambda value: value.read_all()),
    ],
    ids=["pyarrow", "pandas", "polars", "polars-lazy", "reader"],
)
def test_columns_metadata_reads_only_those_columns(
    tmp_path: Path, annotation: type, to_table: typing.Callable[[Any], pa.Table]
) -> None:
    @dg.asset
    def up() -> pa.Table:
        return _wide()

    def body(up: Any) -> list:
        assert isinstance(up, annotation)
        table = to_table(up)
        return [table.column_names, table.column("z").to_pylist(), table.column("x").to_pylist()]

    body.__annotations__ = {"up": annotation, "return": list}
    down = dg.asset(name="down", ins={"up": dg.AssetIn(metadata={"columns": ["z", "x"]})})(body)

    result = run_assets([up, down], tmp_path)
    names, z, x = result.output_for_node("down")
    assert sorted(names) == ["x", "z"]
    assert z == [0.1, 0.2, 0.3]
    assert x == [1, 2, 3]


def test_columns_metadata_on_an_unannotated_pandas_input(tmp_path: Path) -> None:
    @dg.asset
    def up() -> pd.DataFrame:
        return pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [True, False]})

    @dg.asset(ins={"up": dg.AssetIn(metadata={"columns": ["b"]})})
    def down(up):
        assert isinstance(up, pd.DataFrame)
        pdt.assert_frame_equal(up, pd.DataFrame({"b": ["x", "y"]}))
        return True

    run_assets([up, down], tmp_path)


def test_a_frame_arrow_cannot_hold_is_pickled_like_filesystem_io_manager(tmp_path: Path) -> None:
    mixed = pd.DataFrame({"a": [1, "x", 2.5]})

    @dg.asset
    def up() -> pd.DataFrame:
        return mixed

    @dg.asset
    def down(up: pd.DataFrame) -> bool:
        pdt.assert_frame_equal(up, mixed)
        return True

    run_assets([up, down], tmp_path)
    assert stored_files(tmp_path) == ["down.pickle.zst", "up.pickle.zst"]


def test_arrays_are_pickled_not_streamed(tmp_path: Path) -> None:
    chunked = pa.chunked_array([[1, 2], [3]])

    @dg.asset
    def up() -> pa.ChunkedArray:
        return chunked

    @dg.asset
    def down(up: pa.ChunkedArray) -> int:
        assert up.equals(chunked)
        return len(up)

    assert run_assets([up, down], tmp_path).output_for_node("down") == 3
    assert "up.pickle.zst" in stored_files(tmp_path)
