"""dagster-fastio: fast, compressed, streaming Arrow IPC I/O for Dagster assets.

Importing this package does not import Dagster.
"""

from __future__ import annotations

from dagster_fastio._core import __version__
from dagster_fastio.api import (
    WriteInfo,
    Writer,
    decode,
    encode,
    open_writer,
    read,
    read_batches,
    write,
)
from dagster_fastio.errors import CorruptFileError, FastIOError, StoreError

__all__ = [
    "CorruptFileError",
    "FastIOError",
    "StoreError",
    "WriteInfo",
    "Writer",
    "__version__",
    "decode",
    "encode",
    "open_writer",
    "read",
    "read_batches",
    "write",
]
