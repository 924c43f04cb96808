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
from dagster_fastio.errors import (
    CorruptFileError,
    FastIOError,
    NotPicklableError,
    ObjectChangedError,
    SchemaMismatchError,
    StoreError,
    UnsupportedFileError,
)
from dagster_fastio.stored.table import StoredTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dagster_fastio.io_manager import FastIOManager
    from dagster_fastio.io_manager.asset_checks import checks
    from dagster_fastio.io_manager.components import FastIOManagerComponent
    from dagster_fastio.io_manager.retention_job import retention_job
    from dagster_fastio.io_manager.versions import data_version, stored_data_version

__all__ = [
    "CorruptFileError",
    "FastIOError",
    "FastIOManager",
    "FastIOManagerComponent",
    "NotPicklableError",
    "ObjectChangedError",
    "SchemaMismatchError",
    "StoreError",
    "StoredTable",
    "UnsupportedFileError",
    "WriteInfo",
    "Writer",
    "__version__",
    "checks",
    "data_version",
    "decode",
    "encode",
    "open_writer",
    "read",
    "read_batches",
    "retention_job",
    "stored_data_version",
    "write",
]


# The names that need Dagster, and the module of the `io_manager` subpackage each lives in:
# importing them only on first use keeps `import dagster_fastio` light for the standalone API.
# This is the one import of the package's own modules made inside a function, for that reason.
_NEED_DAGSTER = {
    "FastIOManager": "dagster_fastio.io_manager",
    "FastIOManagerComponent": "dagster_fastio.io_manager.components",
    "checks": "dagster_fastio.io_manager.asset_checks",
    "data_version": "dagster_fastio.io_manager.versions",
    "retention_job": "dagster_fastio.io_manager.retention_job",
    "stored_data_version": "dagster_fastio.io_manager.versions",
}


def __getattr__(name: str) -> object:
    module = _NEED_DAGSTER.get(name)
    if module is None:
        raise AttributeError(f"module 'dagster_fastio' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    # dg finds components by listing the module its entry point names (this package), so the
    # lazy names must be listed too.
    return sorted({*globals(), *_NEED_DAGSTER})
