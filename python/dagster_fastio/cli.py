"""The `fastio` command: look inside stored files and convert others into them.

Every URI may be a local path or a store URI (s3://, gs://, az://, memory://); store settings
come from the environment and from `-o key=value` (object_store's keys).
"""

from __future__ import annotations

import json
import pickletools
import sys
from collections.abc import Iterator
from typing import Any

import click
import pyarrow as pa

from dagster_fastio import _core
from dagster_fastio.api import open_writer, read_batches
from dagster_fastio.errors import FastIOError

PICKLE_SUFFIX = ".pickle.zst"
WRITER_KEY = "dagster_fastio.writer"
TYPE_KEY = b"dagster_fastio.python_type"


def _options(pairs: tuple[str, ...]) -> dict[str, str] | None:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="-o")
        options[key.strip()] = value
    return options or None


store_option = click.option(
    "-o",
    "--storage-option",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Store setting in object_store's keys (aws_endpoint=..., aws_region=...); repeatable.",
)


def _fail(error: Exception) -> None:
    """Known failures end with a one-line message and exit code 1, not a traceback."""
    raise click.ClickException(f"{type(error).__name__}: {error}") from error


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_core.__version__, prog_name="fastio")
def main() -> None:
    """Inspect and convert Arrow IPC files, locally or in object stores."""


# ---------------------------------------------------------------------------------------------
# inspect


def pickle_summary(uri: str, storage_options: dict[str, str] | None) -> dict[str, Any]:
    """Type and sizes of a `.pickle.zst` object, read from its opcodes: nothing is unpickled,
    so inspecting an untrusted file runs none of its code."""
    payload = pa.array(_core.read_zstd_file(uri, storage_options)).buffers()[1]
    stored = _core.object_size(uri, storage_options)
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


def table_summary(uri: str, storage_options: dict[str, str] | None) -> dict[str, Any]:
    described = _core.describe(uri, storage_options)
    schema = pa.schema(described["schema"])
    metadata = schema.metadata or {}
    batches = described["batches"]
    rows = sum(batch[0] for batch in batches)
    raw = sum(batch[2] for batch in batches)
    stored = described["stored_bytes"]
    codecs = sorted({batch[3] or "none" for batch in batches}) or ["none"]
    return {
        "uri": uri,
        "kind": "arrow",
        "format": described["format"],
        "rows": rows,
        "batches": len(batches),
        "dictionary_batches": described["dictionary_batches"],
        "compression": codecs[0] if len(codecs) == 1 else codecs,
        "raw_bytes": raw,
        "stored_bytes": stored,
        "ratio": round(raw / stored, 3) if stored else None,
        "writer": described["footer_metadata"].get(WRITER_KEY),
        "python_type": metadata.get(TYPE_KEY, b"").decode() or None,
        "schema": [
            {"name": field.name, "type": str(field.type), "nullable": field.nullable}
            for field in schema
        ],
    }


def _size(count: int | None) -> str:
    if count is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000  # type: ignore[assignment]
    return str(count)


@main.command()
@click.argument("uri")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@store_option
def inspect(uri: str, as_json: bool, storage_options: tuple[str, ...]) -> None:
    """Schema, rows, batches, compression and sizes of an Arrow IPC file or stream (any
    writer), or the type and size of a .pickle.zst object."""
    options = _options(storage_options)
    try:
        if uri.endswith(PICKLE_SUFFIX):
            summary = pickle_summary(uri, options)
        else:
            summary = table_summary(uri, options)
    except (FastIOError, FileNotFoundError, ValueError, OSError) as error:
        _fail(error)
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
        shown = _size(value) if key.endswith("_bytes") else value
        facts.add_row(key, "-" if shown is None else str(shown))
    console.print(facts)
    if "schema" in summary:
        columns = Table(title="schema")
        for heading in ("column", "type", "nullable"):
            columns.add_column(heading)
        for field in summary["schema"]:
            columns.add_row(field["name"], field["type"], "yes" if field["nullable"] else "no")
        console.print(columns)


# ---------------------------------------------------------------------------------------------
# head


@main.command()
@click.argument("uri")
@click.option("-n", "rows", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--columns", help="Comma-separated columns to show (only those are decoded).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON lines.")
@store_option
def head(
    uri: str, rows: int, columns: str | None, as_json: bool, storage_options: tuple[str, ...]
) -> None:
    """The first rows of an Arrow IPC file or stream; only the batches they lie in are read."""
    wanted = [name.strip() for name in columns.split(",")] if columns else None
    try:
        reader = read_batches(uri, columns=wanted, storage_options=_options(storage_options))
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
        _fail(error)
    if as_json:
        for row in table.to_pylist():
            click.echo(json.dumps(row, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    shown = Table()
    for field in table.schema:
        shown.add_column(f"{field.name}\n{field.type}")
    for row in table.to_pylist():
        shown.add_row(*("null" if value is None else str(value) for value in row.values()))
    Console().print(shown)


# ---------------------------------------------------------------------------------------------
# convert


def _source_batches(
    src: str, source_format: str, storage_options: dict[str, str] | None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch], int | None]:
    """The schema, batches and (when known) row count of `src`."""
    if source_format == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(src)
        return parquet.schema_arrow, parquet.iter_batches(), parquet.metadata.num_rows
    if source_format == "csv":
        import pyarrow.csv as csv

        reader = csv.open_csv(src)
        return reader.schema, iter(reader), None
    reader = read_batches(src, storage_options=storage_options)
    return reader.schema, iter(reader), None


def _format_of(src: str, declared: str | None) -> str:
    if declared:
        return declared
    lowered = src.lower()
    for suffix, name in ((".parquet", "parquet"), (".pq", "parquet"), (".csv", "csv")):
        if lowered.endswith(suffix) or lowered.endswith(suffix + ".gz"):
            return name
    return "arrow"


@main.command()
@click.argument("src")
@click.argument("dst")
@click.option(
    "--compression",
    type=click.Choice(["zstd", "lz4", "none"]),
    default="zstd",
    show_default=True,
)
@click.option("--level", type=int, help="zstd level (default 1).")
@click.option(
    "--from",
    "source_format",
    type=click.Choice(["arrow", "parquet", "csv"]),
    help="Format of SRC (default: from its suffix; Arrow IPC otherwise).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@store_option
def convert(
    src: str,
    dst: str,
    compression: str,
    level: int | None,
    source_format: str | None,
    quiet: bool,
    storage_options: tuple[str, ...],
) -> None:
    """Re-encode an Arrow IPC file, or import Parquet or CSV, into DST (any store), streaming
    batch by batch. DST appears only when the conversion completes."""
    options = _options(storage_options)
    try:
        schema, batches, total_rows = _source_batches(src, _format_of(src, source_format), options)
        from rich.progress import Progress

        with (
            Progress(disable=quiet, transient=True) as progress,
            open_writer(
                dst,
                schema,
                compression,  # type: ignore[arg-type]
                storage_options=options,
                level=level,
            ) as writer,
        ):
            task = progress.add_task("converting", total=total_rows)
            for batch in batches:
                writer.write(batch)
                progress.advance(task, batch.num_rows)
    except (FastIOError, FileNotFoundError, ValueError, OSError, pa.ArrowException) as error:
        _fail(error)
    info = writer.info
    assert info is not None
    if not quiet:
        click.echo(
            f"{dst}: {info.rows:,} rows, {_size(info.raw_bytes)} -> "
            f"{_size(info.stored_bytes)} ({info.compression}, {info.compression_ratio:.2f}x) "
            f"in {info.seconds:.2f} s"
        )


if __name__ == "__main__":
    sys.exit(main())
