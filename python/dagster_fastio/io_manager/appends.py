"""FastIOManager's appends: which write mode an output takes (run-time output metadata, then
definition metadata, then the manager's setting), an append stored as a new part of its key
(``stored.appends``), compaction past the manager's number of parts, and the metadata."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg
import pyarrow as pa

from dagster_fastio.io_manager.contexts import output_compression, output_format, provenance
from dagster_fastio.io_manager.metadata import table_metadata
from dagster_fastio.keys import PARTITION_ROW_COUNT_KEY, ROW_COUNT_KEY, WRITE_MODE_METADATA_KEY
from dagster_fastio.stored.appends import append_table, check_columns, prepare_append
from dagster_fastio.stored.compaction import compact
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.parts import new_part, parts_folder
from dagster_fastio.stored.storage import Storage
from dagster_fastio.tables.handlers import table_type_of

__all__ = ["WRITE_MODES", "append_output", "check_write_mode", "range_parts", "write_mode_of"]

WRITE_MODES = ("overwrite", "append")


def check_write_mode(mode: Any, where: str = "write_mode") -> str:
    """The write mode ``mode`` names (any case); ``ValueError`` listing the valid ones."""
    text = getattr(mode, "value", mode)  # a MetadataValue from the run-time output metadata
    if isinstance(text, str) and text.lower() in WRITE_MODES:
        return text.lower()
    raise ValueError(f"{where} must be one of {list(WRITE_MODES)}, got {text!r}")


def write_mode_of(context: dg.OutputContext, default: str, obj: Any) -> str:
    """The output's write mode: its run-time output metadata (``Output(value, metadata=...)``
    or ``context.add_output_metadata`` in the asset body) wins over its definition metadata,
    which wins over the manager's setting. The manager's ``append`` applies to tables: an
    output that is not one is stored as in ``overwrite`` mode (an asset's own ``append`` of
    one is an error, raised by ``append_output``)."""
    try:
        runtime = context.output_metadata or {}
    except dg.DagsterInvariantViolationError:  # a testing context without a step
        runtime = {}
    if WRITE_MODE_METADATA_KEY in runtime:
        return check_write_mode(runtime[WRITE_MODE_METADATA_KEY], WRITE_MODE_METADATA_KEY)
    definition = context.definition_metadata or {}
    if WRITE_MODE_METADATA_KEY in definition:
        return check_write_mode(definition[WRITE_MODE_METADATA_KEY], WRITE_MODE_METADATA_KEY)
    mode = check_write_mode(default)
    if mode == "append" and table_type_of(obj) is None:
        return "overwrite"
    return mode


def append_output(
    context: dg.OutputContext,
    obj: Any,
    storage: Storage,
    stem: Location,
    partitioned: bool,
    compact_after_parts: int | None,
) -> dict[str, Any]:
    """Stores ``obj`` as a new part of ``stem``'s key; the metadata of the append and of the
    key afterwards."""
    table_type = table_type_of(obj)
    if table_type is None:
        raise dg.DagsterInvariantViolationError(
            f"write_mode 'append' stores tables, not {type(obj).__qualname__}: return a table "
            "(pandas, polars, pyarrow, any Arrow stream), or write this output in 'overwrite' "
            "mode"
        )
    appended = append_table(
        storage,
        stem,
        table_type,
        obj,
        output_compression(context, storage.compression),
        output_format(context, storage.format),
        provenance(context),
    )
    info, key = appended.info, appended.key
    # A pickle of the key (an earlier output that was not a table) would be loaded before the
    # parts: it is an older version, as an overwrite would treat it.
    storage.delete(stem.pickle)
    if not info.written:
        context.log.info(
            f"The last part of {parts_folder(stem)} already holds this content "
            f"({info.content_hash}): nothing appended."
        )
    compacted = None
    if compact_after_parts is not None and key.parts > compact_after_parts:
        compacted = compact(
            stem,
            lambda format: storage.table_target(parts_folder(stem), None, format=format).options,
            storage.storage_options,
        )
        context.log.info(
            f"Compacted {compacted.replaced} parts of {parts_folder(stem)} into "
            f"{compacted.part} ({compacted.rows} rows)."
        )
    metadata = table_metadata(info, appended.schema, partitioned, None)
    # The key's rows, not the append's: what a load returns.
    metadata[PARTITION_ROW_COUNT_KEY if partitioned else ROW_COUNT_KEY] = dg.MetadataValue.int(
        key.rows
    )
    metadata["write_mode"] = dg.MetadataValue.text("append")
    metadata["appended_rows"] = dg.MetadataValue.int(info.rows if info.written else 0)
    metadata["key_parts"] = dg.MetadataValue.int(1 if compacted and compacted.part else key.parts)
    metadata["key_rows"] = dg.MetadataValue.int(key.rows)
    metadata["key_stored_bytes"] = dg.MetadataValue.int(
        compacted.stored_bytes if compacted and compacted.part else key.stored_bytes
    )
    metadata["dagster/uri"] = metadata["path"] = dg.MetadataValue.path(parts_folder(stem).text)
    metadata["part_uri"] = dg.MetadataValue.path(info.uri)
    if key.content_hash is not None:
        metadata["key_content_hash"] = dg.MetadataValue.text(key.content_hash)
    return metadata


def range_parts(
    storage: Storage, stems: dict[str, Location], schema: pa.Schema, format: str
) -> Callable[[Location], Location]:
    """Where each partition of a range output appends its rows: a new part under its stem,
    once every partition's stored parts are checked to have the output's columns (before
    anything is written)."""
    chosen: dict[str, Location] = {}
    for stem in stems.values():
        key, last = prepare_append(storage, stem)
        if last is not None:
            check_columns(last.schema, schema, key.folder.text)
        chosen[stem.text] = new_part(key.folder, format).location
    return lambda partition: chosen[partition.text]
