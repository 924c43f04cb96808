"""FastIOManager's outputs: a table written by its type's handler (or split into the files of
several partitions), anything else pickled, the other formats' files of the key removed, and
the metadata reported."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

from dagster_fastio.api.peak_memory import PeakMemory
from dagster_fastio.errors import NotPicklableError
from dagster_fastio.io_manager.appends import append_output, range_parts, write_mode_of
from dagster_fastio.io_manager.contexts import (
    asked_format_or_codec,
    output_compression,
    output_format,
    output_name,
    provenance,
    stem_of,
)
from dagster_fastio.io_manager.metadata import (
    memory_metadata,
    pickle_metadata,
    range_metadata,
    table_metadata,
)
from dagster_fastio.io_manager.partition_ranges import plan_split
from dagster_fastio.keys import ROW_COUNT_KEY
from dagster_fastio.stored.appends import parts_to_replace
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.replaced_pickles import KEPT_AS_PICKLE_ZST, make_room_for_partitions
from dagster_fastio.stored.storage import Storage
from dagster_fastio.tables.handlers import ARROW_CONVERSION_ERRORS, table_type_of

__all__ = ["TOTAL_ROWS_MAX_PARTITIONS", "handle_output"]

# Past this many keys in the partitions definition, a partition's write does not add up every
# partition's rows: reading each footer would make a write's cost grow with the definition.
TOTAL_ROWS_MAX_PARTITIONS = 100


def handle_output(
    context: dg.OutputContext,
    obj: Any,
    storage: Storage,
    report_total_rows: bool,
    write_mode: str = "overwrite",
    compact_after_parts: int | None = None,
) -> None:
    """Stores ``obj``: a table as its type's handler writes it, anything else pickled; then
    removes what the key stored before in another format, and reports the metadata, with the
    memory the whole handling needed (``api.peak_memory``). In ``append`` mode (the output's
    own, see ``appends.write_mode_of``) a table is stored as a new part of its key."""
    with PeakMemory() as memory:
        mode = write_mode_of(context, write_mode, obj)
        metadata = _store_output(
            context, obj, storage, report_total_rows, mode, compact_after_parts
        )
    if metadata:  # a None output reports nothing, as UPathIOManager's
        metadata.update(memory_metadata(memory))
    context.add_output_metadata(metadata)


def _store_output(
    context: dg.OutputContext,
    obj: Any,
    storage: Storage,
    report_total_rows: bool,
    mode: str = "overwrite",
    compact_after_parts: int | None = None,
) -> dict[str, Any]:
    # Dagster calls no I/O manager for an output typed None or Nothing; any other None is
    # stored, as UPathIOManager stores it, so that a downstream input loads None.
    stem = asset_stem = stem_of(context, storage.base)
    partitioned = context.has_asset_key and context.has_asset_partitions
    if partitioned:
        stems = asset_stem.partitions(context.asset_partition_keys)
        if len(stems) != 1:
            return _handle_partition_range(
                context, obj, storage, asset_stem, stems, report_total_rows, mode
            )
        stem = next(iter(stems.values()))
        _make_room_for_partitions(context, stem)
    if mode == "append":
        return append_output(context, obj, storage, stem, partitioned, compact_after_parts)
    metadata = None
    table_type = table_type_of(obj)
    if table_type is not None:
        chosen = output_compression(context, storage.compression)
        format = output_format(context, storage.format)
        # A format or codec the definition asks for wins over the size route.
        route = storage.parquet_above is not None and not asked_format_or_codec(context)
        path = storage.table_path(stem, format)
        # A routed table may be stored in either format: the version it replaces is whichever.
        previous = storage.stored_footer(stem) if route else storage.footer(path)
        # A key with a file has no parts a load reads; one without may have been appended to.
        replaced_parts = parts_to_replace(storage, stem) if previous is None else []
        target = storage.table_target(
            path, chosen, provenance(context), previous, format, route=route
        )
        try:
            info, schema = table_type.write(obj, target.write, target.open_writer)
            metadata = table_metadata(info, schema, partitioned, previous)
            # The other formats' files must not stay behind to be loaded instead.
            stale = [stem.pickle, *(p for p in storage.table_paths(stem) if p.text != info.uri)]
            if not info.written:
                context.log.info(
                    f"{path} already holds this content ({info.content_hash}): left as it is."
                )
        except ARROW_CONVERSION_ERRORS:
            if not table_type.may_pickle:
                raise
            # FilesystemIOManager would pickle it; so does a drop-in replacement.
            context.log.warning(
                f"{type(obj).__qualname__} output has columns Arrow cannot hold "
                "(mixed Python objects?): stored as a zstd pickle instead of an Arrow table."
            )
    if metadata is None:
        replaced_parts = parts_to_replace(storage, stem)
        info = _write_pickle(context, obj, storage, stem.pickle)
        metadata, stale = pickle_metadata(info, obj), list(storage.table_paths(stem))
        if obj is None:
            # As UPathIOManager: a None output is usually an asset that stores its data
            # elsewhere, and a path to a pickle of None would mislead.
            metadata = {}
    if storage.replaced_pickle_exists(stem):
        # Written in this package's format now: the replaced manager's pickle of the key
        # is an older version, which that manager would have overwritten too.
        context.log.info(f"Removing {stem}, this key's pickle from the replaced I/O manager.")
        stale.append(stem)
    # A type change (table <-> object) must not leave the old format behind to be loaded, nor
    # an overwrite the parts of earlier appends.
    storage.delete(*stale, *replaced_parts)
    if partitioned and report_total_rows:
        total = _stored_rows(context, storage, asset_stem)
        if total is not None:
            metadata[ROW_COUNT_KEY] = dg.MetadataValue.int(total)
    return metadata


def _write_pickle(context: dg.OutputContext, obj: Any, storage: Storage, path: Location) -> Any:
    try:
        return storage.write_pickle(obj, path)
    except NotPicklableError as e:
        # FilesystemIOManager raises this for an output it cannot pickle, so do we.
        raise dg.DagsterInvariantViolationError(
            f"Object {type(obj).__qualname__} is not picklable: {output_name(context)} "
            f"could not be stored ({e.__cause__!r}). FastIOManager stores tables (pandas, "
            "polars, pyarrow, any Arrow stream) as Arrow files and pickles anything else: "
            "return a table, or an object pickle can store."
        ) from e


def _make_room_for_partitions(context: dg.OutputContext, stem: Location) -> None:
    """Clears a file where the partition's folder goes, exactly where UPathIOManager does: the
    partition file's own folder, which a non-partitioned version of the asset left as a file
    (FilesystemIOManager's pickle has no suffix). Its value is kept as this package's file of
    the unpartitioned key unless a newer one is there (``make_room_for_partitions``)."""
    folder = stem.parent
    outcome = make_room_for_partitions(folder)
    if outcome is None:
        return
    asset = context.asset_key.to_user_string()
    kept = (
        f"its value is kept as {folder.pickle}, which loads if {asset} is unpartitioned again"
        if outcome == KEPT_AS_PICKLE_ZST
        else "this package's newer file of the unpartitioned key stays"
    )
    context.log.warning(
        f"Moved away {folder}, left by a non-partitioned version of {asset}, to make room for "
        f"the partitions' folder: {kept}."
    )


def _handle_partition_range(
    context: dg.OutputContext,
    obj: Any,
    storage: Storage,
    stem: Location,
    stems: dict[str, Location],
    report_total_rows: bool,
    mode: str = "overwrite",
) -> dict[str, Any]:
    """One table for several partitions: split by the ``partition_expr`` column(s) into
    the files one-partition runs write, in one streaming pass (in ``append`` mode, into a new
    part of each partition)."""
    table_type = table_type_of(obj)
    if table_type is None:
        raise dg.DagsterInvariantViolationError(
            f"an output for {len(stems)} partitions must be a table to be split by its "
            f"partition column, not {type(obj).__qualname__}"
        )
    data = table_type.to_stream(obj)
    format = output_format(context, storage.format)
    for partition in stems.values():
        _make_room_for_partitions(context, partition)
    if mode == "append":
        table_path, replaced_parts = range_parts(storage, stems, data.schema, format), []
    else:
        replaced_parts = [p for s in stems.values() for p in parts_to_replace(storage, s)]

        def table_path(partition: Location) -> Location:
            return storage.table_path(partition, format)

    plan = plan_split(context, stem, data.schema, provenance(context), table_path)
    chosen = output_compression(context, storage.compression)
    infos = storage.write_partitions(data, plan.keys, plan.targets, stem, chosen, format)
    for partition_key, info in zip(plan.partition_keys, infos, strict=True):
        if info.rows == 0:
            context.log.info(f"Partition {partition_key} has no rows: stored empty.")
    stale = [
        path
        for partition in stems.values()
        for path in (partition.pickle, *storage.table_paths(partition))
        # An append folded the partitions' files into their parts; their pickles go.
        if path != storage.table_path(partition, format)
        and (mode != "append" or path == partition.pickle)
    ]
    storage.delete(*stale, *replaced_parts)
    metadata = range_metadata(infos, plan.partition_keys, data.schema, stem.text)
    if mode == "append":
        metadata["write_mode"] = dg.MetadataValue.text("append")
    if report_total_rows:
        total = _stored_rows(context, storage, stem)
        if total is not None:
            metadata[ROW_COUNT_KEY] = dg.MetadataValue.int(total)
    return metadata


def _stored_rows(context: dg.OutputContext, storage: Storage, stem: Location) -> int | None:
    """Rows of every stored partition of the asset, from their footers, read after this
    output was written (so a concurrent write that finished first is counted); None when
    the definition holds more than ``TOTAL_ROWS_MAX_PARTITIONS`` keys, or they cannot be
    listed here."""
    try:
        instance = context.step_context.instance
    except dg.DagsterInvariantViolationError:
        instance = None
    partitions_def = context.asset_partitions_def
    try:
        count = _count_partition_keys(partitions_def, instance, TOTAL_ROWS_MAX_PARTITIONS)
        if count > TOTAL_ROWS_MAX_PARTITIONS:
            context.log.debug(
                "No dagster/row_count: the partitions definition holds more than the "
                f"{TOTAL_ROWS_MAX_PARTITIONS} keys a write adds up."
            )
            return None
        keys = partitions_def.get_partition_keys(dynamic_partitions_store=instance)
    except Exception:  # a dynamic partitioning without an instance to list it
        return None
    paths = storage.stored_table_paths(stem, stem.partitions(keys).values())
    with ThreadPoolExecutor(storage.reads.workers(len(paths)), "fastio-rows") as pool:
        footers = pool.map(storage.footer, paths)
        return sum(footer.rows or 0 for footer in footers if footer is not None)


def _count_partition_keys(partitions_def: Any, instance: Any, at_most: int) -> int:
    """The keys of a partitions definition, or any number above ``at_most`` when it holds
    more, counted without listing them where Dagster can: time windows by arithmetic, dynamic
    keys by asking the instance for one page of ``at_most + 1``."""
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        count = 1
        for dimension in partitions_def.partitions_defs:
            count *= _count_partition_keys(dimension.partitions_def, instance, at_most)
            if count > at_most:
                return count
        return count
    paginated = getattr(instance, "get_paginated_dynamic_partitions", None)
    dynamic = isinstance(partitions_def, dg.DynamicPartitionsDefinition) and partitions_def.name
    if dynamic and paginated is not None:
        page = paginated(partitions_def.name, limit=at_most + 1, ascending=True)
        return len(page.results)
    loading_context = getattr(dg, "partition_loading_context", None)
    if loading_context is None:  # Dagster before partition loading contexts: keys are listed
        return len(partitions_def.get_partition_keys(dynamic_partitions_store=instance))
    with loading_context(dynamic_partitions_store=instance):
        return partitions_def.get_num_partitions()
