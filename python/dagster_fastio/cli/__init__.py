"""The `fastio` command: look inside stored files, convert others into them, measure this
machine, plan capacity, report what a Dagster instance's materializations cost, clean up after
killed writes, and migrate what the replaced I/O managers stored. One module per command
group; this one is the group.

Every URI may be a local path or a store URI (s3://, gs://, az://, memory://); store settings
come from the environment and from `-o key=value` (object_store's keys).
"""

from __future__ import annotations

import click

from dagster_fastio.api import __version__
from dagster_fastio.cli.bench import bench
from dagster_fastio.cli.clean import clean
from dagster_fastio.cli.compact import compact
from dagster_fastio.cli.convert import convert
from dagster_fastio.cli.inspect import head, inspect
from dagster_fastio.cli.migrate import migrate
from dagster_fastio.cli.plan_command import plan
from dagster_fastio.cli.report import report

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fastio")
def main() -> None:
    """Inspect, convert, measure, plan, report and migrate: Arrow IPC files, locally or in
    object stores."""


for command in (inspect, head, convert, bench, plan, report, clean, compact, migrate):
    main.add_command(command)
