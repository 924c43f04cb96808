"""dagster-fastio: fast, compressed, streaming Arrow IPC I/O for Dagster assets.

Importing this package does not import Dagster.
"""

from __future__ import annotations

from dagster_fastio.api import (
    WriteInfo,
    Writer,
    __version__,
    decode,
    encode,
    open_writer,
    read,
    read_batches,
    write,
)
from dagster_fastio.errors import CorruptFileError, FastIOError, ObjectChangedError, StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dagster_fastio.io_manager import FastIOManager

__all__ = [
    "CorruptFileError",
    "FastIOError",
    "FastIOManager",
    "ObjectChangedError",
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


def __getattr__(name: str) -> object:
    # FastIOManager needs Dagster; importing it only on first use keeps `import dagster_fastio`
    # light for the standalone API.
    if name == "FastIOManager":
        from dagster_fastio.io_manager import FastIOManager

        return FastIOManager
    raise AttributeError(f"module 'dagster_fastio' has no attribute {name!r}")
