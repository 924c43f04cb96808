"""The codec of a table output on a local disk when none was asked for: lz4, unless a sample of
the table shows lz4 would save little, then none (see ``choose_local_codec``). No Dagster import.

Measured in fresh processes (benches/RESULTS.md, "Codec per output"): on data lz4 cannot
shrink, an uncompressed file writes without a compression attempt and loads into a pandas
frame in one copy from the file, where an lz4 file is read and then copied or inflated.
On compressible data lz4 keeps the file a third of the size at about the same handoff.
Tables stream through a writer without being sampled keep lz4.
"""

from __future__ import annotations

import pyarrow as pa

from dagster_fastio import api

__all__ = ["INCOMPRESSIBLE_RATIO", "choose_local_codec"]

INCOMPRESSIBLE_RATIO = 1.5
"""Below this lz4 ratio (raw bytes over lz4 bytes) of the sample, a table is stored
uncompressed: lz4 would save less than a third of the bytes."""

SAMPLE_BYTES = 1 << 20
"""About this much of the table is encoded twice to measure the ratio (a few milliseconds)."""

SAMPLE_SLICES = 4
"""The sample is this many slices spread over the table, so that a sorted table's first rows
do not speak for all of it."""


def choose_local_codec(table: pa.Table) -> tuple[str, str]:
    """``("lz4" | "none", reason)`` for ``table`` on a local disk, from a sample's lz4 ratio."""
    ratio = sample_lz4_ratio(table)
    if ratio is None:
        return "lz4", "lz4: the default for a local disk (no rows to sample)"
    if ratio < INCOMPRESSIBLE_RATIO:
        return "none", (
            f"none: a sample compressed {ratio:.2f}x with lz4, below {INCOMPRESSIBLE_RATIO}x, "
            "so the table is stored uncompressed (faster to write and to load)"
        )
    return "lz4", f"lz4: a sample compressed {ratio:.2f}x"


def sample_lz4_ratio(table: pa.Table) -> float | None:
    """Raw bytes over lz4 bytes of about ``SAMPLE_BYTES`` of ``table``; None without rows."""
    rows = table.num_rows
    if rows == 0 or table.num_columns == 0:
        return None
    per_row = max(table.nbytes / rows, 1.0)
    wanted = max(1, min(rows, int(SAMPLE_BYTES / per_row)))
    if wanted == rows:
        sample = table
    else:
        length = max(1, wanted // SAMPLE_SLICES)
        step = rows // SAMPLE_SLICES
        sample = pa.concat_tables(
            [table.slice(index * step, length) for index in range(SAMPLE_SLICES)]
        )
    raw = api.encode(sample, compression="none").size
    compressed = api.encode(sample, compression="lz4").size
    return raw / compressed if compressed else None
