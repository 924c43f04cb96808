"""Inputs that get the stored files rather than their data: a ``pyarrow.dataset.Dataset``, a
polars scan with key columns (input metadata ``fastio/dataset``), a ``StoredTable`` reference
or a DuckDB relation on the asset's ``DuckDBResource``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from dagster_fastio.keys import (
    ALLOW_MISSING_PARTITIONS_KEY,
    COLUMNS_KEY,
    DATASET_METADATA_KEY,
    DUCKDB_RESOURCE_METADATA_KEY,
    PARTITION_COLUMNS_METADATA_KEY,
)
from dagster_fastio.stored.arrow_scan import input_dataset
from dagster_fastio.stored.files import OnMissing
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.part_loads import with_parts
from dagster_fastio.stored.polars_scan import scan_partitions
from dagster_fastio.stored.storage import Storage
from dagster_fastio.stored.table import StoredTable
from dagster_fastio.tables.annotations import InputSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    import duckdb

__all__ = ["dataset_kind", "input_connection", "open_dataset"]


def dataset_kind(spec: InputSpec, metadata: Mapping[str, Any]) -> str | None:
    """``"pyarrow"`` or ``"polars"`` when the input asks for a dataset, ``"duckdb"`` or
    ``"stored_table"`` for a reference to the stored files, else None (the input loads as it
    always did)."""
    if spec.reference is not None:
        return spec.reference
    if spec.dataset:
        return "pyarrow"
    asked = bool(metadata.get(DATASET_METADATA_KEY)) or (
        metadata.get(PARTITION_COLUMNS_METADATA_KEY) is not None
    )
    if not asked:
        return None
    if spec.table_type is None or spec.table_type.name != "polars.LazyFrame":
        raise ValueError(
            f"input metadata {DATASET_METADATA_KEY!r} / {PARTITION_COLUMNS_METADATA_KEY!r} "
            "applies to inputs annotated pl.LazyFrame (or pyarrow.dataset.Dataset)"
        )
    return "polars"


def open_dataset(
    kind: str,
    storage: Storage,
    stem: Location,
    partition_stems: Mapping[str, Location] | None,
    metadata: Mapping[str, Any],
    *,
    optional: bool = False,
    on_missing: OnMissing = lambda uri: None,
) -> Any:
    """The dataset of ``kind`` over the partitions' stems (None: the unpartitioned ``stem``)."""
    if kind in ("duckdb", "stored_table"):
        return open_reference(
            kind,
            storage,
            stem,
            partition_stems,
            metadata,
            optional=optional,
            on_missing=on_missing,
        )
    columns = metadata.get(COLUMNS_KEY)
    allow_missing = bool(metadata.get(ALLOW_MISSING_PARTITIONS_KEY))
    reads = storage.reads
    if partition_stems is None:
        # The key's file, else the parts appended under it.
        parts = with_parts(StoredTable.single(stem, storage.table_path), reads)
        if optional and not reads.exists(parts.uris[0]):
            return None
    elif not partition_stems:
        return None
    else:
        parts = StoredTable.of(
            partition_stems, metadata.get(PARTITION_COLUMNS_METADATA_KEY), storage.table_path
        )
        parts = with_parts(parts, reads)
    build = input_dataset if kind == "pyarrow" else scan_partitions
    return build(parts, reads, columns, allow_missing=allow_missing, on_missing=on_missing)


def open_reference(
    kind: str,
    storage: Storage,
    stem: Location,
    partition_stems: Mapping[str, Location] | None,
    metadata: Mapping[str, Any],
    *,
    optional: bool = False,
    on_missing: OnMissing = lambda uri: None,
) -> Any:
    """The input of a ``StoredTable`` (``kind="stored_table"``) or ``DuckDBPyRelation``
    (``kind="duckdb"``) annotation; None when nothing is stored and the input is optional."""
    table = storage.stored_table(
        stem,
        partition_stems,
        metadata.get(PARTITION_COLUMNS_METADATA_KEY),
        allow_missing=bool(metadata.get(ALLOW_MISSING_PARTITIONS_KEY)),
        on_missing=on_missing,
    )
    if table is None:
        if optional or partition_stems == {}:
            return None
        where = stem if partition_stems is None else f"{len(partition_stems)} partitions of {stem}"
        raise FileNotFoundError(
            f"no table stored at {where} (.arrow or .parquet): has the upstream output been "
            "materialized?"
        )
    if kind == "stored_table":
        return table
    return input_relation(table, metadata)


# ---------------------------------------------------------------------------------------------
# The connection of an input's relation.


def input_relation(table: StoredTable, metadata: Mapping[str, Any]) -> duckdb.DuckDBPyRelation:
    """The relation an input annotated ``DuckDBPyRelation`` gets, on ``input_connection``;
    input metadata ``{"columns": [...]}`` keeps those stored columns (and the key columns)."""
    import duckdb

    rel = table.to_duckdb(input_connection(metadata))
    columns = metadata.get(COLUMNS_KEY)
    if columns is not None:
        missing = [name for name in columns if name not in rel.columns]
        if missing:
            raise ValueError(f"no column named {missing}; the columns are {rel.columns}")
        keep = [*columns, *(name for name in table.key_columns if name not in columns)]
        rel = rel.select(*(duckdb.ColumnExpression(name) for name in keep))
    return rel


def input_connection(metadata: Mapping[str, Any]) -> duckdb.DuckDBPyConnection:
    """The connection of the ``DuckDBResource`` the consuming asset requires (the one named
    by input metadata ``fastio/duckdb_resource`` when there are several), else a new
    in-memory connection.

    The resource's own ``get_connection()`` opens it (its configuration, its retries on a
    locked file) and the connection is left open: the relation needs it after the input is
    loaded. It closes when the relation and every other reference to it are gone.
    """
    import duckdb

    resource = _duckdb_resource(metadata.get(DUCKDB_RESOURCE_METADATA_KEY))
    if resource is None:
        return duckdb.connect()
    # Entered and never exited: the resource's context closes the connection on exit, which
    # would invalidate the relation. A generator dropped unfinished does not run that code.
    return resource.get_connection().__enter__()


def _duckdb_resource(named: str | None) -> Any:
    """The DuckDBResource of the asset whose input is loading, or None."""
    try:
        context = dg.AssetExecutionContext.get()
    except Exception:  # no run: a testing context built by hand
        context = None
    if context is None:
        if named is not None:
            raise ValueError(
                f"input metadata {DUCKDB_RESOURCE_METADATA_KEY!r} names the resource "
                f"{named!r}, but no asset is executing to provide it"
            )
        return None
    required = sorted(context.op_def.required_resource_keys)
    if named is not None:
        if named not in required:
            raise ValueError(
                f"input metadata {DUCKDB_RESOURCE_METADATA_KEY!r} names the resource "
                f"{named!r}, which the asset does not require: its resources are {required}"
            )
        resource = getattr(context.resources, named)
        if not _is_duckdb_resource(resource):
            raise ValueError(
                f"the resource {named!r} is a {type(resource).__qualname__}, not a "
                "dagster_duckdb.DuckDBResource"
            )
        return resource
    found = [key for key in required if _is_duckdb_resource(getattr(context.resources, key, None))]
    if len(found) > 1:
        raise ValueError(
            f"the asset requires several DuckDBResources ({found}): name the one whose "
            f"database the relation is opened on with input metadata "
            f"{{{DUCKDB_RESOURCE_METADATA_KEY!r}: {found[0]!r}}}"
        )
    return getattr(context.resources, found[0]) if found else None


def _is_duckdb_resource(resource: Any) -> bool:
    # By name, so that an asset without one never imports dagster_duckdb.
    return any(
        (klass.__module__.split(".")[0], klass.__qualname__) == ("dagster_duckdb", "DuckDBResource")
        for klass in type(resource).__mro__
    )
