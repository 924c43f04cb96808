"""Typed stubs of the native module; `make lint` checks them with mypy.stubtest."""

from pathlib import Path
from typing import Any, final

__all__ = [
    "IpcFileWriter",
    "WriteStats",
    "__version__",
    "decode",
    "encode",
    "read_file",
    "read_file_batches",
    "read_zstd_file",
    "write_file",
    "write_zstd_file",
]

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

@final
class IpcFileWriter:
    def __new__(
        cls,
        path: str | Path,
        schema: Any,
        compression: str = "zstd",
        level: int | None = None,
        chunk_rows: int | None = None,
        fsync: bool = False,
    ) -> IpcFileWriter: ...
    def write(self, data: Any) -> None: ...
    def finish(self) -> WriteStats: ...
    def abort(self) -> None: ...
    @property
    def closed(self) -> bool: ...

def encode(
    data: Any, compression: str = "zstd", level: int | None = None, chunk_rows: int | None = None
) -> tuple[Any, WriteStats]: ...
def write_file(
    data: Any,
    path: str | Path,
    compression: str = "zstd",
    level: int | None = None,
    chunk_rows: int | None = None,
    fsync: bool = False,
) -> WriteStats: ...
def decode(data: Any, columns: list[str] | None = None) -> Any: ...
def read_file(path: str | Path, columns: list[str] | None = None) -> Any: ...
def read_file_batches(path: str | Path, columns: list[str] | None = None) -> Any: ...
def write_zstd_file(path: str | Path, data: bytes, level: int = 1, fsync: bool = False) -> int: ...
def read_zstd_file(path: str | Path) -> Any: ...
