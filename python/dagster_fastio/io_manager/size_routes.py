"""Routing by size, on the load side: which format the latest materialization of an input's
asset stored (its ``dagster/uri``, read from the instance's event log), and a warning before an
eager load the memory model says will not fit (``tables.memory_model``)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import dagster as dg

from dagster_fastio.keys import RAW_BYTES_KEY
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.storage import Storage
from dagster_fastio.tables.memory_model import available_memory, expected_load_peak
from dagster_fastio.uris import PARQUET_SUFFIX, TABLE_SUFFIX

__all__ = ["MEMORY_CHECK_MAX_PARTITIONS", "recorded_format", "warn_if_it_will_not_fit"]

MEMORY_CHECK_MAX_PARTITIONS = 100
"""An eager load of more partitions than this is not checked: one footer read per partition."""

LAZY_INPUTS = (
    "pl.LazyFrame, dagster_fastio.StoredTable, duckdb.DuckDBPyRelation or pyarrow.dataset.Dataset"
)


def recorded_format(context: dg.InputContext) -> str | None:
    """``"parquet"`` or ``"ipc"``: what the latest materialization of the input's asset (or of
    its one partition) stored, by its ``dagster/uri``; None when nothing says (no instance, an
    op output, several partitions, no record)."""
    if not context.has_asset_key:
        return None
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # a testing context built without one
        return None
    partitions = list(context.asset_partition_keys) if context.has_asset_partitions else None
    if partitions is not None and len(partitions) != 1:
        return None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=partitions), limit=1
    ).records
    materialization = records[0].asset_materialization if records else None
    entry = None if materialization is None else materialization.metadata.get("dagster/uri")
    uri = str(getattr(entry, "value", "") or "")
    if uri.endswith(PARQUET_SUFFIX):
        return "parquet"
    if uri.endswith(TABLE_SUFFIX):
        return "ipc"
    return None


def warn_if_it_will_not_fit(
    context: dg.InputContext, storage: Storage, stems: Sequence[Location], type_name: str
) -> None:
    """Logs a warning when an eager load of the tables of ``stems`` as ``type_name`` is
    expected to add more memory than this process has available, naming the lazy inputs."""
    if len(stems) > MEMORY_CHECK_MAX_PARTITIONS:
        return
    with ThreadPoolExecutor(storage.reads.workers(len(stems)), "fastio-size") as pool:
        footers = [f for f in pool.map(storage.stored_footer, stems) if f is not None]
    if not footers:
        return
    # A table written from memory records its Arrow size; one streamed in does not, and its
    # stored size stands in as the least it can be.
    arrow_bytes = sum(int(f.metadata.get(RAW_BYTES_KEY) or f.stored_bytes) for f in footers)
    expected = expected_load_peak(arrow_bytes, type_name)
    room = available_memory()
    if room is None or expected <= room:
        return
    name = context.asset_key.to_user_string() if context.has_asset_key else context.name
    context.log.warning(
        f"Loading {name} as {type_name} is expected to add {expected / 1e6:,.0f} MB "
        f"({arrow_bytes / 1e6:,.0f} MB of Arrow data times the peak measured per byte), more "
        f"than the {room / 1e6:,.0f} MB this process has available. Annotate the input as "
        f"{LAZY_INPUTS} to read it lazily, or load fewer columns (the input's `columns` "
        "metadata)."
    )
