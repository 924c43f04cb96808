"""The output metadata FastIOManager reports: row count and column schema for tables, the
Python type for pickles, and for both where, how and how fast the output was stored."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pyarrow as pa

from dagster_fastio.api import WriteInfo

__all__ = ["pickle_metadata", "table_metadata"]


def table_metadata(info: WriteInfo, schema: pa.Schema, partitioned: bool) -> dict[str, Any]:
    row_count_key = "dagster/partition_row_count" if partitioned else "dagster/row_count"
    return {
        row_count_key: dg.MetadataValue.int(info.rows),
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name=field.name, type=str(field.type))
                for field in schema
                # A pandas index is stored as a column, but it is not one of the frame's.
                if not field.name.startswith("__index_level_")
            ]
        ),
        **_storage_metadata(info),
    }


def pickle_metadata(info: WriteInfo, obj: Any) -> dict[str, Any]:
    return {"python_type": type(obj).__qualname__, **_storage_metadata(info)}


def _storage_metadata(info: WriteInfo) -> dict[str, Any]:
    return {
        "uri": dg.MetadataValue.path(info.uri),
        "raw_bytes": dg.MetadataValue.int(info.raw_bytes),
        "stored_bytes": dg.MetadataValue.int(info.stored_bytes),
        "compression": dg.MetadataValue.text(info.compression),
        "compression_ratio": dg.MetadataValue.float(round(info.compression_ratio, 3)),
        "write_seconds": dg.MetadataValue.float(round(info.seconds, 4)),
        "throughput_mb_s": dg.MetadataValue.float(round(info.throughput_mb_s, 1)),
        "parts": dg.MetadataValue.int(info.parts),
    }
