"""`fastio convert`: an Arrow IPC, Parquet or CSV file re-encoded into any store, batch by
batch."""

from __future__ import annotations

import click
import pyarrow as pa

from dagster_fastio.api import COMPRESSIONS, open_writer
from dagster_fastio.cli.common import (
    fail,
    size_text,
    source_batches,
    source_format_of,
    storage_options_of,
    store_option,
)
from dagster_fastio.errors import FastIOError

__all__ = ["convert"]


@click.command()
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
    options = storage_options_of(storage_options)
    try:
        schema, batches, total_rows = source_batches(
            src, source_format_of(src, source_format), options
        )
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
        fail(error)
    info = writer.info
    assert info is not None
    if not quiet:
        click.echo(
            f"{dst}: {info.rows:,} rows, {size_text(info.raw_bytes)} -> "
            f"{size_text(info.stored_bytes)} ({info.compression}, {info.compression_ratio:.2f}x) "
            f"in {info.seconds:.2f} s"
        )
