"""What is held in storage now, for ``fastio report``: one listing of each base folder (or
store prefix) FastIOManager wrote under, each file attributed to the asset (and partition)
whose place it is in by the manager's layout (``stored.layout``).

The base is given (``--base``) or read back from the path a materialization recorded: the path
of ``<base>/<asset key>[/<partition>]<suffix>`` without its asset and partition part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dagster_fastio.api import list_objects
from dagster_fastio.stored.layout import Location
from dagster_fastio.uris import PARQUET_SUFFIX, PARTS_SUFFIX, PICKLE_SUFFIX, TABLE_SUFFIX

__all__ = ["Held", "base_of", "list_held"]

_SUFFIXES = (TABLE_SUFFIX, PARQUET_SUFFIX, PICKLE_SUFFIX, PARTS_SUFFIX)


@dataclass
class Held:
    """Files and bytes found, per asset name and per (asset name, partition key)."""

    bases: list[str]
    assets: dict[str, tuple[int, int]] = field(default_factory=dict)
    partitions: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    others: tuple[int, int] = (0, 0)
    """Files under the bases that are no reported asset's (op outputs, other assets, leftovers
    of interrupted writes)."""


def _relative(key: Iterable[str]) -> str:
    """``/a/b``: the asset's place below any base, as the layout escapes it."""
    return Location("", remote=True).stem(list(key)).text


def _partition_places(asset_place: str, partition: str) -> list[str]:
    """A partition's place below the asset's: one folder for a key, or one per dimension of a
    multi-partition key (``a|b``, the dimensions in name order, as Dagster prints it)."""
    places = [Location(asset_place, remote=True).stem([partition]).text]
    if "|" in partition:
        places.append(Location(asset_place, remote=True).stem(partition.split("|")).text)
    return places


def _without_suffix(text: str) -> str:
    """The stem a stored file or folder belongs to: an appended part's
    (``<stem>.parts/<name>``) is its key's."""
    folder = text.find(PARTS_SUFFIX + "/")
    if folder > 0:
        return text[:folder]
    for suffix in _SUFFIXES:
        if text.endswith(suffix):
            return text[: -len(suffix)]
    return text


def base_of(key: Iterable[str], partition: str | None, uri: str) -> str | None:
    """The base a write's recorded path (``dagster/uri`` or ``path``) is under; None when the
    path is not where the layout puts that asset (another I/O manager's, an op output)."""
    stem = _without_suffix(uri.rstrip("/"))
    asset_place = _relative(key)
    places = [asset_place]
    if partition is not None:
        places = [*_partition_places(asset_place, partition), asset_place]
    for place in places:
        if stem.endswith(place) and len(stem) > len(place):
            return stem[: -len(place)]
    return None


def list_held(
    bases: Iterable[str],
    assets: Mapping[str, tuple[str, ...]],
    partitions: Mapping[str, Iterable[str]],
    storage_options: dict[str, str] | None,
) -> Held:
    """Lists each base once and attributes every file to the asset whose place holds it (the
    longest asset key wins: ``a/b`` is not a partition of ``a``), and to its partition when
    that is one of ``partitions[asset]``."""
    unique = sorted({base.rstrip("/") for base in bases})
    held = Held(bases=unique)
    places = sorted(
        ((_relative(key), name) for name, key in assets.items()), key=lambda p: -len(p[0])
    )
    partition_places = {
        name: {
            place: partition
            for partition in partitions.get(name, ())
            for place in _partition_places(_relative(assets[name]), partition)
        }
        for name in assets
    }
    for base in unique:
        for stored in list_objects(base, storage_options):
            relative = stored.uri[len(base) :]
            stem = _without_suffix(relative)
            owner = next(
                (
                    (place, name)
                    for place, name in places
                    if stem == place or stem.startswith(place + "/")
                ),
                None,
            )
            if owner is None:
                held.others = _add(held.others, stored.size)
                continue
            name = owner[1]
            held.assets[name] = _add(held.assets.get(name, (0, 0)), stored.size)
            partition = partition_places[name].get(stem)
            if partition is not None:
                held.partitions[(name, partition)] = _add(
                    held.partitions.get((name, partition), (0, 0)), stored.size
                )
    return held


def _add(count: tuple[int, int], size: int) -> tuple[int, int]:
    return count[0] + 1, count[1] + size
