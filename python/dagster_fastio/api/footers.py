"""Footers: what a file records about itself (schema, key-value pairs), read without its
batches."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from dagster_fastio import _native
from dagster_fastio.api.write_info import ColumnStats, column_stats_of
from dagster_fastio.keys import COLUMN_STATS_KEY, COMPRESSION_KEY, CONTENT_HASH_KEY, ROWS_KEY
from dagster_fastio.uris import PathOrUri

__all__ = ["Footer", "read_footer"]


@dataclass(frozen=True, slots=True)
class Footer:
    """An Arrow IPC file's footer, or a Parquet file's metadata: its schema and key-value
    pairs."""

    uri: str
    schema: pa.Schema
    metadata: Mapping[str, str]
    batches: int
    """Record batches of an IPC file, row groups of a Parquet file."""
    stored_bytes: int
    format: str = "ipc"
    counted_rows: int | None = None
    """The row count a Parquet file's metadata holds, whoever wrote it."""

    @property
    def rows(self) -> int | None:
        """The row count; None for an IPC file of another writer (its footer has none)."""
        if self.counted_rows is not None:
            return self.counted_rows
        text = self.metadata.get(ROWS_KEY)
        return int(text) if text is not None else None

    @property
    def content_hash(self) -> str | None:
        return self.metadata.get(CONTENT_HASH_KEY)

    @property
    def column_stats(self) -> tuple[ColumnStats, ...]:
        return column_stats_of(self.metadata.get(COLUMN_STATS_KEY))

    @property
    def compression(self) -> str | None:
        return self.metadata.get(COMPRESSION_KEY)


def read_footer(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> Footer:
    """The footer of the Arrow IPC or Parquet file at ``uri`` (told apart by its last bytes),
    in one ranged read on a store (two for a footer over 64 KiB); ``FileNotFoundError`` when
    absent, ``CorruptFileError`` for a stream or a damaged file."""
    found = _native.read_footer(os.fspath(uri), storage_options)
    return Footer(
        uri=os.fspath(uri),
        schema=_native.imported_schema(found["schema"]),
        metadata=dict(found["metadata"]),
        batches=found["batches"],
        stored_bytes=found["stored_bytes"],
        format=found["format"],
        counted_rows=found["rows"],
    )
