"""The one door to the native module ``_core``: nothing else in the package imports it.

Each binding is handed on as it is, but for two kinds of translation that live only here:
``WriteOptions`` become the writing bindings' arguments, and the Arrow streams the core returns
become pyarrow tables and readers that raise this package's errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from dagster_fastio import _core
from dagster_fastio.errors import (
    CorruptFileError,
    FastIOError,
    ObjectChangedError,
    StoreError,
    UnsupportedFileError,
)
from dagster_fastio.options import WriteOptions

__all__ = [
    "COMPRESSIONS",
    "__version__",
    "content_hash",
    "decode",
    "delete_object",
    "delete_objects",
    "describe",
    "encode",
    "imported_schema",
    "list_objects",
    "object_exists",
    "object_size",
    "open_writer",
    "read_file",
    "read_file_batches",
    "read_footer",
    "read_object",
    "read_zstd_file",
    "write_file",
    "write_partitions",
    "write_zstd_file",
]

__version__ = _core.__version__
COMPRESSIONS: tuple[str, ...] = tuple(_core.COMPRESSIONS)
"""The codec names the core takes: the one list the API, the manager and the CLI check."""

# Handed on as they are: they take no options and return Python values.
content_hash = _core.content_hash
delete_object = _core.delete_object
delete_objects = _core.delete_objects
describe = _core.describe
list_objects = _core.list_objects
object_exists = _core.object_exists
object_size = _core.object_size
read_footer = _core.read_footer
read_object = _core.read_object
read_zstd_file = _core.read_zstd_file
write_zstd_file = _core.write_zstd_file

# ---------------------------------------------------------------------------------------------
# Writes: the options, as each binding takes them.

# Every writing binding takes the options as one dict, `WriteOptions.native()`, which the
# bindings turn into the core's WriteOptions once (rust/fastio-py/src/write_options.rs).


def encode(source: Any, options: WriteOptions) -> tuple[Any, Any]:
    """An Arrow IPC file in memory (a uint8 array over the encoder's buffer) and its stats."""
    return _core.encode(source, options.native())


def write_file(
    source: Any, uri: str, options: WriteOptions, storage_options: dict[str, str] | None
) -> Any:
    return _core.write_file(source, uri, options.native(), storage_options)


def open_writer(
    uri: str, schema: Any, options: WriteOptions, storage_options: dict[str, str] | None
) -> Any:
    return _core.TableFileWriter(uri, schema, options.native(), storage_options)


def write_partitions(
    source: Any,
    keys: list[Any],
    targets: list[Any],
    options: WriteOptions,
    storage_options: dict[str, str] | None,
) -> list[Any]:
    return _core.write_partitions(source, keys, targets, options.native(), storage_options)


# ---------------------------------------------------------------------------------------------
# Reads: the core's Arrow streams as pyarrow objects, its errors as this package's.

# Start of every message of the core's CorruptFileError and StoreError, also when they reach
# Python as the error of an Arrow stream that pyarrow is reading.
_CORRUPT_MESSAGE = "corrupt or unsupported Arrow IPC data"
_CORRUPT_PARQUET_MESSAGE = "corrupt or unsupported Parquet data"
_UNSUPPORTED_PARQUET_MESSAGE = "unsupported Parquet data"
_STORE_MESSAGE = "object store error at "
_CHANGED_MESSAGE = "the object changed while it was being read"


def _stream_error(error: pa.ArrowException) -> FastIOError:
    for corrupt in (_CORRUPT_MESSAGE, _CORRUPT_PARQUET_MESSAGE):
        if corrupt in str(error):
            return CorruptFileError(str(error).split(corrupt, 1)[-1].lstrip(": "))
    if _UNSUPPORTED_PARQUET_MESSAGE in str(error):
        message = str(error).split(_UNSUPPORTED_PARQUET_MESSAGE, 1)[-1].lstrip(": ")
        return UnsupportedFileError(f"{_UNSUPPORTED_PARQUET_MESSAGE}: {message}")
    if _STORE_MESSAGE in str(error):
        message = _STORE_MESSAGE + str(error).split(_STORE_MESSAGE, 1)[-1]
        if _CHANGED_MESSAGE in message:
            return ObjectChangedError(message)
        return StoreError(message)
    return FastIOError(str(error))


def _read_all(native: object) -> pa.Table:
    """Imports a fully decoded native reader as a table."""
    try:
        return pa.RecordBatchReader.from_stream(native).read_all()
    except pa.ArrowInvalid as error:
        # The core decoded the data; pyarrow refusing its schema means the file describes
        # something no Arrow reader can hold (a NUL in a field name, for one).
        raise CorruptFileError(str(error)) from error


def _lazy_reader(native: object) -> pa.RecordBatchReader:
    """Imports a lazily decoding native reader, raising our errors from its batches."""
    try:
        source = pa.RecordBatchReader.from_stream(native)
    except pa.ArrowInvalid as error:
        raise CorruptFileError(str(error)) from error

    def batches() -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = source.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowException as error:
                raise _stream_error(error) from error
            yield batch

    return pa.RecordBatchReader.from_batches(source.schema, batches())


def imported_schema(native: object) -> pa.Schema:
    """A schema the core exported, as pyarrow's."""
    try:
        return pa.schema(native)
    except Exception as error:  # pyarrow raises a bare Exception for what C cannot hold
        # Valid to the core, but no Arrow reader in Python can hold it (a NUL in a field
        # name, for one): the read path says the same.
        raise CorruptFileError(str(error)) from error


def decode(data: pa.Array, columns: list[str] | None) -> pa.Table:
    return _read_all(_core.decode(data, columns))


def fill_columns(
    uri: str, columns: list[str], widths: list[int], rows: int
) -> tuple[list[bytearray], list[tuple[int, int, int, bytes]]]:
    """Fixed-width columns of a local IPC file decoded into new bytearrays, and the validity
    of each batch that holds nulls: ``(column, first row, rows, bitmap)``."""
    return _core.fill_columns(uri, columns, widths, rows)


def read_file(
    uri: str,
    columns: list[str] | None,
    storage_options: dict[str, str] | None,
    memory_map: bool,
    format: str,
    filters: list[tuple[str, str, pa.Array]] | None,
    coerce_int96_timestamp_unit: str | None,
) -> pa.Table:
    """The file decoded whole."""
    native = _core.read_file(
        uri, columns, storage_options, memory_map, format, filters, coerce_int96_timestamp_unit
    )
    return _read_all(native)


def read_file_batches(
    uri: str,
    columns: list[str] | None,
    storage_options: dict[str, str] | None,
    memory_map: bool,
    format: str,
    filters: list[tuple[str, str, pa.Array]] | None,
    coerce_int96_timestamp_unit: str | None,
) -> pa.RecordBatchReader:
    """The file decoded batch by batch, as the reader is consumed."""
    native = _core.read_file_batches(
        uri, columns, storage_options, memory_map, format, filters, coerce_int96_timestamp_unit
    )
    return _lazy_reader(native)
