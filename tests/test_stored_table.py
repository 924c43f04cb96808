"""``dagster_fastio.StoredTable`` as an input annotation: what is stored (URIs, format of each
file, partition map) with nothing read, the schema and row counts from the footers only, and
pyarrow, DuckDB and polars scans that choose files by key. No secret in its repr or pickle,
nor in a pickle FastIOManager stores of it; unpickled, it reads with the environment's
credentials or options given again."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import zstandard
from dagster_helpers import run_assets
from servers import S3Server

from dagster_fastio import CorruptFileError, FastIOManager, StoredTable, api
from dagster_fastio.stored_tables import StoredFile

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-07")
KEYS = DAYS.get_partition_keys()


@dg.asset(partitions_def=DAYS)
def sales(context: dg.AssetExecutionContext) -> pa.Table:
    day = KEYS.index(context.partition_key)
    return pa.table(
        {"day": pa.array([day] * (day + 1), pa.int32()), "amount": [float(day)] * (day + 1)}
    )


def _materialize(io_manager: Any, base: Path) -> None:
    for key in KEYS:
        run_assets([sales], base, partition_key=key, io_manager=io_manager)


@pytest.fixture(scope="module")
def sales_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sales")
    _materialize(FastIOManager(base_path=str(base)), base)
    # The last two days switched to Parquet, written at the layout's paths.
    for key in KEYS[-2:]:
        arrow = base / "sales" / f"{key}.arrow"
        pq.write_table(feather.read_table(arrow), arrow.with_suffix(".parquet"))
        arrow.unlink()
    return base


@pytest.fixture
def sales_copy(sales_base: Path, tmp_path: Path) -> Path:
    shutil.copytree(sales_base, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _reference(base: Path, **kwargs: Any) -> StoredTable:
    seen: dict[str, StoredTable] = {}

    @dg.asset(**kwargs)
    def reference(sales: StoredTable) -> None:
        seen["table"] = sales

    run_assets([sales, reference], base, selection=[reference])
    return seen["table"]


def test_what_is_stored_is_known_before_anything_is_read(sales_copy: Path) -> None:
    folder = sales_copy / "sales"
    seen: dict[str, Any] = {}

    @dg.asset
    def listed(sales: StoredTable) -> None:
        # Every file damaged after loading: what is stored is still known, nothing was read.
        for path in folder.iterdir():
            path.write_bytes(b"\0" * 64)
        seen["partitions"] = sales.partitions
        seen["formats"] = sales.formats
        seen["key columns"] = sales.key_columns
        seen["repr"] = repr(sales)
        with pytest.raises(CorruptFileError):
            sales.schema  # noqa: B018

    run_assets([sales, listed], sales_copy, selection=[listed])
    suffix = {key: ".parquet" if key in KEYS[-2:] else ".arrow" for key in KEYS}
    assert seen["partitions"] == {key: str(folder / f"{key}{suffix[key]}") for key in KEYS}
    assert seen["formats"] == {
        str(folder / f"{key}{suffix[key]}"): "parquet" if key in KEYS[-2:] else "ipc"
        for key in KEYS
    }
    assert seen["key columns"] == ("partition_key",)
    assert seen["repr"].startswith("StoredTable(6 file(s): 4 ipc, 2 parquet; key columns")
    assert "2024-01-01.arrow" in seen["repr"]


def test_schema_and_row_counts_come_from_the_footers(
    sales_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = _reference(sales_base)

    def no_data(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the data was read")

    monkeypatch.setattr(api, "read", no_data)
    monkeypatch.setattr(api, "read_batches", no_data)
    monkeypatch.setattr(pq, "read_table", no_data)
    assert table.schema == pa.schema(
        [("day", pa.int32()), ("amount", pa.float64()), ("partition_key", pa.string())]
    )
    assert table.stored_schema.names == ["day", "amount"]
    assert list(table.row_counts.values()) == [1, 2, 3, 4, 5, 6]
    assert table.num_rows == 21


def test_scans_of_a_reference_choose_files_by_key(sales_copy: Path) -> None:
    table = _reference(sales_copy)
    folder = sales_copy / "sales"
    # One excluded file of each format damaged (not the first: it gives the schema).
    (folder / f"{KEYS[1]}.arrow").write_bytes(b"\0" * 64)
    (folder / f"{KEYS[5]}.parquet").write_bytes(b"\0" * 64)
    wanted = [KEYS[2], KEYS[4]]  # one Arrow IPC, one Parquet

    dataset = table.dataset()
    filtered = dataset.to_table(filter=ds.field("partition_key").isin(wanted))
    assert sorted(filtered.column("day").to_pylist()) == [2, 2, 2, 4, 4, 4, 4, 4]
    with pytest.raises(pa.ArrowInvalid):
        dataset.to_table()

    con = duckdb.connect()
    rel = table.to_duckdb(con)
    where = f"partition_key IN ('{wanted[0]}', '{wanted[1]}')"
    assert rel.filter(where).aggregate("count(*), sum(amount)").fetchall() == [(8, 26.0)]

    frame = table.scan_polars().filter(pl.col("partition_key").is_in(wanted))
    assert frame.select(pl.len(), pl.col("amount").sum()).collect().rows() == [(8, 26.0)]

    projected = table.dataset(columns=["amount"])
    assert projected.schema.names == ["amount", "partition_key"]


def test_an_unpartitioned_reference(tmp_path: Path) -> None:
    @dg.asset
    def single() -> pa.Table:
        return pa.table({"x": [1, 2, 3]})

    seen: dict[str, Any] = {}

    @dg.asset
    def ref(single: StoredTable) -> None:
        seen["table"] = single

    run_assets([single, ref], tmp_path)
    table = seen["table"]
    assert table.uris == [str(tmp_path / "single.arrow")]
    assert table.partitions == {}
    assert table.key_columns == ()
    assert table.num_rows == 3
    assert table.to_duckdb().aggregate("sum(x)").fetchall() == [(6,)]
    assert table.scan_polars().collect()["x"].to_list() == [1, 2, 3]


def test_pickling_keeps_the_files_and_drops_the_options() -> None:
    secret = "stored-table-secret-0123456789"
    files = [StoredFile("s3://b/lake/t/a.arrow", "ipc", "a", ("a",))]
    table = StoredTable(files, ["partition_key"], storage_options={"aws_secret_access_key": secret})
    assert secret not in repr(table)
    data = pickle.dumps(table)
    assert secret.encode() not in data
    back = pickle.loads(data)
    assert back == table
    assert back.partitions == {"a": "s3://b/lake/t/a.arrow"}
    assert secret not in repr(back.with_storage_options({"aws_secret_access_key": secret}))


def test_on_s3_the_secret_stays_out_and_an_unpickled_reference_reads_with_the_environment(
    s3s_server: S3Server, s3s_bucket: str, tmp_path: Path
) -> None:
    options = s3s_server.options()
    secret = s3s_server.secret_key
    manager = FastIOManager(base_path=f"s3://{s3s_bucket}/lake", storage_options=options)
    _materialize(manager, tmp_path)
    seen: dict[str, Any] = {}

    @dg.asset
    def kept(context: dg.AssetExecutionContext, sales: StoredTable) -> StoredTable:
        seen["rows"] = sales.num_rows
        seen["dataset"] = sales.dataset().to_table(filter=ds.field("partition_key") == KEYS[3])
        context.log.info(f"reference {sales!r}")
        return sales  # stored by FastIOManager as a pickle

    with dg.DagsterInstance.ephemeral() as instance:
        result = run_assets(
            [sales, kept], tmp_path, selection=[kept], io_manager=manager, instance=instance
        )
        logs = instance.all_logs(result.run_id)
    assert seen["rows"] == 21
    assert seen["dataset"].column("day").to_pylist() == [3, 3, 3, 3]
    assert any("reference StoredTable(6 file(s): 6 ipc" in str(entry) for entry in logs)
    assert not [entry for entry in logs if secret in str(entry)]
    stored = s3s_server.client().get_object(Bucket=s3s_bucket, Key="lake/kept.pickle.zst")
    payload = zstandard.ZstdDecompressor().decompress(stored["Body"].read())
    assert b"sales/2024-01-01.arrow" in payload
    assert secret.encode() not in payload

    # In a process that has the credentials in its environment only, as object_store reads
    # them: the unpickled reference reads its footers with them.
    script = (
        "import pickle, sys; t = pickle.loads(sys.stdin.buffer.read()); "
        "print(t.num_rows, t.schema.names)"
    )
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ":".join(sys.path),
        "AWS_ACCESS_KEY_ID": s3s_server.access_key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_ENDPOINT": s3s_server.endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    unpickled = subprocess.run(
        [sys.executable, "-c", script],
        input=payload,
        env=environment,
        capture_output=True,
        check=True,
    )
    assert unpickled.stdout.decode().split(" ", 1) == ["21", "['day', 'amount', 'partition_key']\n"]
