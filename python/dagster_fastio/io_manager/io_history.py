"""FastIOManager's recorded writes and loads of an asset, read from a Dagster instance's event
log: writes are the asset's materializations, loads the observations Dagster records of input
metadata (``context.add_input_metadata`` on an asset input becomes an ``ASSET_OBSERVATION`` of
the loaded asset, of its partition, beside the step's ``LOADED_INPUT`` event).

Through the instance's own queries only (``fetch_materializations``, ``fetch_observations``),
so that the same code reads a SQLite instance, a Postgres one, or any storage Dagster has. The
``io_slowdown`` check and ``fastio report`` both read history here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from dagster_fastio.keys import LOAD_SECONDS_KEY

__all__ = ["IoEvent", "fastio_asset_keys", "loads", "writes"]

_PAGE = 1000
"""Records asked for per query; the instance pages by cursor."""


@dataclass(frozen=True, slots=True)
class IoEvent:
    """One recorded write or load: when, of which asset and partition, by which run, and its
    metadata as plain values (numbers, strings, booleans; paths as their text)."""

    asset_key: tuple[str, ...]
    timestamp: float
    partition: str | None
    run_id: str
    metadata: dict[str, Any]


def writes(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    *,
    limit: int | None = None,
    since: float | None = None,
    until: float | None = None,
) -> list[IoEvent]:
    """The asset's materializations, newest first: the latest ``limit`` (None: all), between
    ``since`` and ``until`` (timestamps, either may be None)."""
    return _fetch(
        instance.fetch_materializations, key, limit, since, until, lambda r: r.asset_materialization
    )


def loads(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    *,
    limit: int | None = None,
    since: float | None = None,
    until: float | None = None,
) -> list[IoEvent]:
    """The asset's recorded loads (observations that carry FastIOManager's load figures),
    newest first; other observations of the asset are passed over."""
    return _fetch(
        instance.fetch_observations,
        key,
        limit,
        since,
        until,
        lambda r: r.asset_observation,
        keep=lambda metadata: LOAD_SECONDS_KEY in metadata,
    )


def fastio_asset_keys(instance: dg.DagsterInstance) -> list[dg.AssetKey]:
    """Every asset key the instance knows, sorted; which of them FastIOManager stored shows in
    their events' metadata."""
    return sorted(instance.get_asset_keys(), key=lambda key: key.to_user_string())


def _fetch(
    fetch: Callable[..., Any],
    key: dg.AssetKey,
    limit: int | None,
    since: float | None,
    until: float | None,
    event_of: Callable[[Any], Any],
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> list[IoEvent]:
    records_filter = dg.AssetRecordsFilter(
        asset_key=key, after_timestamp=since, before_timestamp=until
    )
    found: list[IoEvent] = []
    cursor = None
    while limit is None or len(found) < limit:
        page = _PAGE if limit is None else min(_PAGE, max(limit - len(found), 1))
        result = fetch(records_filter, limit=page, cursor=cursor)
        for record in result.records:
            event = event_of(record)
            metadata = plain_metadata(event)
            if keep is not None and not keep(metadata):
                continue
            found.append(
                IoEvent(
                    asset_key=tuple(key.path),
                    timestamp=record.timestamp,
                    partition=record.partition_key,
                    run_id=record.run_id,
                    metadata=metadata,
                )
            )
        if not result.has_more:
            break
        cursor = result.cursor
    return found if limit is None else found[:limit]


def plain_metadata(event: Any) -> dict[str, Any]:
    """An event's metadata as plain values (a ``MetadataValue``'s ``value``)."""
    if event is None:
        return {}
    return {name: getattr(value, "value", value) for name, value in event.metadata.items()}
