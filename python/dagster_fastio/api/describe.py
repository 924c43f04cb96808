"""``describe``: what a stored Arrow IPC file or stream holds, from its headers alone."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from dagster_fastio import _native
from dagster_fastio.uris import PathOrUri

__all__ = ["BatchSummary", "IpcSummary", "describe"]


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """One record batch as stored."""

    rows: int
    stored_bytes: int
    raw_bytes: int
    """Size of its buffers once decompressed."""
    codec: str | None
    """The batch's compression codec; None when uncompressed."""


@dataclass(frozen=True, slots=True)
class IpcSummary:
    """What ``describe`` found: nothing is decoded to learn it."""

    uri: str
    format: str
    """``"file"`` or ``"stream"``."""
    schema: pa.Schema
    stored_bytes: int
    dictionary_batches: int
    batches: tuple[BatchSummary, ...]
    footer_metadata: Mapping[str, str]

    @property
    def rows(self) -> int:
        return sum(batch.rows for batch in self.batches)

    @property
    def raw_bytes(self) -> int:
        return sum(batch.raw_bytes for batch in self.batches)

    @property
    def codecs(self) -> list[str]:
        """The batches' codecs, sorted, ``"none"`` for uncompressed ones (or no batches)."""
        return sorted({batch.codec or "none" for batch in self.batches}) or ["none"]


def describe(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> IpcSummary:
    """Schema, batches, codecs and sizes of an Arrow IPC file or stream, read from its message
    headers and footer (any writer's)."""
    described = _native.describe(os.fspath(uri), storage_options)
    schema = _native.imported_schema(described["schema"])
    return IpcSummary(
        uri=os.fspath(uri),
        format=described["format"],
        schema=schema,
        stored_bytes=described["stored_bytes"],
        dictionary_batches=described["dictionary_batches"],
        batches=tuple(
            BatchSummary(rows=rows, stored_bytes=stored, raw_bytes=raw, codec=codec)
            for rows, stored, raw, codec in described["batches"]
        ),
        footer_metadata=dict(described["footer_metadata"]),
    )
