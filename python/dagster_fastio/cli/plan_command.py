"""`fastio plan`: what each method costs at your volumes (memory per step and for parallel
steps, storage held, the link, the money) and which to use, from a `fastio bench` profile or the
assumed one. The models are `dagster_fastio.cli.planning`'s."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from dagster_fastio.cli import measure, planning
from dagster_fastio.cli.common import size_text

__all__ = ["plan"]


def _size(value: str | None, hint: str) -> float | None:
    if value is None:
        return None
    try:
        return planning.parse_size_mb(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=hint) from error


def machine_memory_mb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e6
    except (ValueError, OSError, AttributeError):
        return 16_000.0


_FRACTION = click.FloatRange(min=0)


@click.command()
@click.option("--size", default="1GB", show_default=True, help="The frame in memory.")
@click.option("--frame", type=click.Choice(planning.FRAMES), default="pandas", show_default=True)
@click.option("--per-day", type=click.FloatRange(min=0), default=24.0, show_default=True)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Steps running at once (they share memory and the link).",
)
@click.option("--memory", help="RAM for the steps (default: this machine's).")
@click.option("--headroom", type=_FRACTION, default=0.25, show_default=True)
@click.option(
    "--multi-node", is_flag=True, help="Steps on several machines, through an object store."
)
@click.option("--partitioned", is_flag=True, help="Each materialisation a new partition, all kept.")
@click.option(
    "--retention-days",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="How long partitions (and appended data) are kept.",
)
@click.option("--append-per-day", help="Data appended a day to an unpartitioned asset, e.g. 50MB.")
@click.option("--daily-volume", help="Data handed off a day (default size x per-day), e.g. 73GB.")
@click.option("--window", default="24h", show_default=True, help="When it moves, e.g. 4h.")
@click.option("--bandwidth", default="1Gbit", show_default=True, help="e.g. 1Gbit, 250MB/s")
@click.option("--protocol-overhead", type=_FRACTION, default=0.05, show_default=True)
@click.option("--retry-overhead", type=_FRACTION, default=0.10, show_default=True)
@click.option("--link-headroom", type=_FRACTION, default=0.5, show_default=True)
@click.option("--provider", type=click.Choice(planning.PROVIDERS), default="aws", show_default=True)
@click.option("--storage-class", help="e.g. standard, standard-ia; nearline; cool (default hot).")
@click.option(
    "--egress",
    type=click.Choice(planning.EGRESS),
    default="none",
    show_default=True,
    help="Where loads read from: the bucket's region, another region, or the internet.",
)
@click.option(
    "--storage-price",
    type=click.FloatRange(min=0),
    help="USD per GB-month (overrides the preset).",
)
@click.option(
    "--transfer-price",
    type=click.FloatRange(min=0),
    help="USD per GB read from outside the region (overrides the preset).",
)
@click.option(
    "--step-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Compute time of a step, for the overhead share.",
)
@click.option("--reads", type=click.IntRange(min=0), default=1, show_default=True)
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A profile saved by `fastio bench`.",
)
@click.option(
    "--sample",
    type=click.Path(exists=True, dir_okay=False),
    help="Run `fastio bench` on this file first (one round).",
)
@click.option("--json", "as_json", is_flag=True)
def plan(
    size: str,
    frame: str,
    per_day: float,
    parallel: int,
    memory: str | None,
    headroom: float,
    multi_node: bool,
    partitioned: bool,
    retention_days: float,
    append_per_day: str | None,
    daily_volume: str | None,
    window: str,
    bandwidth: str,
    protocol_overhead: float,
    retry_overhead: float,
    link_headroom: float,
    provider: str,
    storage_class: str | None,
    egress: str,
    storage_price: float | None,
    transfer_price: float | None,
    step_seconds: float,
    reads: int,
    profile_path: str | None,
    sample: str | None,
    as_json: bool,
) -> None:
    """Plan pickle, FastIOManager IPC lz4 / zstd and Parquet zstd at your volumes: peak memory
    per step and for --parallel steps, the concurrency that fits --memory, storage held, the
    link --daily-volume needs in --window, monthly cost at a provider's prices, and which to
    use (or a reference input), with the reason."""
    try:
        rate = planning.parse_rate_mb_s(bandwidth)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--bandwidth") from error
    try:
        window_hours = planning.parse_hours(window)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--window") from error
    inputs = planning.PlanInputs(
        size_mb=_size(size, "--size") or 0.0,
        frame=frame,
        per_day=per_day,
        parallel=parallel,
        memory_mb=_size(memory, "--memory") or machine_memory_mb(),
        headroom=headroom,
        multi_node=multi_node,
        partitioned=partitioned,
        retention_days=retention_days,
        append_mb_per_day=_size(append_per_day, "--append-per-day") or 0.0,
        daily_volume_mb=_size(daily_volume, "--daily-volume"),
        window_hours=window_hours,
        bandwidth_mb_s=rate,
        protocol_overhead=protocol_overhead,
        retry_overhead=retry_overhead,
        link_headroom=link_headroom,
        provider=provider,
        storage_class=storage_class,
        egress=egress,
        step_seconds=step_seconds,
        reads=reads,
    )
    measured, label = None, None
    try:
        inputs = inputs.with_preset_prices(storage_price, transfer_price)
        if profile_path:
            measured = measure.load_profile(Path(profile_path))
            content = json.loads(Path(profile_path).read_text())
            label = f"measured: {content.get('data', profile_path)}, {content.get('measured_at')}"
        elif sample:
            from dagster_fastio.cli.bench import sample_table

            results = measure.run(sample_table(sample), rounds=1)
            measured = measure.load_profile_content(measure.profile(results, sample))
            label = f"measured: {sample}, one round"
        result = planning.plan(inputs, measured, label)
    except (ValueError, RuntimeError) as error:
        raise click.UsageError(str(error)) from error
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    _print_plan(result)


def _mb(value: float) -> str:
    return size_text(int(value * 1e6))


def _print_plan(result: planning.Plan) -> None:
    from rich.console import Console
    from rich.table import Table

    inputs = result.inputs
    title = (
        f"{inputs.size_mb:,.0f} MB {inputs.frame} frame, {inputs.per_day:g}/day, "
        f"{inputs.parallel} in parallel, {'several nodes' if inputs.multi_node else 'one node'}, "
        f"{'partitioned' if inputs.partitioned else 'unpartitioned'}"
    )
    shown = Table(title=title)
    shown.add_column("")
    for method in result.methods:
        shown.add_column(f"{method.label}\n({method.source})", justify="right")
    rows = [
        ("stored per materialisation", lambda m: _mb(m.stored_mb)),
        ("storage held", lambda m: _mb(m.storage_held_mb)),
    ]
    for frame in planning.FRAMES:
        rows += [
            (f"{frame}: write peak", lambda m, f=frame: _mb(m.peak_memory_write_mb[f])),
            (f"{frame}: load peak", lambda m, f=frame: _mb(m.peak_memory_load_mb[f])),
            (f"{frame}: step peak", lambda m, f=frame: _mb(m.peak_memory_step_mb[f])),
            (
                f"{frame}: {inputs.parallel} steps + headroom",
                lambda m, f=frame: _mb(m.peak_memory_parallel_mb[f]),
            ),
            (
                f"{frame}: steps that fit {_mb(inputs.memory_mb)}",
                lambda m, f=frame: str(m.recommended_concurrency[f]),
            ),
        ]
    rows += [
        ("write + loads (fresh processes)", lambda m: f"{m.handoff_seconds:,.2f} s"),
        ("share of the step", lambda m: f"{m.overhead_share:.1%}"),
        ("link for the daily volume", lambda m: f"{m.link_mbit_s_needed:,.1f} Mbit/s"),
        ("storage per month", lambda m: f"${m.storage_usd_month:,.2f}"),
        (
            "retrieval + egress per month",
            lambda m: f"${m.retrieval_usd_month + m.transfer_usd_month:,.2f}",
        ),
    ]
    for label, cell in rows:
        shown.add_row(label, *(cell(method) for method in result.methods))
    console = Console()
    console.print(shown)
    network = result.network
    console.print(
        f"Network: {_mb(network['daily_volume_mb'])} a day in {network['window_hours']:g} h is "
        f"{network['payload_mb_s']:,.2f} MB/s of payload; with protocol overhead "
        f"{network['protocol_overhead']:.0%}, retries {network['retry_overhead']:.0%} and "
        f"headroom {network['headroom']:.0%}, a link of {network['link_mbit_s']:,.0f} Mbit/s "
        f"({'fits' if network['fits'] else 'more than'} the "
        f"{network['bandwidth_mbit_s']:,.0f} Mbit/s given)."
    )
    console.print(f"Recommendation: [bold]{result.recommendation}[/bold]: {result.reason}.")
    console.print(f"Figures: {result.profile}.")
    for assumption in result.assumptions:
        console.print(f"Assumed: {assumption}.")
    for note in result.notes:
        console.print(f"Note: {note}.")
