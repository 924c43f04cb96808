"""What a load cost, reported where users look: input metadata under ``dagster_fastio/``
(Dagster shows it on the LOADED_INPUT event and records it as an observation of the loaded
asset, which the ``io_slowdown`` check reads back), or a log line where Dagster takes no input
metadata."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

from dagster_fastio.api import stored_size
from dagster_fastio.api.peak_memory import PeakMemory
from dagster_fastio.errors import StoreError
from dagster_fastio.keys import (
    LOAD_BYTES_KEY,
    LOAD_FILES_KEY,
    LOAD_FORMAT_KEY,
    LOAD_LAZY_KEY,
    LOAD_MB_PER_S_KEY,
    LOAD_PEAK_MEMORY_MB_KEY,
    LOAD_ROWS_KEY,
    LOAD_SECONDS_KEY,
    LOAD_URI_KEY,
    MEMORY_METHOD_KEY,
)
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.storage import Storage
from dagster_fastio.uris import PARQUET_SUFFIX, PICKLE_SUFFIX, TABLE_SUFFIX

__all__ = ["load_metadata", "memory_mb", "report_load"]

# Values that read nothing when the input is loaded: their reads happen when they are consumed.
_LAZY_TYPES = frozenset(
    {"LazyFrame", "RecordBatchReader", "DuckDBPyRelation", "StoredTable", "Dataset"}
)


def report_load(
    context: dg.InputContext,
    storage: Storage,
    value: Any,
    seconds: float,
    memory: PeakMemory,
    read: list[Location],
) -> None:
    metadata = load_metadata(value, seconds, memory, read, _sizes(storage, read))
    if (
        context.has_asset_key
        and context.has_asset_partitions
        and len(context.asset_partition_keys) != 1
    ):
        # Dagster records input metadata as an observation of one partition, and refuses it
        # for an input of several: the figures go to the step's log instead.
        figures = ", ".join(
            f"{key.removeprefix('dagster_fastio/')}={value.value}"
            for key, value in metadata.items()
        )
        context.log.info(f"Loaded {len(context.asset_partition_keys)} partitions: {figures}")
        return
    context.add_input_metadata(metadata)


def load_metadata(
    value: Any,
    seconds: float,
    memory: PeakMemory,
    read: list[Location],
    sizes: list[int] | None,
) -> dict[str, dg.MetadataValue]:
    """The figures of one load: ``read`` the files it read, ``sizes`` their stored bytes
    (None: unknown)."""
    metadata: dict[str, dg.MetadataValue] = {
        LOAD_SECONDS_KEY: dg.MetadataValue.float(round(seconds, 4)),
        LOAD_FILES_KEY: dg.MetadataValue.int(len(read)),
    }
    if read:
        formats = sorted({_format_of(path.text) for path in read})
        metadata[LOAD_FORMAT_KEY] = dg.MetadataValue.text(",".join(formats))
        # Several files: the folder holding them all (the asset's, for its partitions).
        where = read[0].text if len(read) == 1 else _common_folder([p.text for p in read])
        metadata[LOAD_URI_KEY] = dg.MetadataValue.path(where)
    lazy = _is_lazy(value)
    if lazy:
        metadata[LOAD_LAZY_KEY] = dg.MetadataValue.bool(True)
    else:
        rows = _rows_of(value)
        if rows is not None:
            metadata[LOAD_ROWS_KEY] = dg.MetadataValue.int(rows)
        if sizes is not None and read:
            loaded = sum(sizes)
            metadata[LOAD_BYTES_KEY] = dg.MetadataValue.int(loaded)
            if seconds > 0:
                metadata[LOAD_MB_PER_S_KEY] = dg.MetadataValue.float(
                    round(loaded / 1e6 / seconds, 1)
                )
    if memory.added_bytes is not None and memory.method is not None:
        metadata[LOAD_PEAK_MEMORY_MB_KEY] = dg.MetadataValue.float(memory_mb(memory.added_bytes))
        metadata[MEMORY_METHOD_KEY] = dg.MetadataValue.text(memory.method)
    return metadata


def _common_folder(uris: list[str]) -> str:
    folders = [uri.rsplit("/", 1)[0] for uri in uris]
    parts = [folder.split("/") for folder in folders]
    common = []
    for names in zip(*parts, strict=False):
        if len(set(names)) != 1:
            break
        common.append(names[0])
    return "/".join(common)


def memory_mb(added_bytes: int) -> float:
    return round(added_bytes / 1e6, 1)


def _sizes(storage: Storage, read: list[Location]) -> list[int] | None:
    """Stored bytes of each file read, asked after the load's clock stopped (a stat each on a
    local disk, a HEAD each on a store); None when one cannot be asked."""
    if not read:
        return []

    def size(path: Location) -> int:
        if not path.remote:
            return os.path.getsize(path.text)
        return stored_size(path.text, storage.storage_options)

    try:
        if len(read) == 1:
            return [size(read[0])]
        with ThreadPoolExecutor(storage.reads.workers(len(read)), "fastio-sizes") as pool:
            return list(pool.map(size, read))
    except (OSError, ValueError, StoreError):  # removed meanwhile, or a HEAD refused
        return None


def _format_of(uri: str) -> str:
    if uri.endswith(TABLE_SUFFIX):
        return "ipc"
    if uri.endswith(PARQUET_SUFFIX):
        return "parquet"
    if uri.endswith(PICKLE_SUFFIX):
        return "pickle"
    return "replaced_pickle"


def _is_lazy(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_is_lazy(item) for item in value.values())
    return any(cls.__name__ in _LAZY_TYPES for cls in type(value).__mro__)


def _rows_of(value: Any) -> int | None:
    """Rows of an eager table (pyarrow, pandas, polars), or of a dict of them; None else."""
    if isinstance(value, dict):
        counts = [_rows_of(item) for item in value.values()]
        return None if not counts or None in counts else sum(c for c in counts if c is not None)
    rows = getattr(value, "num_rows", None)  # pyarrow
    if isinstance(rows, int):
        return rows
    module = type(value).__module__.split(".")[0]
    if module == "polars" and isinstance(getattr(value, "height", None), int):
        return value.height
    if module == "pandas" and hasattr(value, "shape"):
        return int(value.shape[0])
    return None
