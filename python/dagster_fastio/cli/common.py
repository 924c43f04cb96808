"""What every `fastio` command shares: store options, one-line failures, sizes for people, and
the batches of a source file."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pyarrow as pa

from dagster_fastio.api import read_batches

__all__ = [
    "fail",
    "size_text",
    "source_batches",
    "source_format_of",
    "storage_options_of",
    "store_option",
]


def storage_options_of(pairs: tuple[str, ...]) -> dict[str, str] | None:
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


def fail(error: Exception) -> None:
    """Known failures end with a one-line message and exit code 1, not a traceback."""
    raise click.ClickException(f"{type(error).__name__}: {error}") from error


def size_text(count: int | None) -> str:
    if count is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000  # type: ignore[assignment]
    return str(count)


def source_batches(
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


def source_format_of(src: str, declared: str | None) -> str:
    if declared:
        return declared
    lowered = src.lower()
    for suffix, name in ((".parquet", "parquet"), (".pq", "parquet"), (".csv", "csv")):
        if lowered.endswith(suffix) or lowered.endswith(suffix + ".gz"):
            return name
    return "arrow"
