"""`fastio clean`: leftovers of writes that died, or (with --partitions-not-in) the partitions
a code location's definitions no longer cover; listed, then removed when asked."""

from __future__ import annotations

import json

import click

from dagster_fastio.cli import leftovers as leftovers_of
from dagster_fastio.cli import retention
from dagster_fastio.cli.common import fail, size_text, storage_options_of, store_option
from dagster_fastio.cli.parts_clean import clean_parts
from dagster_fastio.errors import FastIOError

__all__ = ["clean"]


def _age(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.1f} {unit}"
    return f"{seconds:.0f} s"


@click.command()
@click.argument("base")
@click.option("--apply", is_flag=True, help="Delete and abort them (without it: only list).")
@click.option(
    "--older-than",
    default="1h",
    show_default=True,
    help="Only leftovers at least this old (s, min, h, d) are removed. Leftovers only: "
    "partitions take --partitions-older-than.",
)
@click.option(
    "--partitions-not-in",
    "definitions",
    metavar="DEFINITIONS",
    help="Instead of leftovers: the stored partitions whose key the partitions definitions of "
    "this module (or file.py, either with :attribute) no longer hold, and the files an asset "
    "left when it became partitioned or stopped being partitioned.",
)
@click.option(
    "--partitions-older-than",
    metavar="AGE",
    help="With --partitions-not-in: also the partitions of time-partitioned assets whose "
    "window ended at least AGE ago (90d, 12h, 2w).",
)
@click.option(
    "--parts-older-than",
    metavar="AGE",
    default=None,
    help="Instead of leftovers: appended parts whose rows are at least this old (s, min, h, d), "
    "and parts a compaction superseded (see the README's 'Append').",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@store_option
@click.pass_context
def clean(
    ctx: click.Context,
    base: str,
    apply: bool,
    older_than: str,
    definitions: str | None,
    partitions_older_than: str | None,
    parts_older_than: str | None,
    as_json: bool,
    storage_options: tuple[str, ...],
) -> None:
    """Temporary files of local writes that died, or incomplete S3 multipart uploads, under
    BASE; with --partitions-not-in, stored partitions the definitions no longer cover; with
    --parts-older-than, appended parts past an age. A dry run unless --apply; a file a live
    writer holds is never touched."""
    if definitions is not None or partitions_older_than is not None:
        _clean_partitions(ctx, base, definitions, partitions_older_than, apply, as_json)
        return
    if parts_older_than is not None:
        age = _duration(parts_older_than, "--parts-older-than")
        options = storage_options_of(storage_options)
        return clean_parts(base, age, apply, as_json, options, _age)
    seconds = _duration(older_than)
    try:
        found = leftovers_of.leftovers(
            base, storage_options_of(storage_options), older_than=seconds, remove=apply
        )
    except (FastIOError, FileNotFoundError, ValueError, OSError, RuntimeError) as error:
        fail(error)
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
            f"{state:28} {size_text(item.size):>10} {_age(item.age_seconds):>8}  {item.location}"
        )
    if not as_json:
        removed = [item for item in found if item.removed]
        removable = [item for item in found if not item.in_use]
        shown = removed if apply else removable
        total = size_text(sum(item.size or 0 for item in shown))
        action = "removed" if apply else "would be removed (dry run: add --apply)"
        click.echo(f"{len(found)} leftover(s); {len(shown)} {action}, {total} of local files")


def _clean_partitions(
    ctx: click.Context,
    base: str,
    definitions: str | None,
    partitions_older_than: str | None,
    apply: bool,
    as_json: bool,
) -> None:
    # --older-than is the age of a dead write's leftovers (by its file's time); a partition's
    # age is its time window's. One option for both would let `--older-than 90d` read as a
    # partition age while it cleaned leftovers: each mode takes its own.
    if ctx.get_parameter_source("older_than") is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError(
            "--older-than is the age of leftovers of dead writes; for partitions use "
            "--partitions-older-than"
        )
    if definitions is None:
        raise click.UsageError(
            "--partitions-older-than needs the definitions: --partitions-not-in MODULE"
        )
    options = storage_options_of(ctx.params["storage_options"])
    try:
        retention.clean_partitions(
            base, definitions, partitions_older_than, apply, as_json, options
        )
    except (FastIOError, FileNotFoundError, ValueError, OSError, ImportError) as error:
        fail(error)


def _duration(text: str, option: str = "--older-than") -> float:
    units = {"s": 1, "min": 60, "m": 60, "h": 3600, "d": 86400}
    number = text.strip().rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text.strip()[len(number) :] or "s"
    try:
        return float(number) * units[unit]
    except (ValueError, KeyError):
        raise click.BadParameter(
            f"expected a number and a unit (s, min, h, d), got {text!r}", param_hint=option
        ) from None
