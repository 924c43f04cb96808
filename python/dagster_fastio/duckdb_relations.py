"""DuckDB relations over stored files, and the connection an input's relation lives on.

Local Parquet files go to DuckDB's own ``read_parquet``, all in one scan: the layout is
``<asset>/<partition key>.parquet``, not hive-style, so each key column is looked up from the
``filename`` column in a constant list. DuckDB evaluates such a filter on the file list when
planning (``Scanning Files: 1/365`` in EXPLAIN), so ``WHERE partition_key = ...`` opens only
the matching files; planning 365 files takes about 50 ms, where a CASE over the file names
took 0.8 s and a UNION ALL of one scan per file 0.7 s to build (DuckDB 2.0.1). Arrow IPC files,
and Parquet on S3 (DuckDB's httpfs extension is not assumed to be installable), go through a
``pyarrow.dataset`` that DuckDB's Arrow scan pushes projections and filters into; the pyarrow
filesystem keeps the credentials, so nothing secret is ever given to DuckDB as SQL, a secret
or a setting.

No Dagster import at module level: the connection is found through Dagster's current
execution context only when an input asks for a relation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    import duckdb

    from dagster_fastio.stored_tables import StoredTable

__all__ = ["DUCKDB_RESOURCE_METADATA_KEY", "input_connection", "input_relation", "relation"]

DUCKDB_RESOURCE_METADATA_KEY = "fastio/duckdb_resource"
"""Input metadata naming the resource key of the ``DuckDBResource`` whose database a
relation input is opened on, when the asset requires several."""

_FILENAME = "filename"


def relation(table: StoredTable, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    """A relation over ``table``'s files on ``con``: the stored columns then the key columns."""
    import duckdb

    parts = []
    ipc, parquet = table.subset("ipc"), table.subset("parquet")
    if ipc.files:
        # from_arrow keeps a reference to the dataset, so the relation stays valid after the
        # caller's frame (and any Python variable naming the dataset) is gone.
        parts.append(con.from_arrow(ipc.dataset()))
    if parquet.files:
        if any(_is_remote(uri) for uri in parquet.uris):
            parts.append(con.from_arrow(parquet.dataset()))
        else:
            parts.append(_read_parquet(con, parquet))
    if not parts:
        raise FileNotFoundError("no table file is stored")
    if len(parts) == 1:
        return parts[0]
    # One partition after a format switch is Parquet, another Arrow IPC: the union of one scan
    # per format, aligned by name (a column one format lacks is null), so filters on the key
    # columns still reach both scans.
    names = table.schema.names
    types = {}
    for part in parts:
        for name, kind in zip(part.columns, part.types, strict=True):
            types.setdefault(name, kind)
    aligned = [
        part.select(
            *(
                duckdb.ColumnExpression(name)
                if name in part.columns
                else duckdb.ConstantExpression(None).cast(types[name]).alias(name)
                for name in names
            )
        )
        for part in parts
    ]
    combined = aligned[0]
    for part in aligned[1:]:
        combined = combined.union(part)  # UNION ALL
    return combined


def _read_parquet(con: duckdb.DuckDBPyConnection, table: StoredTable) -> duckdb.DuckDBPyRelation:
    import duckdb

    paths = [os.path.abspath(uri) for uri in table.uris]
    stored = table.stored_schema.names
    if _FILENAME in stored:
        raise ValueError(
            f"the stored Parquet table has a column named {_FILENAME!r}, which DuckDB's "
            "read_parquet uses for the file name: rename it, or read the files with "
            "StoredTable.dataset()"
        )
    scan = con.read_parquet(paths, filename=True)
    if not table.key_columns:
        return scan.select(duckdb.StarExpression(exclude=[_FILENAME]))
    # list_position(paths, filename) is the file's index; the key list at that index its key.
    index = duckdb.FunctionExpression(
        "list_position", duckdb.ConstantExpression(paths), duckdb.ColumnExpression(_FILENAME)
    )
    keys = [
        duckdb.FunctionExpression(
            "list_extract", duckdb.ConstantExpression([file.key[i] for file in table.files]), index
        ).alias(name)
        for i, name in enumerate(table.key_columns)
    ]
    return scan.select(duckdb.StarExpression(exclude=[_FILENAME]), *keys)


def _is_remote(uri: str) -> bool:
    from dagster_fastio.api import is_remote

    return is_remote(uri)


# ---------------------------------------------------------------------------------------------
# The connection of an input's relation.


def input_relation(table: StoredTable, metadata: Mapping[str, Any]) -> duckdb.DuckDBPyRelation:
    """The relation an input annotated ``DuckDBPyRelation`` gets, on ``input_connection``;
    input metadata ``{"columns": [...]}`` keeps those stored columns (and the key columns)."""
    import duckdb

    rel = relation(table, input_connection(metadata))
    columns = metadata.get("columns")
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
    import dagster as dg

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
