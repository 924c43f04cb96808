"""The output metadata FastIOManager reports: row count, column schema, statistics, content
hash and schema changes for tables, the Python type for pickles, and for both where, how and
how fast the output was stored."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pyarrow as pa

from dagster_fastio.api import Footer, WriteInfo
from dagster_fastio.api.peak_memory import PeakMemory
from dagster_fastio.keys import (
    MEMORY_METHOD_KEY,
    PARTITION_ROW_COUNT_KEY,
    ROW_COUNT_KEY,
    WRITE_MB_PER_S_KEY,
    WRITE_PEAK_MEMORY_MB_KEY,
    WRITE_RAW_BYTES_KEY,
    WRITE_SECONDS_KEY,
    WRITE_STORED_BYTES_KEY,
)

__all__ = [
    "memory_metadata",
    "pickle_metadata",
    "range_metadata",
    "schema_changes",
    "table_metadata",
]

_STATS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("column", "string"),
        dg.TableColumn("null_count", "int"),
        dg.TableColumn("min", "string"),
        dg.TableColumn("max", "string"),
    ]
)


def _is_frame_column(name: str) -> bool:
    # A pandas index is stored as a column, but it is not one of the frame's.
    return not name.startswith("__index_level_")


def table_metadata(
    info: WriteInfo, schema: pa.Schema, partitioned: bool, previous: Footer | None
) -> dict[str, Any]:
    row_count_key = PARTITION_ROW_COUNT_KEY if partitioned else ROW_COUNT_KEY
    metadata: dict[str, Any] = {
        row_count_key: dg.MetadataValue.int(info.rows),
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name=field.name, type=str(field.type))
                for field in schema
                if _is_frame_column(field.name)
            ]
        ),
        **_storage_metadata(info),
    }
    metadata["dagster/storage_kind"] = dg.MetadataValue.text(storage_kind(info.uri))
    metadata["format"] = dg.MetadataValue.text(info.format)
    if info.content_hash is not None:
        metadata["content_hash"] = dg.MetadataValue.text(info.content_hash)
    metadata["unchanged"] = dg.MetadataValue.bool(not info.written)
    if info.column_stats:
        metadata["column_stats"] = dg.MetadataValue.table(
            records=[
                dg.TableRecord(
                    {"column": c.name, "null_count": c.null_count, "min": c.min, "max": c.max}
                )
                for c in info.column_stats
                if _is_frame_column(c.name)
            ],
            schema=_STATS_SCHEMA,
        )
    if previous is not None:
        # Only when something changed: an empty report on every run reads as noise in the UI.
        changes = schema_changes(previous.schema, schema)
        if any(changes.values()):
            metadata["schema_changes"] = dg.MetadataValue.json(changes)
    return metadata


def range_metadata(
    infos: list[WriteInfo], partition_keys: list[str], schema: pa.Schema, folder: str
) -> dict[str, Any]:
    """Metadata of one output split into the files of several partitions."""
    raw = sum(info.raw_bytes for info in infos)
    stored = sum(info.stored_bytes for info in infos)
    seconds = max((info.seconds for info in infos), default=0.0)
    return {
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name=field.name, type=str(field.type))
                for field in schema
                if _is_frame_column(field.name)
            ]
        ),
        "partition_rows": dg.MetadataValue.json(
            {key: info.rows for key, info in zip(partition_keys, infos, strict=True)}
        ),
        "written_rows": dg.MetadataValue.int(sum(info.rows for info in infos)),
        "partitions": dg.MetadataValue.int(len(infos)),
        "dagster/storage_kind": dg.MetadataValue.text(storage_kind(folder)),
        "dagster/uri": dg.MetadataValue.path(folder),
        "path": dg.MetadataValue.path(folder),
        "raw_bytes": dg.MetadataValue.int(raw),
        "stored_bytes": dg.MetadataValue.int(stored),
        "compression": dg.MetadataValue.text(infos[0].compression),
        "compression_ratio": dg.MetadataValue.float(round(raw / stored, 3) if stored else 0.0),
        "write_seconds": dg.MetadataValue.float(round(seconds, 4)),
        "throughput_mb_s": dg.MetadataValue.float(
            round(raw / 1e6 / seconds, 1) if seconds > 0 else 0.0
        ),
        **_write_figures(raw, stored, seconds, written=True),
    }


# Dagster's table metadata names the storage system behind a table (snowflake, bigquery...).
_STORAGE_KINDS = {"s3": "s3", "gs": "gcs", "az": "azure", "abfs": "azure", "memory": "memory"}


def storage_kind(uri: str) -> str:
    scheme, sep, _ = uri.partition("://")
    return _STORAGE_KINDS.get(scheme.lower(), "filesystem") if sep else "filesystem"


def schema_changes(before: pa.Schema, after: pa.Schema) -> dict[str, Any]:
    """Columns added, removed and retyped from ``before`` to ``after``."""
    old = {f.name: f for f in before if _is_frame_column(f.name)}
    new = {f.name: f for f in after if _is_frame_column(f.name)}
    return {
        "added": [name for name in new if name not in old],
        "removed": [name for name in old if name not in new],
        "retyped": [
            {"column": name, "from": str(old[name].type), "to": str(new[name].type)}
            for name in new
            if name in old and not old[name].type.equals(new[name].type)
        ],
    }


def pickle_metadata(info: WriteInfo, obj: Any) -> dict[str, Any]:
    return {"python_type": type(obj).__qualname__, **_storage_metadata(info)}


def _storage_metadata(info: WriteInfo) -> dict[str, Any]:
    metadata = {
        "dagster/uri": dg.MetadataValue.path(info.uri),
        # FilesystemIOManager's key for the same thing, which sensors and scripts read.
        "path": dg.MetadataValue.path(info.uri),
        "raw_bytes": dg.MetadataValue.int(info.raw_bytes),
        "stored_bytes": dg.MetadataValue.int(info.stored_bytes),
        "compression": dg.MetadataValue.text(info.compression),
        "compression_ratio": dg.MetadataValue.float(round(info.compression_ratio, 3)),
        "write_seconds": dg.MetadataValue.float(round(info.seconds, 4)),
    }
    if info.compression_reason is not None:
        metadata["compression_reason"] = dg.MetadataValue.text(info.compression_reason)
    if info.route is not None:
        metadata["route"] = dg.MetadataValue.text(info.route)
    if info.written:
        # An unchanged output is only hashed: a "throughput" would plot as a spike.
        metadata["throughput_mb_s"] = dg.MetadataValue.float(round(info.throughput_mb_s, 1))
        metadata["parts"] = dg.MetadataValue.int(info.parts)
    metadata.update(_write_figures(info.raw_bytes, info.stored_bytes, info.seconds, info.written))
    return metadata


def _write_figures(raw: int, stored: int, seconds: float, written: bool) -> dict[str, Any]:
    """The write's figures under the stable ``dagster_fastio/`` keys."""
    figures: dict[str, Any] = {
        WRITE_SECONDS_KEY: dg.MetadataValue.float(round(seconds, 4)),
        WRITE_RAW_BYTES_KEY: dg.MetadataValue.int(raw),
        WRITE_STORED_BYTES_KEY: dg.MetadataValue.int(stored),
    }
    if written and seconds > 0:
        figures[WRITE_MB_PER_S_KEY] = dg.MetadataValue.float(round(raw / 1e6 / seconds, 1))
    return figures


def memory_metadata(memory: PeakMemory) -> dict[str, Any]:
    """The memory an output's handling needed, when it could be measured."""
    if memory.added_bytes is None or memory.method is None:
        return {}
    return {
        WRITE_PEAK_MEMORY_MB_KEY: dg.MetadataValue.float(round(memory.added_bytes / 1e6, 1)),
        MEMORY_METHOD_KEY: dg.MetadataValue.text(memory.method),
    }
