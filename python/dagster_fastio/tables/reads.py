"""``TableReads``: the reads of one storage's settings, bound once. Handlers and scans are given
it, never the storage, so neither imports what calls it."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.api.tables import fill_columns
from dagster_fastio.uris import is_remote

__all__ = ["TableReads"]

DEFAULT_WORKERS = 8
"""Concurrent loads when ``max_concurrency`` is not set (as the upload default)."""


@dataclass(frozen=True, slots=True)
class TableReads:
    """Reads at these storage options (object_store's keys); local files memory-mapped when
    ``memory_map``."""

    storage_options: dict[str, str] | None = None
    memory_map: bool = False
    max_concurrency: int | None = None

    # Each read looks its `api` function up when it runs rather than holding it: one made at
    # setup calls what `dagster_fastio.api` holds at the time (a test may wrap `api.read`).
    def read(self, uri: str, columns: list[str] | None) -> pa.Table:
        return api.read(uri, columns, self.storage_options, self.memory_map)

    def read_batches(self, uri: str, columns: list[str] | None) -> pa.RecordBatchReader:
        return api.read_batches(uri, columns, self.storage_options, self.memory_map)

    def fill_columns(
        self, uri: str, columns: list[str], widths: list[int], rows: int
    ) -> tuple[list[bytearray], list[tuple[int, int, int, bytes]]] | None:
        """``columns`` of the local IPC file at ``uri`` decoded into new bytearrays (see
        ``api.tables.fill_columns``); None for a store object, which is read by batches."""
        if is_remote(uri) or self.memory_map:
            return None
        return fill_columns(uri, columns, widths, rows)

    def footer(self, uri: str) -> api.Footer:
        """The footer of the table file at ``uri``; ``FileNotFoundError`` when there is none."""
        try:
            return api.read_footer(uri, self.storage_options)
        except FileNotFoundError:
            raise FileNotFoundError(f"no table stored at {uri}") from None

    def exists(self, uri: str) -> bool:
        return api.exists(uri, self.storage_options)

    def workers(self, tasks: int) -> int:
        """Threads for ``tasks`` concurrent loads."""
        return max(1, min(tasks, self.max_concurrency or DEFAULT_WORKERS))
