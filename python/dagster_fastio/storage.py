"""The I/O manager's storage settings bound to the ``api`` calls, built once per resource:
how each output is written and each input read. No Dagster import."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.layout import Location
from dagster_fastio.table_types import TableType, load_stored_type

__all__ = ["Storage", "TableSink"]


@dataclass(frozen=True, slots=True)
class TableSink:
    """One table output's location and write options."""

    uri: str
    compression: str
    level: int | None
    storage_options: dict[str, str] | None
    part_size: int | None
    max_concurrency: int | None

    def write(self, data: Any) -> api.WriteInfo:
        return api.write(
            data,
            self.uri,
            compression=self.compression,  # type: ignore[arg-type]
            level=self.level,
            storage_options=self.storage_options,
            part_size=self.part_size,
            max_concurrency=self.max_concurrency,
        )

    def open_writer(self, schema: pa.Schema) -> api.Writer:
        return api.open_writer(
            self.uri,
            schema,
            compression=self.compression,  # type: ignore[arg-type]
            storage_options=self.storage_options,
            part_size=self.part_size,
            level=self.level,
            max_concurrency=self.max_concurrency,
        )


@dataclass(frozen=True, slots=True)
class Storage:
    """Where outputs go (``base``) and the options every write and read takes."""

    base: Location
    compression: str | None
    level: int | None
    part_size: int | None
    storage_options: dict[str, str] | None
    memory_map: bool
    max_concurrency: int | None

    def table_sink(self, path: Location, compression: str | None) -> TableSink:
        """Where a table goes; ``compression`` None chooses by where ``path`` is."""
        if compression is None:
            # Measured (benches/RESULTS.md): on a local disk lz4 hands a table over fastest and
            # still stores a third of pickle's bytes; over a network the bytes are the cost.
            compression = "zstd" if path.remote or self.level is not None else "lz4"
        compression = str(compression).lower()
        level = self.level if compression == "zstd" else None
        return TableSink(
            path.text,
            compression,
            level,
            self.storage_options,
            self.part_size,
            self.max_concurrency,
        )

    def load(
        self, stem: Location, table_type: TableType | None, columns: Any, optional: bool = False
    ) -> Any:
        """The value stored at ``stem``: its table as ``table_type`` (None: as it was stored),
        else its pickle; when neither is there, None if ``optional``, else ``FileNotFoundError``."""
        # Each read reports absence itself, so a store is asked once per format, not twice.
        try:
            if table_type is None:
                return load_stored_type(stem.table.text, self, columns)
            return table_type.read(stem.table.text, self, columns)
        except FileNotFoundError:
            pass
        try:
            return self.read_pickle(stem.pickle)
        except FileNotFoundError:
            pass
        if optional:
            return None
        raise FileNotFoundError(
            f"nothing stored at {stem.table} (nor {os.path.basename(stem.pickle.text)}): has the "
            "upstream output been materialized?"
        )

    def write_pickle(self, obj: Any, path: Location) -> api.WriteInfo:
        return api.write_pickle(
            obj,
            path.text,
            storage_options=self.storage_options,
            part_size=self.part_size,
            max_concurrency=self.max_concurrency,
        )

    def read_pickle(self, path: Location) -> Any:
        return api.read_pickle(path.text, self.storage_options)

    def delete(self, path: Location) -> None:
        api.delete(path.text, self.storage_options)

    def read(self, uri: str, columns: list[str] | None) -> pa.Table:
        return api.read(uri, columns, self.storage_options, self.memory_map)

    def read_batches(self, uri: str, columns: list[str] | None) -> pa.RecordBatchReader:
        return api.read_batches(uri, columns, self.storage_options, self.memory_map)

    def exists(self, uri: str) -> bool:
        return api.exists(uri, self.storage_options)

    def workers(self, tasks: int) -> int:
        """Threads for ``tasks`` concurrent loads."""
        return max(1, min(tasks, self.max_concurrency or 8))
