"""`fastio clean --partitions-not-in DEFINITIONS`: the stored partitions a code location's
definitions no longer cover, as a table (or JSON lines), removed when asked.

The one command that needs Dagster: the definitions are Dagster objects. Dagster is imported
only when this mode runs, so every other command works without it (see the import contract in
pyproject.toml).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from dagster_fastio.cli.common import size_text
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.retention import OLDER_THAN, Removable, parse_age, removable, remove

__all__ = ["clean_partitions"]

_SHOWN_REASONS = {
    "not_in_definition": "key not defined",
    "now_unpartitioned": "asset unpartitioned",
    "now_partitioned": "asset partitioned",
}


def clean_partitions(
    base: str,
    definitions: str,
    older_than: str | None,
    apply: bool,
    as_json: bool,
    storage_options: dict[str, str] | None,
) -> None:
    """Lists (and with ``apply`` removes) what ``definitions`` no longer cover under ``base``."""
    try:
        age = None if older_than is None else parse_age(older_than)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--partitions-older-than") from None
    try:
        from dagster_fastio.io_manager.retention import (
            asset_graph_of,
            environment_instance,
            plan_for,
        )
    except ModuleNotFoundError as error:
        raise click.ClickException(
            f"--partitions-not-in reads Dagster definitions ({error}): "
            "pip install 'dagster-fastio[dagster]'"
        ) from None

    graph = asset_graph_of(definitions)
    plan = plan_for(graph, Location.base(base), older_than=age, instance=environment_instance())
    found = removable(plan.scopes, storage_options)
    if apply:
        found = remove(found, storage_options)
    _report(found, plan.skipped, apply, as_json, older_than)


def _report(
    found: Sequence[Removable],
    skipped: dict[str, str],
    apply: bool,
    as_json: bool,
    older_than: str | None,
) -> None:
    if as_json:
        for item in found:
            fields = ("uri", "size", "asset", "partition", "reason", "removed")
            click.echo(json.dumps({name: getattr(item, name) for name in fields}))
        for asset, why in skipped.items():
            click.echo(json.dumps({"asset": asset, "skipped": why}))
        return
    state = "removed" if apply else "would remove"
    rows = [
        (
            state,
            size_text(item.size),
            f"older than {older_than}"
            if item.reason == OLDER_THAN
            else _SHOWN_REASONS[item.reason],
            item.asset,
            "-" if item.partition is None else item.partition,
            item.uri,
        )
        for item in found
    ]
    rows += [("skipped", "", why, asset, "", "") for asset, why in skipped.items()]
    if rows:
        header = ("", "size", "why", "asset", "partition", "file")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
        for row in [header, *rows]:
            cells = [
                cell.rjust(width) if i == 1 else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=False))
            ]
            click.echo("  ".join([*cells, row[-1]]).rstrip())
    total = size_text(sum(item.size for item in found))
    assets = len({item.asset for item in found})
    action = "removed" if apply else "would be removed (dry run: add --apply)"
    click.echo(f"{len(found)} file(s) of {assets} asset(s), {total}: {action}")
