"""DuckDB relations in and out of FastIOManager: an input annotated ``duckdb.DuckDBPyRelation``
gets a relation over the stored files (Arrow IPC through a pyarrow dataset, Parquet through
DuckDB's read_parquet locally and a pyarrow dataset on S3), on the asset's DuckDBResource when
it has one; an asset returning a relation has it streamed into its file.

Pruning is proved by damaging the files a filter excludes: the query still answers, and the
same query without the filter fails on them. Parquet files are written with pyarrow at the
layout's paths (``<stem>.parquet``), as a format switch would leave them."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
import pickle
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from dagster_duckdb import DuckDBResource
from dagster_helpers import run_assets
from servers import S3Server

from dagster_fastio import FastIOManager, StoredTable, api
from dagster_fastio.table_types import InputSpec, table_type_of

# ---------------------------------------------------------------------------------------------
# Four static partitions: "a" holds 1 row, "b" 2, "c" 3, "d" 4.

LETTERS = dg.StaticPartitionsDefinition(["a", "b", "c", "d"])


@dg.asset(partitions_def=LETTERS)
def letters(context: dg.AssetExecutionContext) -> pa.Table:
    key = context.partition_key
    rows = "abcd".index(key) + 1
    return pa.table(
        {
            "n": pa.array(range(rows), pa.int64()),
            "label": [f"{key}{i}" for i in range(rows)],
            "weight": pa.array([float(i) for i in range(rows)], pa.float64()),
        }
    )


def _materialize(io_manager: Any, base: Path) -> None:
    for key in "abcd":
        run_assets([letters], base, partition_key=key, io_manager=io_manager)


@pytest.fixture(scope="module")
def letters_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("letters")
    _materialize(FastIOManager(base_path=str(base)), base)
    return base


@pytest.fixture
def letters_copy(letters_base: Path, tmp_path: Path) -> Path:
    """A copy of the four partitions that a test may damage or convert."""
    shutil.copytree(letters_base, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _to_parquet(folder: Path, keys: str) -> None:
    """Replaces the partitions' Arrow IPC files with Parquet files of the same table, as a
    switch to format="parquet" leaves them."""
    for key in keys:
        table = feather.read_table(folder / f"{key}.arrow")
        pq.write_table(table, folder / f"{key}.parquet")
        (folder / f"{key}.arrow").unlink()


def _damage(path: Path) -> None:
    path.write_bytes(b"\0" * 64)


def _run_downstream(
    *downstream: dg.AssetsDefinition, base: Path, upstream: Any = letters, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    return run_assets([upstream, *downstream], base, selection=list(downstream), **kwargs)


def _explain(rel: duckdb.DuckDBPyRelation) -> str:
    return " ".join(rel.explain().split())


EVERY_ROW = [
    ("a", 0, "a0"),
    ("b", 0, "b0"),
    ("b", 1, "b1"),
    ("c", 0, "c0"),
    ("c", 1, "c1"),
    ("c", 2, "c2"),
    ("d", 0, "d0"),
    ("d", 1, "d1"),
    ("d", 2, "d2"),
    ("d", 3, "d3"),
]


def _rows(rel: duckdb.DuckDBPyRelation) -> list[tuple[Any, ...]]:
    return rel.query("r", "SELECT partition_key, n, label FROM r ORDER BY ALL").fetchall()


# ---------------------------------------------------------------------------------------------
# Annotations.


def test_the_annotation_asks_for_a_relation_by_class_name() -> None:
    assert InputSpec.of(duckdb.DuckDBPyRelation).reference == "duckdb"
    assert InputSpec.of(duckdb.DuckDBPyRelation | None).reference == "duckdb"
    assert InputSpec.of(duckdb.DuckDBPyRelation | None).optional
    assert InputSpec.of(StoredTable).reference == "stored_table"
    assert InputSpec.of(dict[str, duckdb.DuckDBPyRelation]).reference is None
    assert InputSpec.of(pa.Table).reference is None


# ---------------------------------------------------------------------------------------------
# Arrow IPC files: a pyarrow dataset scan.


def test_relation_over_arrow_files_prunes_by_key_and_projects(letters_copy: Path) -> None:
    seen: dict[str, Any] = {}

    @dg.asset
    def from_ipc(letters: duckdb.DuckDBPyRelation) -> None:
        seen["type"] = type(letters)
        seen["columns"] = letters.columns
        seen["all"] = _rows(letters)
        # Files the filter excludes are damaged now: only "b" may be opened.
        for key in "acd":
            _damage(letters_copy / "letters" / f"{key}.arrow")
        only_b = letters.filter("partition_key = 'b'").select("n")
        seen["plan"] = _explain(only_b)
        seen["b"] = only_b.order("n").fetchall()
        with pytest.raises(duckdb.Error):
            letters.aggregate("count(*)").fetchall()

    _run_downstream(from_ipc, base=letters_copy)
    assert seen["type"] is duckdb.DuckDBPyRelation
    assert seen["columns"] == ["n", "label", "weight", "partition_key"]
    assert seen["all"] == EVERY_ROW
    assert seen["b"] == [(0,), (1,)]
    # DuckDB hands both to the Arrow scan: the key filter and the two columns used.
    assert "PYTHON_ARROW_SCAN" in seen["plan"]
    assert "Filters: \"partition_key\"='b'" in seen["plan"].replace(" = ", "=")
    projections = seen["plan"].split("Projections:")[-1].split("~")[0]
    assert "n" in projections and "label" not in projections and "weight" not in projections


def test_the_relation_stays_valid_after_the_step_and_columns_metadata(letters_base: Path) -> None:
    seen: dict[str, Any] = {}

    @dg.asset(ins={"letters": dg.AssetIn(metadata={"columns": ["label"]})})
    def kept(letters: duckdb.DuckDBPyRelation) -> None:
        seen["rel"] = letters

    _run_downstream(kept, base=letters_base)
    # Loaded in a step that has finished, the connection and the dataset kept alive by it.
    rel = seen["rel"]
    assert rel.columns == ["label", "partition_key"]
    assert rel.filter("partition_key = 'c'").order("label").fetchall() == [
        ("c0", "c"),
        ("c1", "c"),
        ("c2", "c"),
    ]


def test_an_unpartitioned_upstream_and_an_optional_missing_one(tmp_path: Path) -> None:
    @dg.asset
    def single() -> pa.Table:
        return pa.table({"x": [1, 2, 3]})

    seen: dict[str, Any] = {}

    @dg.asset
    def total(single: duckdb.DuckDBPyRelation) -> None:
        seen["columns"] = single.columns
        seen["sum"] = single.aggregate("sum(x)").fetchall()[0]

    run_assets([single], tmp_path)
    run_assets([single, total], tmp_path, selection=[total])
    assert seen == {"columns": ["x"], "sum": (6,)}

    @dg.asset
    def never() -> pa.Table:
        return pa.table({"x": [1]})

    @dg.asset
    def maybe(never: duckdb.DuckDBPyRelation | None) -> None:
        seen["maybe"] = never

    run_assets([never, maybe], tmp_path, selection=[maybe])
    assert seen["maybe"] is None


# ---------------------------------------------------------------------------------------------
# Parquet files: DuckDB's read_parquet, every partition in one scan.


def test_relation_over_parquet_files_prunes_files_in_read_parquet(letters_copy: Path) -> None:
    folder = letters_copy / "letters"
    _to_parquet(folder, "abcd")
    seen: dict[str, Any] = {}

    @dg.asset
    def from_parquet(letters: duckdb.DuckDBPyRelation) -> None:
        seen["all"] = _rows(letters)
        # read_parquet binds to the first file's schema: "a" stays, "b" and "d" are damaged.
        for key in "bd":
            _damage(folder / f"{key}.parquet")
        only_c = letters.filter("partition_key = 'c'")
        seen["plan"] = _explain(only_c)
        seen["c"] = only_c.select("label").order("label").fetchall()
        seen["a or c"] = letters.filter("partition_key IN ('a', 'c')").aggregate("count(*)")
        seen["a or c"] = seen["a or c"].fetchall()[0]
        with pytest.raises(duckdb.Error):
            letters.aggregate("count(*)").fetchall()

    _run_downstream(from_parquet, base=letters_copy)
    assert seen["all"] == EVERY_ROW
    assert seen["c"] == [("c0",), ("c1",), ("c2",)]
    assert seen["a or c"] == (4,)
    # DuckDB's own Parquet scan, which chose the one file at planning.
    assert "Function: PARQUET_SCAN" in seen["plan"]
    assert "Scanning Files: 1/4" in seen["plan"]


def test_parquet_planning_over_a_year_of_daily_partitions(tmp_path: Path) -> None:
    days = dg.DailyPartitionsDefinition(start_date="2023-01-01", end_date="2024-01-01")
    keys = days.get_partition_keys()
    assert len(keys) == 365
    folder = tmp_path / "daily"
    folder.mkdir()
    for day, key in enumerate(keys):
        pq.write_table(pa.table({"day": [day], "amount": [float(day)]}), folder / f"{key}.parquet")

    @dg.asset(partitions_def=days)
    def daily() -> pa.Table:
        raise AssertionError("not materialized in this test")

    seen: dict[str, Any] = {}

    @dg.asset
    def december(daily: duckdb.DuckDBPyRelation) -> None:
        late = daily.filter("partition_key >= '2023-12-01'")
        seen["plan"] = _explain(late)
        seen["late"] = late.aggregate("count(*), min(day)").fetchall()[0]
        seen["total"] = daily.aggregate("count(*)").fetchall()[0]

    _run_downstream(december, base=tmp_path, upstream=daily)
    assert seen["late"] == (31, 334)
    assert seen["total"] == (365,)
    assert "Scanning Files: 31/365" in seen["plan"]


def test_mixed_formats_after_a_switch_are_one_relation(letters_copy: Path) -> None:
    folder = letters_copy / "letters"
    _to_parquet(folder, "cd")
    seen: dict[str, Any] = {}

    @dg.asset
    def mixed(letters: duckdb.DuckDBPyRelation) -> None:
        seen["columns"] = letters.columns
        seen["all"] = _rows(letters)
        _damage(folder / "b.arrow")
        _damage(folder / "d.parquet")
        seen["a and c"] = _rows(letters.filter("partition_key IN ('a', 'c')"))

    @dg.asset
    def reference(letters: StoredTable) -> None:
        seen["formats"] = {Path(uri).name: format for uri, format in letters.formats.items()}

    _run_downstream(mixed, reference, base=letters_copy)
    assert seen["columns"] == ["n", "label", "weight", "partition_key"]
    assert seen["all"] == EVERY_ROW
    assert seen["a and c"] == [("a", 0, "a0"), ("c", 0, "c0"), ("c", 1, "c1"), ("c", 2, "c2")]
    assert seen["formats"] == {
        "a.arrow": "ipc",
        "b.arrow": "ipc",
        "c.parquet": "parquet",
        "d.parquet": "parquet",
    }


def test_missing_partitions_fail_unless_allowed(letters_copy: Path) -> None:
    (letters_copy / "letters" / "c.arrow").unlink()

    @dg.asset
    def strict(letters: duckdb.DuckDBPyRelation) -> None:
        pass

    result = _run_downstream(strict, base=letters_copy, raise_on_error=False)
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None and "c.arrow" in error.to_string()

    seen: dict[str, Any] = {}

    @dg.asset(ins={"letters": dg.AssetIn(metadata={"allow_missing_partitions": True})})
    def lenient(letters: duckdb.DuckDBPyRelation) -> None:
        seen["keys"] = letters.query("r", "SELECT DISTINCT partition_key FROM r ORDER BY 1")
        seen["keys"] = seen["keys"].fetchall()

    _run_downstream(lenient, base=letters_copy)
    assert seen["keys"] == [("a",), ("b",), ("d",)]


# ---------------------------------------------------------------------------------------------
# The connection: the asset's DuckDBResource, else an in-memory one.


def test_the_relation_is_opened_on_the_assets_duckdb_resource(
    letters_base: Path, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"

    @dg.asset
    def copied(letters: duckdb.DuckDBPyRelation, warehouse: DuckDBResource) -> None:
        # The relation lives on the resource's database: it can be saved there by name.
        letters.filter("partition_key = 'd'").create("letters_d")
        with warehouse.get_connection() as con:
            assert con.sql("SELECT count(*) FROM letters_d").fetchall()[0] == (4,)

    @dg.asset
    def in_memory(letters: duckdb.DuckDBPyRelation) -> None:
        letters.create("kept_in_memory")

    result = dg.materialize(
        [letters, copied, in_memory],
        selection=[copied, in_memory],
        resources={
            "io_manager": FastIOManager(base_path=str(letters_base)),
            "warehouse": DuckDBResource(database=str(database)),
        },
    )
    assert result.success
    with duckdb.connect(str(database), read_only=True) as con:
        tables = sorted(row[0] for row in con.sql("SHOW TABLES").fetchall())
    assert tables == ["letters_d"]


def test_several_duckdb_resources_are_chosen_by_input_metadata(
    letters_base: Path, tmp_path: Path
) -> None:
    resources = {
        "io_manager": FastIOManager(base_path=str(letters_base)),
        "one": DuckDBResource(database=str(tmp_path / "one.duckdb")),
        "two": DuckDBResource(database=str(tmp_path / "two.duckdb")),
    }

    @dg.asset(required_resource_keys={"one", "two"})
    def ambiguous(letters: duckdb.DuckDBPyRelation) -> None:
        pass

    result = dg.materialize(
        [letters, ambiguous], selection=[ambiguous], resources=resources, raise_on_error=False
    )
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None and "fastio/duckdb_resource" in error.to_string()

    @dg.asset(
        required_resource_keys={"one", "two"},
        ins={"letters": dg.AssetIn(metadata={"fastio/duckdb_resource": "two"})},
    )
    def chosen(letters: duckdb.DuckDBPyRelation) -> None:
        letters.create("in_two")

    assert dg.materialize([letters, chosen], selection=[chosen], resources=resources).success
    with duckdb.connect(str(tmp_path / "two.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM in_two").fetchall()[0] == (10,)
    assert not (tmp_path / "one.duckdb").exists()


# ---------------------------------------------------------------------------------------------
# A relation as an output.


@dg.asset
def summed() -> duckdb.DuckDBPyRelation:
    con = duckdb.connect()
    # Returned without the connection variable: the relation keeps its connection alive.
    return con.sql("SELECT i, i * 2 AS twice, 'r' || i AS label FROM range(100000) t(i)")


def test_a_relation_output_is_stored_and_read_back(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    @dg.asset
    def as_table(summed: pa.Table) -> None:
        seen["table"] = summed

    @dg.asset
    def unannotated(summed) -> None:  # type: ignore[no-untyped-def]
        seen["unannotated"] = summed

    @dg.asset
    def as_relation(summed: duckdb.DuckDBPyRelation) -> None:
        seen["sum"] = summed.aggregate("sum(twice)").fetchall()[0]

    result = run_assets([summed, as_table, unannotated, as_relation], tmp_path)
    assert table_type_of(summed()) is not None
    table = seen["table"]
    assert table.num_rows == 100_000
    assert table.column_names == ["i", "twice", "label"]
    assert table.column("twice").to_pylist()[:3] == [0, 2, 4]
    # Unannotated, the stored type comes back: a relation (over the loaded table).
    assert isinstance(seen["unannotated"], duckdb.DuckDBPyRelation)
    assert seen["unannotated"].aggregate("count(*)").fetchall()[0] == (100_000,)
    assert seen["sum"] == (sum(range(100_000)) * 2,)
    footer = api.read_footer(str(tmp_path / "summed.arrow"))
    assert footer.rows == 100_000
    rows = result.asset_materializations_for_node("summed")[0].metadata["dagster/row_count"]
    assert rows.value == 100_000


def test_a_relation_whose_connection_was_closed_is_named(tmp_path: Path) -> None:
    @dg.asset
    def closed(warehouse: DuckDBResource) -> duckdb.DuckDBPyRelation:
        with warehouse.get_connection() as con:
            return con.sql("SELECT 1 AS x")

    result = dg.materialize(
        [closed],
        resources={
            "io_manager": FastIOManager(base_path=str(tmp_path)),
            "warehouse": DuckDBResource(database=str(tmp_path / "w.duckdb")),
        },
        raise_on_error=False,
    )
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    assert "connection was closed before the output was stored" in error.to_string()
    assert not (tmp_path / "closed.arrow").exists()


# ---------------------------------------------------------------------------------------------
# S3 (s3s-fs): Arrow IPC and Parquet through pyarrow datasets, the secret kept out of sight.


def test_relations_over_s3_in_both_formats_keep_the_secret_out(
    s3s_server: S3Server, s3s_bucket: str, tmp_path: Path
) -> None:
    options = s3s_server.options()
    manager = FastIOManager(base_path=f"s3://{s3s_bucket}/lake", storage_options=options)
    _materialize(manager, tmp_path)
    # Partitions "c" and "d" switched to Parquet, written at the layout's keys.
    client = s3s_server.client()
    for key in "cd":
        table = api.read(f"s3://{s3s_bucket}/lake/letters/{key}.arrow", storage_options=options)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        client.put_object(
            Bucket=s3s_bucket, Key=f"lake/letters/{key}.parquet", Body=sink.getvalue().to_pybytes()
        )
        client.delete_object(Bucket=s3s_bucket, Key=f"lake/letters/{key}.arrow")
    seen: dict[str, Any] = {}

    @dg.asset
    def from_s3(context: dg.AssetExecutionContext, letters: duckdb.DuckDBPyRelation) -> None:
        seen["all"] = _rows(letters)
        # An excluded object of each format removed: the filtered query never asks for them.
        client.delete_object(Bucket=s3s_bucket, Key="lake/letters/b.arrow")
        client.delete_object(Bucket=s3s_bucket, Key="lake/letters/d.parquet")
        seen["a and c"] = _rows(letters.filter("partition_key IN ('a', 'c')"))
        seen["plan"] = letters.explain()
        context.log.info(f"relation {letters.columns}")

    @dg.asset
    def stored(letters: StoredTable) -> None:
        seen["stored"] = letters

    with dg.DagsterInstance.ephemeral() as instance:
        first = _run_downstream(stored, base=tmp_path, io_manager=manager, instance=instance)
        result = _run_downstream(from_s3, base=tmp_path, io_manager=manager, instance=instance)
        # The runs' whole event logs: inputs loaded, logs, step events and their metadata.
        logs = [*instance.all_logs(first.run_id), *instance.all_logs(result.run_id)]
    assert seen["all"] == EVERY_ROW
    assert seen["a and c"] == [("a", 0, "a0"), ("c", 0, "c0"), ("c", 1, "c1"), ("c", 2, "c2")]
    secret = s3s_server.secret_key
    assert secret not in seen["plan"]
    reference = seen["stored"]
    assert reference.partitions == {
        key: f"s3://{s3s_bucket}/lake/letters/{key}.{suffix}"
        for key, suffix in zip("abcd", ["arrow", "arrow", "parquet", "parquet"], strict=True)
    }
    assert secret not in repr(reference)
    assert secret.encode() not in pickle.dumps(reference)
    assert any("relation ['n', 'label', 'weight', 'partition_key']" in str(e) for e in logs)
    assert not [entry for entry in logs if secret in str(entry)]
