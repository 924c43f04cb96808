"""`fastio migrate`: what the replaced I/O managers stored under a base, listed, then
rewritten as this package's files when asked (``migration`` does the work)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from dagster_fastio.api import COMPRESSIONS
from dagster_fastio.cli.common import size_text, storage_options_of, store_option
from dagster_fastio.cli.migration import Migration, Summary, redact
from dagster_fastio.errors import FastIOError
from dagster_fastio.options import COMPAT_LEVELS, FORMATS, PARQUET_COMPRESSIONS

__all__ = ["migrate"]

_MIGRATE_STATES = {
    "would_migrate": ("would migrate", "yellow"),
    "migrated": ("migrated", "green"),
    "already_migrated": ("already migrated", "green"),
    "superseded": ("superseded", "yellow"),
    "unreadable": ("unreadable", "red"),
    "failed": ("failed", "red"),
}


_REWRITTEN = ("migrated", "already_migrated")


@click.command()
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
    options = storage_options_of(storage_options)
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
            now = f"{suffix} {size_text(outcome.new_bytes)}"
        shown.add_row(
            outcome.key,
            (outcome.python_type or "?").removeprefix("builtins."),
            "-" if outcome.rows is None else f"{outcome.rows:,}",
            size_text(outcome.stored_bytes),
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
        f"{summary.pickles} pickle(s), {size_text(summary.pickle_bytes)}: {counts}.",
        highlight=False,
    )
    if not apply:
        console.print("Dry run: nothing was written or removed (add --apply).", highlight=False)
        return
    before, after = summary.rewritten_bytes_before, summary.rewritten_bytes_after
    if before:
        console.print(
            f"Rewritten: {size_text(before)} of pickles -> {size_text(after)} "
            f"({after / before:.2f}x their size).",
            highlight=False,
        )
    console.print(f"Pickles removed: {size_text(summary.removed_bytes)}.", highlight=False)
