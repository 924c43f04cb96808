"""Parquet files from other writers, read as pyarrow reads them (issue 24): every codec
(pyarrow writes gzip, brotli and the rest), the legacy nested layouts of parquet-mr and Hive,
a dictionary page offset recorded as 0, row groups counting a repeated column's values as
their rows and the deprecated LZ4 framing (written by the parquet crate's low-level writer,
`rust/fastio-core/examples/legacy_parquet.rs`), and Spark's INT96 timestamps without an
embedded Arrow schema. Each is compared with pyarrow through `read`, `read_batches`, a
projection and a filter, locally and on S3."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from servers import S3Server

import dagster_fastio as fio
from dagster_fastio import CorruptFileError, UnsupportedFileError

ROOT = Path(__file__).resolve().parent.parent
PYARROW_CODECS = ["gzip", "brotli", "lz4", "zstd", "snappy", "none"]
LEGACY_FILES = [
    "repeated_fields",
    "two_level_lists",
    "three_level_lists",
    "dictionary_offset_zero",
    "lz4_hadoop",
    "values_as_rows",
]


@pytest.fixture(scope="session")
def legacy_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files of the `legacy_parquet` example, written once per session."""
    folder = tmp_path_factory.mktemp("legacy-parquet")
    env = dict(os.environ)
    # The Makefile's target folder, so a run outside `make test` reuses its build.
    env.setdefault("CARGO_TARGET_DIR", str(Path.home() / ".cache/dagster-fastio/target"))
    command = ["cargo", "run", "-q", "-p", "fastio-core", "--example", "legacy_parquet"]
    subprocess.run([*command, "--", str(folder)], cwd=ROOT, env=env, check=True, timeout=900)
    return folder


def codec_table(rows: int = 3000) -> pa.Table:
    every = range(rows)
    return pa.table(
        {
            "id": pa.array(every, pa.int64()),
            "word": pa.array([None if i % 7 == 0 else f"w{i % 50}" for i in every]),
            "amount": pa.array([i / 3 for i in every]),
            "at": pa.array(
                [dt.datetime(2020, 1, 1) + dt.timedelta(minutes=i) for i in every],
                pa.timestamp("us"),
            ),
            "items": pa.array([list(range(i % 4)) or None for i in every]),
        }
    )


def write_codec_file(folder: Path, codec: str) -> Path:
    path = folder / f"pyarrow_{codec}.parquet"
    pq.write_table(codec_table(), path, compression=codec, row_group_size=1000)
    return path


def assert_reads_as_pyarrow(
    uri: str, local: Path, options: dict[str, str] | None, projected: list[str]
) -> None:
    """`uri` (a copy of `local`) read whole, batch by batch, projected and filtered by `id`
    equals what pyarrow reads from `local`: values, row counts and types."""
    expected = pq.read_table(local)
    whole = fio.read(uri, storage_options=options, format="parquet")
    assert whole.schema == expected.schema
    assert whole.num_rows == expected.num_rows
    assert whole.equals(expected)
    batches = fio.read_batches(uri, storage_options=options, format="parquet")
    assert batches.schema == expected.schema
    assert batches.read_all().equals(expected)
    some = fio.read(uri, columns=projected, storage_options=options, format="parquet")
    assert some.equals(pq.read_table(local, columns=projected))
    rule = [("id", ">=", 3)]
    kept = fio.read(uri, storage_options=options, format="parquet", filters=rule)
    assert kept.equals(pq.read_table(local, filters=rule))
    assert 0 < kept.num_rows < expected.num_rows
    kept_batches = fio.read_batches(
        uri, columns=projected, storage_options=options, format="parquet", filters=rule
    ).read_all()
    assert kept_batches.equals(pq.read_table(local, columns=projected, filters=rule))


def upload(server: S3Server, bucket: str, path: Path) -> str:
    server.client().put_object(Bucket=bucket, Key=path.name, Body=path.read_bytes())
    return f"s3://{bucket}/{path.name}"


def last_column(path: Path) -> list[str]:
    return [pq.read_schema(path).names[-1]]


@pytest.mark.parametrize("codec", PYARROW_CODECS)
def test_pyarrow_files_of_every_codec_read_as_pyarrow_reads_them(
    tmp_path: Path, codec: str
) -> None:
    path = write_codec_file(tmp_path, codec)
    assert_reads_as_pyarrow(str(path), path, None, ["word", "items"])


@pytest.mark.parametrize("name", LEGACY_FILES)
def test_legacy_layouts_read_as_pyarrow_reads_them(legacy_folder: Path, name: str) -> None:
    path = legacy_folder / f"{name}.parquet"
    assert_reads_as_pyarrow(str(path), path, None, last_column(path))


def test_other_writers_files_read_the_same_from_s3(
    tmp_path: Path, legacy_folder: Path, s3s_server: S3Server, s3s_bucket: str
) -> None:
    options = s3s_server.options()
    for codec in ("gzip", "brotli"):
        path = write_codec_file(tmp_path, codec)
        assert_reads_as_pyarrow(upload(s3s_server, s3s_bucket, path), path, options, ["items"])
    for name in LEGACY_FILES:
        path = legacy_folder / f"{name}.parquet"
        uri = upload(s3s_server, s3s_bucket, path)
        assert_reads_as_pyarrow(uri, path, options, last_column(path))


def test_values_counted_as_rows_by_the_writer_read_as_the_rows_they_are(
    legacy_folder: Path,
) -> None:
    path = legacy_folder / "values_as_rows.parquet"
    assert pq.ParquetFile(path).metadata.num_rows == 12
    assert fio.read(path).num_rows == pq.read_table(path).num_rows == 6
    assert fio.read(path, columns=[]).num_rows == pq.read_table(path, columns=[]).num_rows


@pytest.mark.parametrize(("codec", "level"), [("gzip", None), ("gzip", 9), ("brotli", None)])
def test_gzip_and_brotli_are_written_for_every_reader(
    tmp_path: Path, codec: str, level: int | None
) -> None:
    table = codec_table()
    path = tmp_path / f"{codec}.parquet"
    fio.write(table, path, compression=codec, level=level)  # type: ignore[arg-type]
    metadata = pq.ParquetFile(path).metadata
    assert metadata.row_group(0).column(0).compression == codec.upper()
    assert pq.read_table(path).equals(table)
    assert fio.read(path).equals(table)


def test_codec_levels_out_of_range_are_refused(tmp_path: Path) -> None:
    table = codec_table(10)
    for codec, level, expected in [("gzip", 10, "0 to 9"), ("brotli", 12, "0 to 11")]:
        with pytest.raises(ValueError, match=f"{codec} level {level} .* expected {expected}"):
            fio.write(table, tmp_path / "bad.parquet", compression=codec, level=level)  # type: ignore[arg-type]
    assert not list(tmp_path.glob("bad*"))


def test_a_codec_no_reader_here_decodes_is_unsupported_not_corrupt(legacy_folder: Path) -> None:
    path = legacy_folder / "lzo_codec.parquet"
    for read in (fio.read, lambda p: fio.read_batches(p).read_all()):
        with pytest.raises(UnsupportedFileError, match="compressed with LZO") as raised:
            read(path)
        assert not isinstance(raised.value, CorruptFileError)
        assert isinstance(raised.value, ValueError)


# ---------------------------------------------------------------------------------------------
# INT96 timestamps, as Spark writes them: no embedded Arrow schema.

IN_RANGE = [dt.datetime(1970, 1, 1), dt.datetime(2024, 2, 29, 12, 30, 1, 250000), None]
OUT_OF_RANGE = [dt.datetime(1500, 3, 1, 8), dt.datetime(3000, 12, 31, 23, 59, 59), None]


def write_int96(path: Path, values: list[Any], store_schema: bool = False) -> Path:
    unit = "ns" if store_schema else "us"
    table = pa.table(
        {
            "id": pa.array(range(len(values))),
            "at": pa.array(values, pa.timestamp(unit)),
            "nested": pa.array(
                [{"at": [v, v]} for v in values],
                pa.struct([("at", pa.list_(pa.timestamp(unit)))]),
            ),
        }
    )
    pq.write_table(table, path, use_deprecated_int96_timestamps=True, store_schema=store_schema)
    return path


def test_int96_in_the_nanosecond_range_reads_as_pyarrow(tmp_path: Path) -> None:
    path = write_int96(tmp_path / "spark.parquet", IN_RANGE * 3)
    assert pq.ParquetFile(path).schema.column(1).physical_type == "INT96"
    expected = pq.read_table(path)
    assert expected.schema.field("at").type == pa.timestamp("ns")
    assert fio.read(path).equals(expected)
    assert (
        fio.read_batches(path, filters=[("id", ">=", 3)])
        .read_all()
        .equals(pq.read_table(path, filters=[("id", ">=", 3)]))
    )


def test_int96_outside_nanoseconds_is_refused_naming_the_setting(tmp_path: Path) -> None:
    path = write_int96(tmp_path / "spark.parquet", OUT_OF_RANGE)
    for read in (
        lambda **kw: fio.read(path, **kw),
        lambda **kw: fio.read_batches(path, **kw).read_all(),
    ):
        with pytest.raises(UnsupportedFileError, match="coerce_int96_timestamp_unit"):
            read()
        with pytest.raises(UnsupportedFileError, match='"nested"'):
            read(columns=["nested"])
        with pytest.raises(UnsupportedFileError, match="nanoseconds"):
            read(coerce_int96_timestamp_unit="ns")
    # Columns without INT96 values still read.
    assert fio.read(path, columns=["id"]).equals(pq.read_table(path, columns=["id"]))


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_int96_at_a_chosen_unit_keeps_every_date(tmp_path: Path, unit: str) -> None:
    path = write_int96(tmp_path / "spark.parquet", OUT_OF_RANGE + IN_RANGE)
    expected = pq.read_table(path, coerce_int96_timestamp_unit=unit)
    table = fio.read(path, coerce_int96_timestamp_unit=unit)  # type: ignore[arg-type]
    assert table.schema == expected.schema
    assert table.schema.field("at").type == pa.timestamp(unit)
    assert table.equals(expected)
    wanted = [v if v is None or unit != "s" else v.replace(microsecond=0) for v in OUT_OF_RANGE]
    assert table["at"].to_pylist()[:3] == wanted
    batches = fio.read_batches(
        path,
        columns=["nested"],
        filters=[("id", "<", 2)],
        coerce_int96_timestamp_unit=unit,  # type: ignore[arg-type]
    ).read_all()
    assert batches.equals(
        pq.read_table(
            path, columns=["nested"], filters=[("id", "<", 2)], coerce_int96_timestamp_unit=unit
        )
    )


def test_int96_with_an_embedded_schema_reads_at_its_unit(
    tmp_path: Path, s3s_server: S3Server, s3s_bucket: str
) -> None:
    path = write_int96(tmp_path / "arrow.parquet", IN_RANGE, store_schema=True)
    expected = pq.read_table(path)
    assert fio.read(path).equals(expected)
    options = s3s_server.options()
    uri = upload(s3s_server, s3s_bucket, path)
    assert fio.read(uri, storage_options=options).equals(expected)
    spark = write_int96(tmp_path / "spark.parquet", OUT_OF_RANGE)
    uri = upload(s3s_server, s3s_bucket, spark)
    wide = fio.read(uri, storage_options=options, coerce_int96_timestamp_unit="us")
    assert wide.equals(pq.read_table(spark, coerce_int96_timestamp_unit="us"))
    with pytest.raises(UnsupportedFileError, match="coerce_int96_timestamp_unit"):
        fio.read(uri, storage_options=options)


def test_an_unknown_int96_unit_is_refused(tmp_path: Path) -> None:
    path = write_int96(tmp_path / "spark.parquet", IN_RANGE)
    with pytest.raises(ValueError, match='expected "s", "ms", "us" or "ns"'):
        fio.read(path, coerce_int96_timestamp_unit="days")  # type: ignore[arg-type]
