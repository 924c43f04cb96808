"""Retention from a code location's definitions: each asset's partitions definition turned into
the ``AssetScope`` that ``stored.retention`` lists files against, and the definitions loaded from
a module or file as ``dagster dev -m`` / ``-f`` loads them.

A partitions definition's keys are listed in full (dynamic ones from the Dagster instance), so
that a stored file is compared with the exact stem its key has; an age applies to the keys of
time-window partitions (alone or as one dimension of a multi-partitioning) whose window ended
before the cutoff.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import dagster as dg

from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.retention import AssetScope

__all__ = ["Plan", "asset_graph_of", "environment_instance", "plan_for", "time_window_end"]


@dataclass(frozen=True)
class Plan:
    """What retention looks at: each asset's scope, and the assets whose partitions could not
    be listed (their files are only protected, never candidates)."""

    scopes: list[AssetScope]
    skipped: dict[str, str] = field(default_factory=dict)
    """Why, by asset key."""


def asset_graph_of(target: str) -> object:
    """The asset graph of the ``dg.Definitions`` that ``target`` names: a module
    (``package.definitions``), a Python file (``path/to/definitions.py``), either with
    ``:attribute`` to choose among several; found as ``dagster dev -m`` / ``-f`` finds them."""
    # Dagster's own discovery of a code location's definitions, so a module that `dagster dev`
    # loads is loaded the same way (Definitions, @definitions functions, repositories).
    from dagster._core.definitions.reconstruct import repository_def_from_target_def
    from dagster._core.workspace.autodiscovery import (
        loadable_targets_from_python_file,
        loadable_targets_from_python_module,
    )

    name, _, attribute = target.partition(":")
    if name.endswith(".py") or os.sep in name:
        targets = loadable_targets_from_python_file(name, working_directory=os.getcwd())
    else:
        targets = loadable_targets_from_python_module(name, working_directory=os.getcwd())
    if attribute:
        targets = [t for t in targets if t.attribute == attribute]
    if len(targets) != 1:
        found = ", ".join(sorted(t.attribute for t in targets)) or "none"
        raise ValueError(
            f"{target} must hold exactly one Definitions (found: {found}); name it as "
            f"{name}:<attribute>"
        )
    repository = repository_def_from_target_def(targets[0].target_definition)
    if repository is None:
        raise ValueError(f"{target} holds no Definitions")
    return repository.asset_graph


def environment_instance() -> dg.DagsterInstance | None:
    """The Dagster instance ``DAGSTER_HOME`` names, which lists dynamic partitions; None when
    it names none (assets with dynamic partitions are then skipped)."""
    if not os.environ.get("DAGSTER_HOME"):
        return None
    return dg.DagsterInstance.get()


def time_window_end(partitions_def: dg.PartitionsDefinition, key: str) -> datetime.datetime | None:
    """When the time window of ``key`` ends, for time-window partitions (or the time dimension
    of a multi-partitioning); None for partitions without time."""
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return partitions_def.time_window_for_partition_key(key).end
    if (
        isinstance(partitions_def, dg.MultiPartitionsDefinition)
        and partitions_def.has_time_window_dimension
    ):
        return partitions_def.time_window_for_partition_key(key).end
    return None


def _later_windows(
    partitions_def: dg.PartitionsDefinition, keys: list
) -> Callable[[tuple[str, ...]], bool] | None:
    """For time-window partitions (alone or as a dimension): whether a stored key that was not
    listed is a window after the last one listed, which the definition holds once its time
    comes (a run with an end offset, or a clock ahead of this one, wrote it); None otherwise."""
    time_name, dimensions, others = None, None, {}
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        time_def = partitions_def
    elif (
        isinstance(partitions_def, dg.MultiPartitionsDefinition)
        and partitions_def.has_time_window_dimension
    ):
        time_dimension = partitions_def.time_window_dimension
        time_def, time_name = time_dimension.partitions_def, time_dimension.name
        # The layout's folders: one per dimension, dimensions sorted by name.
        dimensions = sorted(d.name for d in partitions_def.partitions_defs)
        others = {
            d.name: {k.keys_by_dimension[d.name] for k in keys}
            for d in partitions_def.partitions_defs
            if d.name != time_dimension.name
        }
    else:
        return None
    assert isinstance(time_def, dg.TimeWindowPartitionsDefinition)
    last = time_def.get_last_partition_window()
    end = time_def.end

    def later(texts: tuple[str, ...]) -> bool:
        if dimensions is None:
            time_key = "/".join(texts)
        else:
            if len(texts) != len(dimensions):
                return False
            by_dimension = dict(zip(dimensions, texts, strict=True))
            if any(by_dimension[name] not in found for name, found in others.items()):
                return False
            time_key = by_dimension[time_name]
        try:
            window = time_def.time_window_for_partition_key(time_key)
        except Exception:
            return False  # not a key of this definition at all
        if window.start.strftime(time_def.fmt) != time_key:
            return False
        return (last is None or window.start > last.start) and (end is None or window.end <= end)

    return later


def _keys(partitions_def: dg.PartitionsDefinition, instance: dg.DagsterInstance | None) -> list:
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        return list(partitions_def.get_partition_keys(dynamic_partitions_store=instance))


def plan_for(
    asset_graph: object,
    base: Location,
    *,
    older_than: float | None = None,
    instance: dg.DagsterInstance | None = None,
    now: datetime.datetime | None = None,
    asset_keys: Iterable[dg.AssetKey] | None = None,
) -> Plan:
    """The scope of every asset of ``asset_graph`` under ``base``. ``older_than`` (seconds)
    also lets go the time-window partitions that ended that long before ``now``;
    ``asset_keys`` limits the candidates to those assets (the others still protect their
    files). Dynamic partitions are listed from ``instance``; without one, such assets are
    skipped."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    cutoff = None if older_than is None else now - datetime.timedelta(seconds=older_than)
    chosen = None if asset_keys is None else set(asset_keys)
    scopes, skipped = [], {}
    graph = asset_graph
    for key in sorted(graph.get_all_asset_keys()):  # type: ignore[attr-defined]
        node = graph.get(key)  # type: ignore[attr-defined]
        name = key.to_user_string()
        stem = base.stem(key.path)
        # Only what this code location materializes is a candidate; an external or observable
        # asset's files are someone else's to keep.
        candidate = node.is_materializable and (chosen is None or key in chosen)
        partitions_def = node.partitions_def
        if not candidate:
            scopes.append(AssetScope(name, stem, None, candidate=False))
            continue
        if partitions_def is None:
            scopes.append(AssetScope(name, stem))
            continue
        try:
            keys = _keys(partitions_def, instance)
        except Exception as error:  # a dynamic partitioning without an instance to list it
            skipped[name] = f"its partition keys could not be listed ({type(error).__name__})"
            scopes.append(AssetScope(name, stem, None, candidate=False))
            continue
        partitions = stem.partitions(keys)
        expired: frozenset[str] = frozenset()
        if cutoff is not None:
            ends = {k: time_window_end(partitions_def, k) for k in keys}
            expired = frozenset(k for k, end in ends.items() if end is not None and end <= cutoff)
        later = _later_windows(partitions_def, keys)
        scopes.append(AssetScope(name, stem, partitions, expired, later))
    return Plan(scopes, skipped)
