"""FastIOManager's inputs: the value an input's annotation asks for, from what the upstream
output stored (its table, its pickle, or a replaced manager's pickle), partitions loaded
concurrently."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

from dagster_fastio.api.peak_memory import PeakMemory
from dagster_fastio.io_manager.contexts import input_annotation, stem_of
from dagster_fastio.io_manager.dataset_inputs import dataset_kind, open_dataset
from dagster_fastio.io_manager.load_report import report_load
from dagster_fastio.io_manager.size_routes import recorded_format, warn_if_it_will_not_fit
from dagster_fastio.keys import ALLOW_MISSING_PARTITIONS_KEY, COLUMNS_KEY, FORMAT_METADATA_KEY
from dagster_fastio.options import check_format
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.part_loads import PartitionParts
from dagster_fastio.stored.replaced_pickles import multi_partition_stem, op_output_stems
from dagster_fastio.stored.storage import Storage
from dagster_fastio.tables.annotations import InputSpec
from dagster_fastio.tables.memory_model import LOAD_PEAK_PER_BYTE

__all__ = ["load_input"]


def load_input(context: dg.InputContext, storage: Storage) -> Any:
    """The value the input asks for: a dataset or reference, a table of the annotated type
    (several partitions combined), a dict by partition, or what was stored; with the load's
    seconds, bytes, rows and memory reported as input metadata (``load_report``)."""
    storage = _input_storage(context, storage)
    read: list[Location] = []
    lock = threading.Lock()

    def on_read(path: Location) -> None:
        with lock:  # partitions are loaded by several threads
            read.append(path)

    with PeakMemory() as memory:
        start = time.perf_counter()
        value = _load(context, storage, on_read)
        seconds = time.perf_counter() - start
    report_load(context, storage, value, seconds, memory, read)
    return value


def _load(context: dg.InputContext, storage: Storage, on_read: Callable[[Location], None]) -> Any:
    spec = InputSpec.of(input_annotation(context))

    def on_replaced(stem: Location) -> None:
        context.log.info(
            f"Loaded {stem}, a pickle the replaced I/O manager stored: no file of this "
            "package's is there yet (the next materialization writes one)."
        )

    stem = stem_of(context, storage.base)
    columns = (context.definition_metadata or {}).get(COLUMNS_KEY)
    partitioned = context.has_asset_key and context.has_asset_partitions
    kind = dataset_kind(spec, context.definition_metadata or {})
    if kind is not None:
        # The stored files as one lazy dataset with key columns (see ``dataset_inputs``).
        return open_dataset(
            kind,
            storage,
            stem,
            stem.partitions(context.asset_partition_keys) if partitioned else None,
            context.definition_metadata or {},
            optional=spec.optional,
            on_missing=lambda uri: context.log.warning(f"Skipped missing partition {uri}."),
        )
    # Only the types loaded whole are checked: a reader, LazyFrame or relation reads later.
    eager = spec.table_type is not None and spec.table_type.name in LOAD_PEAK_PER_BYTE
    if eager and storage.load_memory_check:
        read = (
            list(stem.partitions(context.asset_partition_keys).values()) if partitioned else [stem]
        )
        warn_if_it_will_not_fit(context, storage, read, spec.table_type.name)
    if not partitioned:
        elsewhere = () if context.has_asset_key else _op_output_elsewhere(context, storage.base)
        return storage.load(
            stem, spec.table_type, columns, spec.optional, on_replaced, elsewhere, on_read
        )
    stems = stem.partitions(context.asset_partition_keys)

    def elsewhere_of(key: str) -> tuple[Location, ...]:
        older = multi_partition_stem(stem, key)
        return () if older is None else (older,)

    if not stems:
        return {} if spec.by_partition else None
    if len(stems) == 1 and not spec.by_partition:
        key, only = next(iter(stems.items()))
        return storage.load(
            only, spec.table_type, columns, spec.optional, on_replaced, elsewhere_of(key), on_read
        )
    table_type = spec.table_type
    if table_type is None:
        # A dict (or no table type): one value per partition, of the dict's value type.
        loaded = _load_partitions(
            context,
            storage,
            stems,
            lambda key, s: storage.load(
                s, spec.value_type, columns, False, on_replaced, elsewhere_of(key), on_read
            ),
        )
        # As UPathIOManager: a partition that stored None is left out of the dict.
        return {key: value for key, value in loaded.items() if value is not None}
    # A table type: the partitions' tables as one value of that type.
    parts = _load_partitions(
        context,
        storage,
        stems,
        lambda key, s: storage.load_part(
            s, table_type, columns, on_replaced, elsewhere_of(key), on_read
        ),
    )
    if not parts:
        raise FileNotFoundError(
            f"none of the {len(stems)} partitions of {context.asset_key.to_user_string()} "
            f"is stored under {stem}"
        )
    # An appended partition gives its parts, in order, among the others'.
    flat = [
        piece
        for part in parts.values()
        for piece in (part if isinstance(part, PartitionParts) else [part])
    ]
    return table_type.combine(flat, storage.reads, columns)


def _op_output_elsewhere(context: dg.InputContext, base: Location) -> list[Location]:
    """Where the replaced cloud pickle managers put this op output."""
    try:
        identifier = context.get_identifier()
    except dg.DagsterInvariantViolationError:  # a testing context without a run
        return []
    return op_output_stems(base, identifier)


def _input_storage(context: dg.InputContext, storage: Storage) -> Storage:
    """The storage an input reads through: the upstream asset's own format (its
    ``fastio/format``, else with routing by size the format its latest materialization
    recorded) is looked for first, then the other, in every kind of load."""
    upstream = context.upstream_output
    metadata = (upstream.definition_metadata if upstream is not None else None) or {}
    chosen = metadata.get(FORMAT_METADATA_KEY)
    if chosen is None and storage.parquet_above is not None:
        # Routed by size: the event log says which format the latest write chose.
        chosen = recorded_format(context)
    if chosen is None or check_format(chosen) == storage.format:
        return storage
    return dataclasses.replace(storage, format=check_format(chosen))


def _load_partitions(
    context: dg.InputContext,
    storage: Storage,
    stems: dict[str, Location],
    load: Callable[[str, Location], Any],
) -> dict[str, Any]:
    """``load`` of each partition's stem, concurrently, skipping missing ones if allowed."""
    allow_missing = bool((context.definition_metadata or {}).get(ALLOW_MISSING_PARTITIONS_KEY))
    workers = storage.reads.workers(len(stems))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fastio-load") as pool:
        futures = {key: pool.submit(load, key, stem) for key, stem in stems.items()}
        loaded: dict[str, Any] = {}
        for key, future in futures.items():
            try:
                loaded[key] = future.result()
            except FileNotFoundError:
                if not allow_missing:
                    raise
                context.log.warning(
                    f"Skipped missing partition {key}: the input allows missing partitions."
                )
    return loaded
