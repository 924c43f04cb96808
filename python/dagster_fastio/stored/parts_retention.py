"""Retention of appended parts: the parts under a base whose newest rows are older than an age,
and the superseded parts a compaction left behind, found and then removed when asked. No Dagster
import."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from dagster_fastio import api
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.parts import key_parts
from dagster_fastio.uris import PARTS_SUFFIX, is_remote

__all__ = ["OldPart", "old_parts", "remove_parts"]


@dataclass(frozen=True, slots=True)
class OldPart:
    """A part retention would remove."""

    uri: str
    key: str
    """The key's parts folder."""
    size: int
    age_seconds: float
    """Since its newest rows were appended (a compacted part: the newest part it holds)."""
    reason: str
    """``older`` (a visible part past the age) or ``superseded`` (held by a compacted part)."""


def _parts_folders(base: str, storage_options: dict[str, str] | None) -> list[Location]:
    remote = is_remote(base)
    folders = set()
    for entry in api.list_objects(base, storage_options):
        parent = entry.uri.rsplit("/", 1)[0] if remote else os.path.dirname(entry.uri)
        if parent.endswith(PARTS_SUFFIX):
            folders.add(parent)
    return [Location(folder, remote) for folder in sorted(folders)]


def old_parts(
    base: str, older_than_seconds: float, storage_options: dict[str, str] | None = None
) -> list[OldPart]:
    """Every appended part under ``base`` whose newest rows are at least ``older_than_seconds``
    old, and every superseded part; one listing of ``base``, then one per key's parts folder
    (and a footer read per compacted part)."""
    now = time.time_ns()
    found = []
    for folder in _parts_folders(base.rstrip("/"), storage_options):
        key = key_parts(folder, storage_options)
        for part in key.superseded:
            age = (now - part.time_ns) / 1e9
            found.append(OldPart(part.uri, folder.text, part.size, age, "superseded"))
        for part in key.visible:
            age = (now - key.newest_ns(part)) / 1e9
            if age >= older_than_seconds:
                found.append(OldPart(part.uri, folder.text, part.size, age, "older"))
    return found


def remove_parts(parts: list[OldPart], storage_options: dict[str, str] | None = None) -> None:
    """Deletes ``parts`` (absent ones are fine): in one batched request per store."""
    if parts:
        api.delete_all([part.uri for part in parts], storage_options)
