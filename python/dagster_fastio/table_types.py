"""Moved to dagster_fastio.tables (handlers, annotations).

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.keys import TYPE_METADATA_KEY
from dagster_fastio.tables.annotations import InputSpec
from dagster_fastio.tables.handlers import (
    ARROW_CONVERSION_ERRORS,
    TABLE_TYPES,
    TableType,
    is_pandas_index_column,
    load_stored_type,
    table_type_of,
)

__all__ = [
    "ARROW_CONVERSION_ERRORS",
    "TABLE_TYPES",
    "TYPE_METADATA_KEY",
    "InputSpec",
    "TableType",
    "is_pandas_index_column",
    "load_stored_type",
    "table_type_of",
]
