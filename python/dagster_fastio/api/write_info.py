"""What a write stored: ``WriteInfo``, and each column's statistics as the encoder gathered
them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from dagster_fastio.uris import PathOrUri

__all__ = ["ColumnStats", "WriteInfo", "column_stats_of", "write_info"]


@dataclass(frozen=True, slots=True)
class ColumnStats:
    """One column's statistics as the encoder gathered them."""

    name: str
    null_count: int
    min: str | None
    """The smallest value as Arrow displays it (ISO dates and times, UTC instants); None for
    types without an order (lists, structs, dictionaries, intervals) or an all-null column."""
    max: str | None


@dataclass(frozen=True, slots=True)
class WriteInfo:
    """What one ``write`` (or ``open_writer`` session) stored."""

    uri: str
    rows: int
    batches: int
    raw_bytes: int
    """Size of the Arrow data in memory, before compression."""
    stored_bytes: int
    """Size of the stored file."""
    parts: int
    """Upload parts (1 for a local file)."""
    seconds: float
    compression: str
    content_hash: str | None = None
    """``xxh3-128:<hex>`` of the table's schema and values, whatever its batches and codec."""
    column_stats: tuple[ColumnStats, ...] = ()
    """Null count, smallest and largest value of each column."""
    written: bool = True
    """False when the stored file already held this content and was left as it was."""
    format: str = "ipc"
    """``"ipc"`` or ``"parquet"``; ``"pickle"`` for a zstd pickle."""
    compression_reason: str | None = None
    """Why FastIOManager chose ``compression`` for this output, when it chose per output."""
    route: str | None = None
    """Where FastIOManager's size route sent this table, and why, when it routes by size."""

    @property
    def compression_ratio(self) -> float:
        return self.raw_bytes / self.stored_bytes if self.stored_bytes else 0.0

    @property
    def throughput_mb_s(self) -> float:
        return self.raw_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


def column_stats_of(text: str | None) -> tuple[ColumnStats, ...]:
    """The statistics a footer holds as JSON text."""
    if not text:
        return ()
    return tuple(
        ColumnStats(c["name"], c["null_count"], c["min"], c["max"]) for c in json.loads(text)
    )


def write_info(
    uri: PathOrUri, stats: Any, seconds: float, compression: str, format: str = "ipc"
) -> WriteInfo:
    """A table write's ``WriteInfo`` from the core's ``WriteStats``."""
    return WriteInfo(
        uri=os.fspath(uri),
        rows=stats.rows,
        batches=stats.batches,
        raw_bytes=stats.raw_bytes,
        stored_bytes=stats.stored_bytes,
        parts=stats.parts,
        seconds=seconds,
        compression=compression.lower(),
        content_hash=stats.content_hash,
        column_stats=column_stats_of(stats.column_stats),
        format=format,
    )
