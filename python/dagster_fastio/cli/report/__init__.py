"""`fastio report`: what FastIOManager's writes and loads cost, read from a Dagster instance.

Per asset (and per partition with ``--partitions``) over a window: materializations, rows,
bytes, seconds, MB/s and memory as the manager recorded them under ``dagster_fastio/``, the
trend against the window before, what is held in storage now (one listing per base), the same
at pickle's measured cost, and a month's cost at given prices. The figures are
``figures``'; the listing ``held``'s; the chart ``chart``'s.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import click

from dagster_fastio.cli.common import fail, storage_options_of, store_option
from dagster_fastio.cli.planning import PlanInputs
from dagster_fastio.cli.report.figures import (
    PICKLE_PROFILES,
    Figures,
    PickleProfile,
    Prices,
    figures_of,
    is_remote_event,
    split_ranges,
    totals_of,
)
from dagster_fastio.cli.report.held import Held, base_of, list_held
from dagster_fastio.cli.report.text import print_report
from dagster_fastio.errors import FastIOError

__all__ = ["parse_when", "report"]

_SPANS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str, now: float) -> float:
    """A moment: ``7d``, ``12h``, ``30m``, ``2w`` ago, or an ISO date or time (UTC unless it
    names its offset), as a timestamp."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([mhdw])\s*", text)
    if match:
        return now - float(match.group(1)) * _SPANS[match.group(2)]
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (examples: 7d, 12h, 2w, 2026-12-01, 2026-12-01T08:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(timespec="seconds")


@click.command()
@click.option(
    "--instance",
    "instance_dir",
    type=click.Path(file_okay=False),
    help="The Dagster instance's folder (holding dagster.yaml). Default: $DAGSTER_HOME.",
)
@click.option(
    "--since", default="7d", show_default=True, help="Window start: 7d, 12h, 2w or an ISO date."
)
@click.option("--until", help="Window end (default: now), in the same forms.")
@click.option(
    "--asset",
    "asset_names",
    multiple=True,
    help="Only this asset (a/b for a key path); repeatable.",
)
@click.option("--partitions", is_flag=True, help="Also report each partition.")
@click.option(
    "--base",
    "bases",
    multiple=True,
    help="The manager's base_path to list (repeatable). Default: read from the recorded paths.",
)
@click.option("--no-listing", is_flag=True, help="Do not list the store: no 'held now' figures.")
@store_option
@click.option(
    "--storage-price",
    type=click.FloatRange(min=0),
    default=PlanInputs.storage_price,
    show_default=True,
    help="USD per GB-month held (default: S3 Standard, us-east-1; check your contract).",
)
@click.option(
    "--transfer-price",
    type=click.FloatRange(min=0),
    default=PlanInputs.transfer_price,
    show_default=True,
    help="USD per GB written or loaded (0: store and compute in one region).",
)
@click.option(
    "--pickle-profile",
    type=click.Choice(["auto", *PICKLE_PROFILES]),
    default="auto",
    show_default=True,
    help="Pickle's measured cost to compare with: local disk (FilesystemIOManager) or a store "
    "(S3PickleIOManager); auto picks by where each asset is stored.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--chart",
    type=click.Path(dir_okay=False),
    help="Draw the performance dashboard to this PNG (needs matplotlib: the bench extra).",
)
def report(
    instance_dir: str | None,
    since: str,
    until: str | None,
    asset_names: tuple[str, ...],
    partitions: bool,
    bases: tuple[str, ...],
    no_listing: bool,
    storage_options: tuple[str, ...],
    storage_price: float,
    transfer_price: float,
    pickle_profile: str,
    as_json: bool,
    chart: str | None,
) -> None:
    """What each asset's writes and loads cost, from a Dagster instance's event log."""
    now = time.time()
    try:
        end = now if until is None else parse_when(until, now)
        start = parse_when(since, now)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error
    if start >= end:
        raise click.BadParameter(f"--since {since} is not before the window's end")
    previous_start = start - (end - start)
    # The only command that reads a Dagster instance: Dagster is imported through io_manager,
    # and only when the command runs.
    from dagster_fastio.io_manager.instance_history import read_history

    try:
        history = read_history(instance_dir, previous_start, end, list(asset_names) or None)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    except Exception as error:  # the instance's storage refused (a database not reachable)
        fail(error)
    options = storage_options_of(storage_options)
    window_days = (end - start) / 86400
    prices = Prices(storage_price, transfer_price)

    def in_window(events: Sequence[Any]) -> list[Any]:
        return [e for e in events if e.timestamp >= start]

    def before(events: Sequence[Any]) -> list[Any]:
        return [e for e in events if e.timestamp < start]

    held: Held | None = None
    if not no_listing:
        found = list(bases) or _recorded_bases(history.assets)
        partition_keys = {
            a.name: {e.partition for e in a.writes if e.partition is not None}
            for a in history.assets
        }
        try:
            held = list_held(
                found, {a.name: a.key for a in history.assets}, partition_keys, options
            )
        except (OSError, FastIOError) as error:
            fail(error)
    rows: list[Figures] = []
    partition_rows: list[Figures] = []
    used: dict[str, PickleProfile] = {}
    for asset in history.assets:
        profile = _profile_of(asset, pickle_profile)
        used[profile.manager] = profile
        common = {"window_days": window_days, "prices": prices, "pickle": profile}
        writes, partition_writes = split_ranges(asset.writes)
        rows.append(
            figures_of(
                asset.name,
                None,
                in_window(writes),
                in_window(asset.loads),
                before(writes),
                before(asset.loads),
                None if held is None else held.assets.get(asset.name, (0, 0)),
                **common,
            )
        )
        if partitions:
            by_partition: dict[str, dict[str, list[Any]]] = defaultdict(
                lambda: {"writes": [], "loads": []}
            )
            for side, events in (("writes", partition_writes), ("loads", asset.loads)):
                for event in events:
                    if event.partition is not None:
                        by_partition[event.partition][side].append(event)
            for key in sorted(by_partition):
                events = by_partition[key]
                partition_rows.append(
                    figures_of(
                        asset.name,
                        key,
                        in_window(events["writes"]),
                        in_window(events["loads"]),
                        before(events["writes"]),
                        before(events["loads"]),
                        None if held is None else held.partitions.get((asset.name, key), (0, 0)),
                        **common,
                    )
                )
    rows = [r for r in rows if r.materializations or r.loads]
    partition_rows = [r for r in partition_rows if r.materializations or r.loads]
    result: dict[str, Any] = {
        "instance": {"storage": history.storage},
        "window": {
            "since": _iso(start),
            "until": _iso(end),
            "days": round(window_days, 3),
            "previous_since": _iso(previous_start),
        },
        "prices": {
            "storage_usd_gb_month": storage_price,
            "transfer_usd_gb": transfer_price,
        },
        "pickle_reference": {name: asdict(profile) for name, profile in used.items()},
        "bases": None if held is None else held.bases,
        "held_elsewhere": None
        if held is None
        else {"files": held.others[0], "bytes": held.others[1]},
        "assets": [r.as_dict() for r in rows],
        "totals": totals_of(rows),
    }
    if partitions:
        result["partitions"] = [r.as_dict() for r in partition_rows]
    if chart:
        _chart(chart, history.assets, rows, start, end, in_window)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        print_report(result, rows, partition_rows)
    if chart and not as_json:
        click.echo(f"chart: {chart}")


def _recorded_bases(assets: Sequence[Any]) -> list[str]:
    """The bases the assets' latest recorded writes were under."""
    found = []
    for asset in assets:
        for event in asset.writes:
            uri = event.metadata.get("dagster/uri") or event.metadata.get("path")
            base = None if uri is None else base_of(asset.key, event.partition, str(uri))
            if base is not None:
                found.append(base)
                break
    return found


def _profile_of(asset: Any, choice: str) -> PickleProfile:
    if choice != "auto":
        return PICKLE_PROFILES[choice]
    remote = any(is_remote_event(event.metadata) for event in asset.writes[:1])
    return PICKLE_PROFILES["store" if remote else "local"]


def _chart(
    path: str,
    assets: Sequence[Any],
    rows: Sequence[Figures],
    start: float,
    end: float,
    in_window: Any,
) -> None:
    from types import SimpleNamespace

    from dagster_fastio.cli.report.chart import draw_chart

    shown = [
        SimpleNamespace(name=a.name, writes=in_window(a.writes), loads=in_window(a.loads))
        for a in assets
    ]
    held = {r.asset: (r.held_bytes, r.pickle.get("held_bytes")) for r in rows}
    title = f"dagster-fastio: {_iso(start)[:16]} to {_iso(end)[:16]} UTC"
    try:
        draw_chart(path, shown, held, title)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from error
