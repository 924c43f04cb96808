"""Stored files that an asset's definition no longer covers: partitions whose key the
partitions definition no longer has, partitions past an age, and what an asset left behind
when it became partitioned or stopped being partitioned. Listed first; deleted only when asked.

The caller describes each asset of a code location as an ``AssetScope``: its stem and, when it
is partitioned, the stems of the keys its definition holds. Nothing else is ever a candidate:

- only files under the asset's own folder (its partitions) and its own unpartitioned files are
  looked at, so op outputs, run folders and assets this code location does not define are
  never touched;
- only files this package writes (``.arrow``, ``.parquet``, ``.pickle.zst`` and the parts of
  appended outputs under ``<stem>.parts/``); a replaced manager's suffix-less pickle, a
  temporary file of a live write, or anything a user put there stays;
- a file at or under the stem of another asset of the code location (asset keys nest: ``a``
  and ``a/b``) or at a partition another asset's definition holds is that asset's, and stays.

No Dagster import: the keys and their stems come from the caller.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from dagster_fastio import api
from dagster_fastio.stored.layout import Location, segment_text
from dagster_fastio.uris import (
    PARQUET_SUFFIX,
    PARTS_SUFFIX,
    PICKLE_SUFFIX,
    TABLE_SUFFIX,
    is_remote,
)

__all__ = [
    "NOT_IN_DEFINITION",
    "NOW_PARTITIONED",
    "NOW_UNPARTITIONED",
    "OLDER_THAN",
    "AssetScope",
    "Removable",
    "parse_age",
    "removable",
    "remove",
]

# Why a file may go.
NOT_IN_DEFINITION = "not_in_definition"
"""A partition whose key the asset's partitions definition no longer holds."""
OLDER_THAN = "older_than"
"""A partition still in the definition whose time window ended before the cutoff asked for."""
NOW_UNPARTITIONED = "now_unpartitioned"
"""A partition of an asset that is not partitioned any more."""
NOW_PARTITIONED = "now_partitioned"
"""The one file an asset had before it became partitioned."""

_SUFFIXES = (TABLE_SUFFIX, PARQUET_SUFFIX, PICKLE_SUFFIX)


_AGE_UNITS = {"s": 1, "min": 60, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """Seconds in an age written as a number and a unit: ``90d``, ``12h``, ``2w``, ``30min``."""
    stripped = text.strip().lower()
    number = stripped.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = stripped[len(number) :] or "s"
    try:
        seconds = float(number) * _AGE_UNITS[unit]
    except (ValueError, KeyError):
        raise ValueError(
            f"expected a number and a unit (s, min, h, d, w), like 90d; got {text!r}"
        ) from None
    if seconds < 0:
        raise ValueError(f"an age cannot be negative, got {text!r}")
    return seconds


@dataclass(frozen=True)
class AssetScope:
    """One asset as its definition describes it, in stored locations."""

    name: str
    """The asset key as people write it (``a/b``)."""
    stem: Location
    """Where its unpartitioned output goes, without suffix; its partitions are in this folder."""
    partitions: Mapping[str, Location] | None = None
    """The stem of every partition key the definition holds, by key; None: not partitioned."""
    expired: frozenset[str] = field(default_factory=frozenset)
    """Keys of ``partitions`` old enough to go (an age was asked for)."""
    defined: Callable[[tuple[str, ...]], bool] | None = None
    """Whether a stored partition that is not among ``partitions`` is the definition's all the
    same, from its stem's segments (as text): a time window after the keys were listed."""
    candidate: bool = True
    """False: its files are only protected, never listed (an asset the caller does not
    manage, or whose keys could not be listed)."""


@dataclass(frozen=True, slots=True)
class Removable:
    """A stored file that its asset's definition no longer covers."""

    uri: str
    size: int
    asset: str
    partition: str | None
    """The partition key (for a key no longer defined: its folder path under the asset's
    folder, which is the key for one-dimension keys); None for an unpartitioned file."""
    reason: str
    removed: bool = False
    within: str = field(default="", repr=False, compare=False)
    """The folder (the asset's, or a parts folder) that emptied folders are removed up to."""


def _stem_of(relative: Sequence[str]) -> tuple[str, ...] | None:
    """The stem segments (relative to an asset's folder) of a file this package writes, from
    its path's segments; None for anything else (a temporary or hidden file, a file without
    one of this package's suffixes)."""
    # A temporary file of a live or dead write (".<name>.<slot>.tmp") has none of the suffixes:
    # it is `fastio clean`'s without a mode.
    for index, segment in enumerate(relative[:-1]):
        if segment.endswith(PARTS_SUFFIX) and len(segment) > len(PARTS_SUFFIX):
            return (*relative[:index], segment[: -len(PARTS_SUFFIX)])
    last = relative[-1]
    for suffix in _SUFFIXES:
        if last.endswith(suffix) and len(last) > len(suffix):
            return (*relative[:-1], last[: -len(suffix)])
    return None


def _separator(location: Location) -> str:
    return "/" if location.remote else os.sep


def _is_at_or_under(text: str, stem: str, separator: str) -> bool:
    return text == stem or text.startswith(stem + separator)


def _listed(folder: Location, storage_options: dict[str, str] | None) -> list[api.StoredObject]:
    try:
        return api.list_objects(folder.text, storage_options)
    except FileNotFoundError:
        return []


def _partition_files(
    scope: AssetScope,
    others: Sequence[str],
    kept_elsewhere: frozenset[str],
    storage_options: dict[str, str] | None,
) -> Iterator[Removable]:
    """The files under the asset's folder that its definition does not keep."""
    separator = _separator(scope.stem)
    prefix = scope.stem.text + separator
    # Other assets whose stems are inside this asset's folder (nested keys): theirs, not ours.
    nested = [other for other in others if other.startswith(prefix)]
    by_stem = {location.text: key for key, location in (scope.partitions or {}).items()}
    for entry in _listed(scope.stem, storage_options):
        if not entry.uri.startswith(prefix):
            continue
        segments = _stem_of(entry.uri[len(prefix) :].split(separator))
        if segments is None:
            continue
        stem = prefix + separator.join(segments)
        if stem in kept_elsewhere or any(_is_at_or_under(stem, o, separator) for o in nested):
            continue
        texts = tuple(segment_text(segment) for segment in segments)
        if scope.partitions is None:
            reason, partition = NOW_UNPARTITIONED, "/".join(texts)
        else:
            key = by_stem.get(stem)
            if key is not None and key not in scope.expired:
                continue
            if key is None and scope.defined is not None and scope.defined(texts):
                continue
            reason = NOT_IN_DEFINITION if key is None else OLDER_THAN
            partition = "/".join(texts) if key is None else str(key)
        yield Removable(
            entry.uri, entry.size, scope.name, partition, reason, within=scope.stem.text
        )


def _unpartitioned_files(
    scope: AssetScope, kept_elsewhere: frozenset[str], storage_options: dict[str, str] | None
) -> Iterator[Removable]:
    """The files an asset that is partitioned now stored before it was."""
    if scope.stem.text in kept_elsewhere:
        return  # the stem is a partition another asset's definition holds
    for path in (scope.stem.with_suffix(suffix) for suffix in _SUFFIXES):
        try:
            size = api.stored_size(path.text, storage_options)
        except (FileNotFoundError, IsADirectoryError):
            continue
        yield Removable(path.text, size, scope.name, None, NOW_PARTITIONED)
    parts = scope.stem.with_suffix(PARTS_SUFFIX)
    for entry in _listed(parts, storage_options):
        yield Removable(entry.uri, entry.size, scope.name, None, NOW_PARTITIONED, within=parts.text)


def removable(
    scopes: Iterable[AssetScope], storage_options: dict[str, str] | None = None
) -> list[Removable]:
    """Every stored file of these assets that their definitions no longer cover (see the
    module's description for what is never a candidate). ``scopes`` are all the assets of the
    code location, partitioned or not: each protects its own files from the others. One
    listing of each asset's folder; on a store also a HEAD for each file a partitioned asset
    may have stored before it was partitioned."""
    scopes = list(scopes)
    stems = [scope.stem.text for scope in scopes]
    kept = set()
    for scope in scopes:
        if scope.partitions is None:
            kept.add(scope.stem.text)
        else:
            kept.update(location.text for location in scope.partitions.values())
    found: list[Removable] = []
    for scope in scopes:
        if not scope.candidate:
            continue
        own = {location.text for location in (scope.partitions or {}).values()}
        if scope.partitions is None:
            own.add(scope.stem.text)
        kept_elsewhere = frozenset(kept - own)
        others = [stem for stem in stems if stem != scope.stem.text]
        found.extend(_partition_files(scope, others, kept_elsewhere, storage_options))
        if scope.partitions is not None:
            found.extend(_unpartitioned_files(scope, kept_elsewhere, storage_options))
    return found


def remove(
    found: Sequence[Removable], storage_options: dict[str, str] | None = None
) -> list[Removable]:
    """Deletes the files of ``found`` (in batched requests on a store) and, on a local disk,
    the folders that deleting them left empty; the same items, marked removed."""
    if not found:
        return []
    api.delete_all([item.uri for item in found], storage_options)
    local_folders = {
        (os.path.dirname(item.uri), item.within)
        for item in found
        if item.within and not is_remote(item.uri)
    }
    for folder, within in sorted(local_folders, key=lambda pair: len(pair[0]), reverse=True):
        _remove_empty_folders(folder, within)
    return [replace(item, removed=True) for item in found]


def _remove_empty_folders(folder: str, within: str) -> None:
    """Removes ``folder`` and then its parents up to ``within`` while they are empty; a folder
    something was written into meanwhile stays (rmdir refuses it)."""
    while folder == within or folder.startswith(within + os.sep):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)
