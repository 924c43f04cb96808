"""What ``fastio report`` reads of a Dagster instance: the recorded writes and loads of every
asset FastIOManager stored, over a span of time.

The instance is opened as Dagster opens it (``DagsterInstance.get()`` from ``DAGSTER_HOME``,
or ``DagsterInstance.from_config`` on a folder holding a ``dagster.yaml``), so whatever storage
its ``dagster.yaml`` names (SQLite by default, Postgres through dagster-postgres, MySQL) is read
through Dagster's own queries. Nothing is written to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dagster as dg

from dagster_fastio.io_manager.io_history import IoEvent, fastio_asset_keys, loads, writes

__all__ = ["AssetHistory", "InstanceHistory", "read_history"]

_FIGURES_PREFIX = "dagster_fastio/"


@dataclass
class AssetHistory:
    """An asset's writes and loads, newest first, within the span read."""

    key: tuple[str, ...]
    writes: list[IoEvent] = field(default_factory=list)
    loads: list[IoEvent] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "/".join(self.key)


@dataclass
class InstanceHistory:
    """Every asset FastIOManager wrote or loaded between ``since`` and ``until``, and the kind
    of storage the instance keeps its event log in (its class name: never a connection URL)."""

    storage: str
    since: float | None
    until: float | None
    assets: list[AssetHistory]


def read_history(
    instance_dir: str | None,
    since: float | None,
    until: float | None,
    asset_names: list[str] | None = None,
) -> InstanceHistory:
    """Reads the instance in ``instance_dir`` (None: the one ``DAGSTER_HOME`` names). An asset
    is reported when one of its writes in the span carries ``dagster_fastio/`` figures, or one
    of its loads does; ``asset_names`` (``a/b`` strings) narrows the assets asked for."""
    with _opened(instance_dir) as instance:
        keys = (
            [dg.AssetKey.from_user_string(name) for name in asset_names]
            if asset_names
            else fastio_asset_keys(instance)
        )
        assets = []
        for key in keys:
            history = AssetHistory(
                key=tuple(key.path),
                writes=[
                    event
                    for event in writes(instance, key, since=since, until=until)
                    if any(name.startswith(_FIGURES_PREFIX) for name in event.metadata)
                ],
                loads=loads(instance, key, since=since, until=until),
            )
            if history.writes or history.loads:
                assets.append(history)
        storage = type(instance.event_log_storage).__name__
    return InstanceHistory(storage=storage, since=since, until=until, assets=assets)


@contextmanager
def _opened(instance_dir: str | None) -> Iterator[dg.DagsterInstance]:
    if instance_dir is None:
        if not os.environ.get("DAGSTER_HOME"):
            raise ValueError(
                "no Dagster instance to read: set DAGSTER_HOME or pass --instance DIR "
                "(the folder holding dagster.yaml)"
            )
        instance = dg.DagsterInstance.get()
    else:
        # from_config would create an empty instance in a folder that is not one: a typo
        # would then report nothing instead of failing.
        if not os.path.isdir(instance_dir):
            raise ValueError(f"no Dagster instance at {instance_dir!r}: no such folder")
        instance = dg.DagsterInstance.from_config(instance_dir)
    with instance:
        yield instance
