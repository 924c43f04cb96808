"""Typed stubs of the native module; `make lint` checks them with mypy.stubtest."""

from typing import Any, Literal, final

_Compression = Literal["zstd", "lz4", "none", "snappy", "gzip", "brotli"]
_Format = Literal["ipc", "parquet"]
_TimeUnit = Literal["s", "ms", "us", "ns"]
_Compat = Literal["standard", "wide", "none"]

# The `options` of every writing binding: one key per field of the core's WriteOptions
# (rust/fastio-core/src/format/options.rs, which documents each) and of the Python
# `dagster_fastio.options.WriteOptions`, whose `native()` builds it; a missing key takes its
# default, an unknown one is a ValueError naming it.
_WriteOptions = dict[str, Any]

__all__ = [
    "COMPRESSIONS",
    "TableFileWriter",
    "WriteStats",
    "__version__",
    "content_hash",
    "decode",
    "delete_object",
    "delete_objects",
    "describe",
    "encode",
    "fill_columns",
    "list_objects",
    "object_exists",
    "object_size",
    "read_file",
    "read_file_batches",
    "read_footer",
    "read_object",
    "read_zstd_file",
    "write_file",
    "write_partitions",
    "write_zstd_file",
]

COMPRESSIONS: list[str]
__version__: str

@final
class WriteStats:
    @property
    def rows(self) -> int: ...
    @property
    def batches(self) -> int: ...
    @property
    def raw_bytes(self) -> int: ...
    @property
    def stored_bytes(self) -> int: ...
    @property
    def parts(self) -> int: ...
    @property
    def content_hash(self) -> str | None: ...
    @property
    def column_stats(self) -> str | None: ...

@final
class TableFileWriter:
    def __new__(
        cls,
        uri: str,
        schema: Any,
        options: _WriteOptions,
        storage_options: dict[str, str] | None = None,
    ) -> TableFileWriter: ...
    def write(self, data: Any) -> None: ...
    def finish(self) -> WriteStats: ...
    def abort(self) -> None: ...
    @property
    def closed(self) -> bool: ...

def encode(data: Any, options: _WriteOptions) -> tuple[Any, WriteStats]:
    """An IPC file in memory: `format` must be "ipc"; fsync, part_size and max_concurrency
    are checked but have nothing to configure."""

def write_file(
    data: Any, uri: str, options: _WriteOptions, storage_options: dict[str, str] | None = None
) -> WriteStats: ...
def decode(data: Any, columns: list[str] | None = None) -> Any: ...
def read_file(
    uri: str,
    columns: list[str] | None = None,
    storage_options: dict[str, str] | None = None,
    memory_map: bool = False,
    format: _Format = "ipc",
    filters: list[tuple[str, str, Any]] | None = None,
    coerce_int96_timestamp_unit: _TimeUnit | None = None,
) -> Any: ...
def read_file_batches(
    uri: str,
    columns: list[str] | None = None,
    storage_options: dict[str, str] | None = None,
    memory_map: bool = False,
    format: _Format = "ipc",
    filters: list[tuple[str, str, Any]] | None = None,
    coerce_int96_timestamp_unit: _TimeUnit | None = None,
) -> Any: ...
def write_zstd_file(
    uri: str,
    data: bytes,
    level: int = ...,  # 1 (the binding's default is a checked integer, shown as "...")
    fsync: bool = False,
    storage_options: dict[str, str] | None = None,
    part_size: int | None = None,
    max_concurrency: int | None = None,
) -> tuple[int, int]: ...
def read_zstd_file(uri: str, storage_options: dict[str, str] | None = None) -> Any: ...
def object_exists(
    uri: str, storage_options: dict[str, str] | None = None, tell_missing_bucket: bool = True
) -> bool: ...
def delete_object(uri: str, storage_options: dict[str, str] | None = None) -> None: ...
def delete_objects(uris: list[str], storage_options: dict[str, str] | None = None) -> None: ...
def describe(uri: str, storage_options: dict[str, str] | None = None) -> dict[str, Any]: ...
def object_size(uri: str, storage_options: dict[str, str] | None = None) -> int: ...
def list_objects(
    uri: str, storage_options: dict[str, str] | None = None
) -> list[tuple[str, int, float]]: ...
def read_object(uri: str, storage_options: dict[str, str] | None = None) -> Any: ...
def read_footer(uri: str, storage_options: dict[str, str] | None = None) -> dict[str, Any]: ...
def content_hash(data: Any) -> str | None: ...
def write_partitions(
    data: Any,
    keys: list[tuple[str, list[str]] | tuple[str, list[int], list[int]]],
    targets: list[tuple[str, list[int], dict[str, str] | None]],
    options: _WriteOptions,
    storage_options: dict[str, str] | None = None,
) -> list[WriteStats]: ...
def fill_columns(
    uri: str, columns: list[str], widths: list[int], rows: int
) -> tuple[list[bytearray], list[tuple[int, int, int, bytes]]]: ...
