"""``Writer`` and ``open_writer``: a table written batch by batch, for output larger than
memory."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from dagster_fastio import _native
from dagster_fastio.api.convert import to_arrow_source
from dagster_fastio.api.write_info import WriteInfo, write_info
from dagster_fastio.options import Compat, Compression, Format, ParquetCompression, WriteOptions
from dagster_fastio.uris import PathOrUri, format_of

__all__ = ["Writer", "open_writer"]


class Writer:
    """Writes batches one at a time; the file appears only when the writer closes cleanly.

    Used as a context manager, an exception inside the block (KeyboardInterrupt included)
    aborts the write and leaves any previous file or object untouched. Uploads stream their
    parts as batches arrive, so the output may be larger than memory.
    """

    def __init__(
        self,
        uri: PathOrUri,
        schema: Any,
        *,
        compression: Compression | ParquetCompression = "zstd",
        level: int | None = None,
        chunk_rows: int | None = None,
        fsync: bool = False,
        storage_options: dict[str, str] | None = None,
        part_size: int | None = None,
        max_concurrency: int | None = None,
        metadata: Mapping[str, str] | None = None,
        content_hash: bool = False,
        statistics: bool = False,
        format: Format | None = None,
        compat: Compat = "standard",
    ) -> None:
        chosen = format_of(uri, format)
        options = WriteOptions(
            compression=compression,
            level=level,
            chunk_rows=chunk_rows,
            fsync=fsync,
            part_size=part_size,
            max_concurrency=max_concurrency,
            metadata=metadata,
            content_hash=content_hash,
            statistics=statistics,
            format=chosen,
            compat=compat,
        )
        self._open(uri, schema, options, storage_options)

    @classmethod
    def with_options(
        cls,
        uri: PathOrUri,
        schema: Any,
        options: WriteOptions,
        storage_options: dict[str, str] | None = None,
    ) -> Writer:
        """A writer with its options as one value (``options.format`` already chosen)."""
        writer = cls.__new__(cls)
        writer._open(uri, schema, options, storage_options)
        return writer

    def _open(
        self,
        uri: PathOrUri,
        schema: Any,
        options: WriteOptions,
        storage_options: dict[str, str] | None,
    ) -> None:
        self._uri = uri
        self._options = options
        self._start = time.perf_counter()
        self._native = _native.open_writer(os.fspath(uri), schema, options, storage_options)
        self.info: WriteInfo | None = None
        """Set once the writer has closed cleanly."""

    def write(self, data: Any) -> None:
        """Appends a RecordBatch, Table, DataFrame or Arrow stream with the writer's schema."""
        self._native.write(to_arrow_source(data))

    def close(self) -> WriteInfo:
        """Finishes the file and publishes it (rename, or upload completion)."""
        if self.info is None:
            stats = self._native.finish()
            seconds = time.perf_counter() - self._start
            self.info = write_info(
                self._uri, stats, seconds, self._options.compression, self._options.format
            )
        return self.info

    def abort(self) -> None:
        """Discards everything written (aborting an upload); any previous version stays."""
        self._native.abort()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def open_writer(
    uri: PathOrUri,
    schema: Any,
    *,
    compression: Compression | ParquetCompression = "zstd",
    level: int | None = None,
    chunk_rows: int | None = None,
    fsync: bool = False,
    storage_options: dict[str, str] | None = None,
    part_size: int | None = None,
    max_concurrency: int | None = None,
    metadata: Mapping[str, str] | None = None,
    content_hash: bool = False,
    statistics: bool = False,
    format: Format | None = None,
    compat: Compat = "standard",
) -> Writer:
    """Opens a streaming writer for output larger than memory.

    ``schema`` is a ``pyarrow.Schema`` or any object with ``__arrow_c_schema__``. The store,
    footer and format options are ``write``'s; a Parquet writer holds one row group's batches
    (64 MiB by default) before encoding them.
    """
    return Writer(
        uri,
        schema,
        compression=compression,
        level=level,
        chunk_rows=chunk_rows,
        fsync=fsync,
        storage_options=storage_options,
        part_size=part_size,
        max_concurrency=max_concurrency,
        metadata=metadata,
        content_hash=content_hash,
        statistics=statistics,
        format=format,
        compat=compat,
    )
