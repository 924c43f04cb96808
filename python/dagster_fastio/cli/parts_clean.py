"""`fastio clean --parts-older-than AGE BASE`: appended parts past an age (and superseded parts
a compaction left), listed as a table with their bytes, removed with --apply."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import click

from dagster_fastio.cli.common import fail, size_text
from dagster_fastio.errors import FastIOError
from dagster_fastio.stored.parts_retention import old_parts, remove_parts

__all__ = ["clean_parts"]


def clean_parts(
    base: str,
    older_than_seconds: float,
    apply: bool,
    as_json: bool,
    storage_options: dict[str, str] | None,
    age_text: Callable[[float], str],
) -> None:
    """Lists (and with ``apply`` removes) the appended parts under ``base`` past the age."""
    try:
        found = old_parts(base, older_than_seconds, storage_options)
        if apply:
            remove_parts(found, storage_options)
    except (FastIOError, FileNotFoundError, ValueError, OSError) as error:
        fail(error)
    state = "removed" if apply else "would remove"
    for part in found:
        if as_json:
            click.echo(json.dumps({**dataclasses.asdict(part), "removed": apply}))
            continue
        age = age_text(part.age_seconds)
        click.echo(f"{state:13} {part.reason:10} {size_text(part.size):>10} {age:>8}  {part.uri}")
    if not as_json:
        total = size_text(sum(part.size for part in found))
        action = "removed" if apply else "would be removed (dry run: add --apply)"
        keys = len({part.key for part in found})
        click.echo(f"{len(found)} part(s) of {keys} key(s) {action}, {total}")
