"""`fastio compact`: an appended key's parts rewritten as one file, atomically for readers."""

from __future__ import annotations

import dataclasses
import json

import click

from dagster_fastio.cli.common import fail, size_text, storage_options_of, store_option
from dagster_fastio.errors import FastIOError
from dagster_fastio.stored.compaction import WriteOptionsFor
from dagster_fastio.stored.compaction import compact as compact_key
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.parts import NoPartsError
from dagster_fastio.uris import PARTS_SUFFIX

__all__ = ["compact"]


@click.command()
@click.argument("key")
@click.option(
    "--compression",
    default=None,
    help="Codec of the compacted file (default: lz4 for a local IPC file, zstd otherwise).",
)
@click.option("--level", type=int, default=None, help="zstd level (default 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@store_option
def compact(
    key: str,
    compression: str | None,
    level: int | None,
    as_json: bool,
    storage_options: tuple[str, ...],
) -> None:
    """Rewrites the parts appended to KEY (BASE/ASSET[/PARTITION], or its .parts folder) as
    one compacted part, then removes them. Loads running meanwhile read the parts or the
    compacted part, never both; see the README's "Append"."""
    stem = Location.base(key.rstrip("/").removesuffix(PARTS_SUFFIX))
    if compression is None and stem.remote:
        compression = "zstd"
    options = WriteOptionsFor(compression, level)
    try:
        done = compact_key(stem, options, storage_options_of(storage_options))
    except NoPartsError:
        fail(FileNotFoundError(f"no appended parts under {stem.text}{PARTS_SUFFIX}"))
    except (FastIOError, FileNotFoundError, ValueError, OSError) as error:
        fail(error)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(done)))
        return
    if done.part is None:
        click.echo(
            f"{stem.text}{PARTS_SUFFIX} holds one part: nothing to compact "
            f"({done.replaced} superseded part(s) removed, {size_text(done.replaced_bytes)})"
        )
        return
    click.echo(
        f"compacted {done.replaced} part(s) ({size_text(done.replaced_bytes)}) into {done.part}: "
        f"{done.rows:,} rows, {size_text(done.stored_bytes)}"
    )
