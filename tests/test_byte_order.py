"""Arrow IPC data written on a big-endian machine is refused on every read path, with an error
that says so, never decoded into wrong values.

The inputs in ``tests/data`` are built by the core's ``byte_order`` Rust test with arrow-ipc's
flatbuffer builders; pyarrow, which swaps byte orders, reads them to the values below.
"""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from click.testing import CliRunner
from servers import S3Server

import dagster_fastio as fio
from dagster_fastio import FastIOManager
from dagster_fastio.api import describe
from dagster_fastio.cli import main

DATA = Path(__file__).parent / "data"
INPUTS = {"file": DATA / "big_endian.arrow", "stream": DATA / "big_endian.arrows"}
REFUSAL = "written big-endian"


@pytest.fixture(params=sorted(INPUTS))
def big_endian(request: pytest.FixtureRequest) -> Path:
    return INPUTS[request.param]


def pyarrow_table(path: Path) -> pa.Table:
    data = path.read_bytes()
    if data.startswith(b"ARROW1"):
        return ipc.open_file(pa.py_buffer(data)).read_all()
    return ipc.open_stream(pa.py_buffer(data)).read_all()


def test_the_inputs_are_real_big_endian_data(big_endian: Path) -> None:
    rows = pyarrow_table(big_endian).to_pylist()
    assert len(rows) == 6
    assert rows[0]["i64"] == 1 << 40 and rows[1]["i32"] == -2 and rows[2]["f64"] == -2.5
    assert rows[0]["day"] == datetime.date(2022, 1, 8) and rows[2]["name"] == "ccc"


def assert_refused(read: Callable[[], Any]) -> None:
    with pytest.raises(fio.CorruptFileError, match=REFUSAL) as raised:
        read()
    assert "not supported" in str(raised.value)


@pytest.mark.parametrize("columns", [None, ["i32", "day"]])
@pytest.mark.parametrize("memory_map", [False, True])
def test_local_reads_refuse(big_endian: Path, columns: list[str] | None, memory_map: bool) -> None:
    assert_refused(lambda: fio.read(big_endian, columns=columns, memory_map=memory_map))
    assert_refused(lambda: fio.read_batches(big_endian, columns=columns).read_all())


def test_reads_from_memory_refuse(big_endian: Path) -> None:
    data = big_endian.read_bytes()
    assert_refused(lambda: fio.decode(data))
    assert_refused(lambda: fio.decode(memoryview(data), columns=["name"]))
    assert_refused(lambda: fio.decode(pa.py_buffer(data)))


def test_describe_and_the_cli_refuse(big_endian: Path) -> None:
    assert_refused(lambda: describe(big_endian))
    for command in ("inspect", "head"):
        result = CliRunner().invoke(main, [command, str(big_endian)])
        assert result.exit_code == 1, result.output
        assert "CorruptFileError" in result.output and REFUSAL in result.output
        assert "Traceback" not in result.output


def test_store_reads_refuse(big_endian: Path, moto_server: S3Server) -> None:
    bucket = moto_server.create_bucket("byte-order")
    moto_server.client().put_object(
        Bucket=bucket, Key=big_endian.name, Body=big_endian.read_bytes()
    )
    uri = f"s3://{bucket}/{big_endian.name}"
    options = moto_server.options()
    assert_refused(lambda: fio.read(uri, storage_options=options))
    assert_refused(lambda: fio.read(uri, columns=["i64"], storage_options=options))
    assert_refused(lambda: fio.read_batches(uri, storage_options=options).read_all())
    assert_refused(lambda: describe(uri, options))


def test_the_manager_refuses_a_big_endian_output(tmp_path: Path) -> None:
    # Another platform's writer left its file where the asset's output lives.
    shutil.copyfile(INPUTS["file"], tmp_path / "table.arrow")
    manager = FastIOManager(base_path=str(tmp_path))
    context = dg.build_input_context(
        asset_key=dg.AssetKey("table"),
        dagster_type=dg.DagsterType(lambda _, value: True, name="table"),
        upstream_output=dg.build_output_context(asset_key=dg.AssetKey("table")),
    )
    assert_refused(lambda: manager.load_input(context))
