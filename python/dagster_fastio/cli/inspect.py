"""`fastio inspect` and `fastio head`: what a stored file holds, from its headers and footer,
and its first rows."""

from __future__ import annotations

import json
import pickletools
from typing import Any

import click
import pyarrow as pa

from dagster_fastio.api import (
    column_stats_of,
    describe,
    read_batches,
    read_footer,
    read_pickle_payload,
    stored_size,
)
from dagster_fastio.cli.common import fail, size_text, storage_options_of, store_option
from dagster_fastio.errors import FastIOError
from dagster_fastio.keys import (
    COLUMN_STATS_KEY,
    CONTENT_HASH_KEY,
    PROVENANCE_PREFIX,
    TYPE_METADATA_KEY,
    WRITER_KEY,
)
from dagster_fastio.uris import PARQUET_SUFFIX, PICKLE_SUFFIX

__all__ = ["head", "inspect", "parquet_summary", "pickle_summary", "table_summary"]


def pickle_summary(uri: str, storage_options: dict[str, str] | None) -> dict[str, Any]:
    """Type and sizes of a `.pickle.zst` object, read from its opcodes: nothing is unpickled,
    so inspecting an untrusted file runs none of its code."""
    payload = read_pickle_payload(uri, storage_options)
    stored = stored_size(uri, storage_options)
    python_type = None
    recent: list[Any] = []
    for opcode, argument, _ in pickletools.genops(pa.BufferReader(payload)):
        if opcode.name == "GLOBAL":
            python_type = str(argument).replace(" ", ".")
            break
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            recent = [*recent[-1:], argument]
        if opcode.name == "STACK_GLOBAL" and len(recent) == 2:
            python_type = f"{recent[0]}.{recent[1]}"
            break
        if opcode.name in ("EMPTY_DICT", "DICT"):
            python_type = "builtins.dict"
            break
        if opcode.name in ("EMPTY_LIST", "LIST"):
            python_type = "builtins.list"
            break
    return {
        "uri": uri,
        "kind": "pickle",
        "python_type": python_type,
        "pickled_bytes": payload.size,
        "stored_bytes": stored,
        "ratio": round(payload.size / stored, 3) if stored else None,
    }


def parquet_summary(uri: str, storage_options: dict[str, str] | None) -> dict[str, Any]:
    """What a Parquet file's metadata says; nothing of its row groups is read."""
    footer = read_footer(uri, storage_options)
    metadata = footer.schema.metadata or {}
    return {
        "uri": uri,
        "kind": "parquet",
        "format": "parquet",
        "rows": footer.rows,
        "row_groups": footer.batches,
        "compression": footer.compression,
        "stored_bytes": footer.stored_bytes,
        "writer": footer.metadata.get(WRITER_KEY),
        "python_type": metadata.get(TYPE_METADATA_KEY, b"").decode() or None,
        "content_hash": footer.content_hash,
        "provenance": {
            key: value
            for key, value in sorted(footer.metadata.items())
            if key.startswith(PROVENANCE_PREFIX)
        },
        "schema": [
            {"name": field.name, "type": str(field.type), "nullable": field.nullable}
            for field in footer.schema
        ],
    }


def table_summary(uri: str, storage_options: dict[str, str] | None) -> dict[str, Any]:
    if uri.lower().endswith(PARQUET_SUFFIX):
        return parquet_summary(uri, storage_options)
    described = describe(uri, storage_options)
    metadata = described.schema.metadata or {}
    codecs = described.codecs
    stored = described.stored_bytes
    footer = described.footer_metadata
    stats = {column.name: column for column in column_stats_of(footer.get(COLUMN_STATS_KEY))}
    return {
        "uri": uri,
        "kind": "arrow",
        "format": described.format,
        "rows": described.rows,
        "batches": len(described.batches),
        "dictionary_batches": described.dictionary_batches,
        "compression": codecs[0] if len(codecs) == 1 else codecs,
        "raw_bytes": described.raw_bytes,
        "stored_bytes": stored,
        "ratio": round(described.raw_bytes / stored, 3) if stored else None,
        "writer": footer.get(WRITER_KEY),
        "python_type": metadata.get(TYPE_METADATA_KEY, b"").decode() or None,
        "content_hash": footer.get(CONTENT_HASH_KEY),
        # Who wrote it: FastIOManager records the run, asset, partition and code version.
        "provenance": {
            key: value for key, value in sorted(footer.items()) if key.startswith(PROVENANCE_PREFIX)
        },
        "schema": [
            {
                "name": field.name,
                "type": str(field.type),
                "nullable": field.nullable,
                **(
                    {
                        "null_count": stats[field.name].null_count,
                        "min": stats[field.name].min,
                        "max": stats[field.name].max,
                    }
                    if field.name in stats
                    else {}
                ),
            }
            for field in described.schema
        ],
    }


@click.command()
@click.argument("uri")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@store_option
def inspect(uri: str, as_json: bool, storage_options: tuple[str, ...]) -> None:
    """Schema, rows, batches, compression and sizes of an Arrow IPC file or stream, or of a
    Parquet file (any writer), or the type and size of a .pickle.zst object."""
    options = storage_options_of(storage_options)
    try:
        if uri.endswith(PICKLE_SUFFIX):
            summary = pickle_summary(uri, options)
        else:
            summary = table_summary(uri, options)
    except (FastIOError, FileNotFoundError, ValueError, OSError) as error:
        fail(error)
    if as_json:
        click.echo(json.dumps(summary))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    facts = Table(show_header=False, box=None)
    for key, value in summary.items():
        if key == "schema":
            continue
        if key == "provenance":
            for name, text in value.items():
                facts.add_row(name, text)
            continue
        shown = size_text(value) if key.endswith("_bytes") else value
        facts.add_row(key, "-" if shown is None else str(shown))
    console.print(facts)
    if "schema" in summary:
        with_stats = any("null_count" in field for field in summary["schema"])
        columns = Table(title="schema")
        headings = ["column", "type", "nullable"] + (["nulls", "min", "max"] if with_stats else [])
        for heading in headings:
            columns.add_column(heading)
        for field in summary["schema"]:
            row = [field["name"], field["type"], "yes" if field["nullable"] else "no"]
            if with_stats:
                row += [
                    str(field.get("null_count", "-")),
                    str(field.get("min") or "-"),
                    str(field.get("max") or "-"),
                ]
            columns.add_row(*row)
        console.print(columns)


@click.command()
@click.argument("uri")
@click.option("-n", "rows", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--columns", help="Comma-separated columns to show (only those are decoded).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON lines.")
@store_option
def head(
    uri: str, rows: int, columns: str | None, as_json: bool, storage_options: tuple[str, ...]
) -> None:
    """The first rows of an Arrow IPC file or stream, or a Parquet file; only the batches (row
    groups) they lie in are read."""
    wanted = [name.strip() for name in columns.split(",")] if columns else None
    try:
        reader = read_batches(
            uri, columns=wanted, storage_options=storage_options_of(storage_options)
        )
        batches = []
        remaining = rows
        while remaining > 0:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            batches.append(batch.slice(0, remaining))
            remaining -= min(remaining, batch.num_rows)
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except (FastIOError, FileNotFoundError, ValueError, OSError) as error:
        fail(error)
    values = [_python_values(column) for column in table.columns]
    rows_shown = [
        dict(zip(table.column_names, row, strict=True)) for row in zip(*values, strict=True)
    ]
    if as_json:
        for row in rows_shown:
            click.echo(json.dumps(row, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    shown = Table()
    for field in table.schema:
        shown.add_column(f"{field.name}\n{field.type}")
    for row in rows_shown:
        shown.add_row(*("null" if value is None else str(value) for value in row.values()))
    Console().print(shown)


def _python_values(column: pa.ChunkedArray) -> list[Any]:
    """A column's values for display. Valid Arrow can still defeat Python's types (a time
    zone this machine does not know, a date beyond year 9999): such a column is shown as its
    stored integers, noted, rather than ending `head` in a traceback."""
    try:
        return column.to_pylist()
    except (ValueError, OverflowError, KeyError, LookupError, pa.ArrowException) as error:
        note = f" ({type(error).__name__}: {error})"
    storage = column.type
    if pa.types.is_timestamp(storage) or pa.types.is_date(storage) or pa.types.is_time(storage):
        storage = pa.int64() if storage.bit_width == 64 else pa.int32()
    try:
        raw = pa.chunked_array([chunk.view(storage) for chunk in column.chunks], storage)
        return [None if v is None else f"{v}{note}" for v in raw.to_pylist()]
    except (ValueError, pa.ArrowException):
        return [f"<not shown{note}>"] * len(column)
