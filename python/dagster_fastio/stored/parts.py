"""Appended keys: the parts folder beside a key's file, the part names, and the one set of
parts a load reads.

An append stores its table as a new part, ``<stem>.parts/<time>-<random>.<arrow|parquet>``:
``time`` is the writer's clock in nanoseconds since the epoch, zero-padded to 20 digits, so
names sort in append order; ``random`` is 16 hex digits, so two runs appending in the same
nanosecond never write the same name. Each part is written through the ordinary write path
(a local temporary file renamed into place, one PUT or one multipart upload on a store), so a
part is either whole or absent: a killed append leaves no visible part.

A compaction writes the parts it read as one part named ``<time>-<random>.compacted.<ext>``,
whose footer records the names it supersedes (``dagster_fastio.supersedes``), then deletes
them. A load lists the folder, reads the footers of the compacted parts listed, and reads every
listed part that no compacted part supersedes, in name order. The record travels inside the
compacted file, which appears atomically: a listing that holds the compacted file hides its
parts, one that does not still holds all the parts it read. A part deleted between the listing
and its read is what a racing compaction does; the load then lists again (``consistent``).

A key's one file (``<stem>.arrow``, from an overwrite) wins over its parts: loads read it when
it is there and look for parts only when it is not, so an overwritten key costs no listing. No
Dagster import.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from dagster_fastio import api
from dagster_fastio.errors import ObjectChangedError
from dagster_fastio.keys import HOLDS_KEY, NEWEST_PART_KEY, PARTS_HASH_KEY, SUPERSEDES_KEY
from dagster_fastio.stored.layout import Location
from dagster_fastio.uris import PARQUET_SUFFIX, PARTS_SUFFIX, TABLE_SUFFIX

__all__ = [
    "CONSISTENT_ATTEMPTS",
    "KeyParts",
    "NoPartsError",
    "Part",
    "consistent",
    "holds_of",
    "key_hash",
    "key_parts",
    "new_part",
    "parts_folder",
]

_NAME = re.compile(r"^(\d{20})-([0-9a-f]{16})(\.compacted)?(\.arrow|\.parquet)$")

CONSISTENT_ATTEMPTS = 8
"""Listings a load makes before giving up on a key whose parts keep being compacted away."""

T = TypeVar("T")


def parts_folder(stem: Location) -> Location:
    """The folder (or prefix) of ``stem``'s appended parts."""
    return stem.with_suffix(PARTS_SUFFIX)


@dataclass(frozen=True, slots=True)
class Part:
    """One stored part of an appended key."""

    location: Location
    name: str
    time_ns: int
    compacted: bool
    size: int = 0
    modified: float = 0.0

    @property
    def uri(self) -> str:
        return self.location.text

    @property
    def format(self) -> str:
        return "parquet" if self.name.endswith(PARQUET_SUFFIX) else "ipc"

    @staticmethod
    def parse(folder: Location, name: str, size: int = 0, modified: float = 0.0) -> Part | None:
        """The part a file name in ``folder`` names; None for anything else (a temporary file
        of a write in progress, a file another program put there)."""
        found = _NAME.match(name)
        if found is None:
            return None
        return Part(
            folder.joinpath(name), name, int(found.group(1)), bool(found.group(3)), size, modified
        )


def new_part(
    folder: Location, format: str, *, compacted: bool = False, time_ns: int | None = None
) -> Part:
    """A new part name: the clock now (or ``time_ns``) and 64 random bits."""
    moment = time.time_ns() if time_ns is None else time_ns
    suffix = (".compacted" if compacted else "") + (
        PARQUET_SUFFIX if format == "parquet" else TABLE_SUFFIX
    )
    name = f"{moment:020d}-{secrets.token_hex(8)}{suffix}"
    part = Part.parse(folder, name)
    assert part is not None
    return part


@dataclass(frozen=True, slots=True)
class KeyParts:
    """One listing of a key's parts folder, resolved: what a load reads, and what is stale."""

    folder: Location
    listed: tuple[Part, ...]
    visible: tuple[Part, ...]
    """The parts a load reads, in append (name) order."""
    footers: dict[str, api.Footer] = field(default_factory=dict)
    """The footers read while resolving (the compacted parts'), by name."""

    @property
    def superseded(self) -> tuple[Part, ...]:
        """Listed parts a compacted part holds: left by a compaction that died before deleting
        them, or not yet deleted by one running now. Loads never read them."""
        shown = {part.name for part in self.visible}
        return tuple(part for part in self.listed if part.name not in shown)

    @property
    def names(self) -> list[str]:
        return [part.name for part in self.listed]

    def newest_ns(self, part: Part) -> int:
        """When the newest rows of ``part`` were appended: its own time, or for a compacted
        part the newest time of the parts it holds."""
        footer = self.footers.get(part.name)
        if part.compacted and footer is not None:
            recorded = footer.metadata.get(NEWEST_PART_KEY)
            if recorded is not None and recorded.isdigit():
                return max(part.time_ns, int(recorded))
        return part.time_ns


def _listing(folder: Location, storage_options: dict[str, str] | None) -> list[Part]:
    if folder.remote:
        listed = api.list_objects(folder.text, storage_options)
        prefix = folder.text + "/"
        entries = [
            (obj.uri[len(prefix) :], obj.size, obj.modified)
            for obj in listed
            if obj.uri.startswith(prefix) and "/" not in obj.uri[len(prefix) :]
        ]
    else:
        entries = _local_entries(folder.text)
    parts = (Part.parse(folder, name, size, modified) for name, size, modified in entries)
    return sorted((part for part in parts if part is not None), key=lambda part: part.name)


def _settled_names(folder: str) -> list[str]:
    """The names in a local ``folder`` from two listings in a row that agree. One ``readdir``
    pass may miss both a file added while it runs and one deleted meanwhile (POSIX leaves both
    unspecified): a compaction's new part and the parts it then deletes. A compacted part
    exists before any part it holds is deleted, so a second pass that starts after a first
    that missed a deleted part sees the compacted part: equal passes missed nothing."""
    previous = None
    for _ in range(CONSISTENT_ATTEMPTS):
        try:
            names = sorted(os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            names = []
        if names == previous:
            break
        previous = names
    return names


def _local_entries(folder: str) -> list[tuple[str, int, float]]:
    """Name, size and time of each file in a local ``folder``, from one settled listing whose
    files all still exist. A file gone before its ``stat`` is a part a compaction deleted after
    the listing: the compacted part holding it was not listed, so the listing is stale and is
    taken again (``FileNotFoundError`` when it stays stale, for ``consistent`` to retry)."""
    for _ in range(CONSISTENT_ATTEMPTS):
        entries = []
        try:
            for name in _settled_names(folder):
                status = os.stat(os.path.join(folder, name))
                entries.append((name, status.st_size, status.st_mtime))
        except FileNotFoundError:
            continue
        return entries
    raise FileNotFoundError(f"the files in {folder} kept changing while listed")


def key_parts(folder: Location, storage_options: dict[str, str] | None) -> KeyParts:
    """The parts in a key's parts ``folder`` as one listing resolves them.
    ``FileNotFoundError`` when a compacted part listed is gone before its footer is read (a
    later compaction removed it): call again, or through ``consistent``."""
    listed = _listing(folder, storage_options)
    compacted = [part for part in listed if part.compacted]
    footers: dict[str, api.Footer] = {}
    if compacted:
        workers = max(1, min(len(compacted), 8))
        with ThreadPoolExecutor(workers, thread_name_prefix="fastio-parts") as pool:
            read = list(
                pool.map(lambda part: api.read_footer(part.uri, storage_options), compacted)
            )
        footers = {part.name: footer for part, footer in zip(compacted, read, strict=True)}
    hidden: set[str] = set()
    holds = {
        name: _names(footer, HOLDS_KEY) or _names(footer, SUPERSEDES_KEY)
        for name, footer in footers.items()
    }
    for name, footer in footers.items():
        hidden |= _names(footer, SUPERSEDES_KEY)
        # Compactions that ran at once: the one holding fewer parts is held whole by the other
        # (of two holding the same parts, the first by name stays). See the README's
        # "Compaction".
        for other, wider in holds.items():
            if other != name and (holds[name] < wider or (holds[name] == wider and other < name)):
                hidden.add(name)
    visible = tuple(part for part in listed if part.name not in hidden)
    return KeyParts(folder, tuple(listed), visible, footers)


def _names(footer: api.Footer, key: str) -> frozenset[str]:
    """The part names a compacted part's footer records under ``key``."""
    text = footer.metadata.get(key)
    if not text:
        return frozenset()
    try:
        names = json.loads(text)
    except ValueError:
        return frozenset()
    return frozenset(str(name) for name in names) if isinstance(names, list) else frozenset()


def holds_of(key: KeyParts, parts: Iterable[Part]) -> list[str]:
    """The names of the appended parts whose rows ``parts`` hold: their own names, and for a
    compacted part the names it records holding (transitively, since each records the whole
    set). What a new compacted part of them records (``dagster_fastio.holds``)."""
    names: set[str] = set()
    for part in parts:
        names.add(part.name)
        footer = key.footers.get(part.name)
        if part.compacted and footer is not None:
            names |= _names(footer, HOLDS_KEY)
    return sorted(names)


class NoPartsError(FileNotFoundError):
    """The key has no parts folder, or nothing in it a load reads."""


def consistent(
    stem: Location,
    storage_options: dict[str, str] | None,
    read: Callable[[KeyParts], T],
) -> T:
    """``read`` of the key's visible parts, listed again when a part is gone before ``read``
    got to it (a compaction replaced it meanwhile): what ``read`` returns is always one
    listing's set of parts. ``NoPartsError`` (a ``FileNotFoundError``) when the key has no
    parts; ``FileNotFoundError`` after ``CONSISTENT_ATTEMPTS`` listings."""
    for attempt in range(CONSISTENT_ATTEMPTS):
        try:
            found = key_parts(parts_folder(stem), storage_options)
            if not found.visible:
                raise NoPartsError(f"no part stored under {parts_folder(stem)}")
            return read(found)
        except NoPartsError:
            raise
        except (FileNotFoundError, ObjectChangedError):
            # A part deleted while read reads as missing, or on some stores as changed: parts
            # are never rewritten in place, so either means a compaction replaced it.
            if attempt == CONSISTENT_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * 2 ** min(attempt, 5))
    raise AssertionError("unreachable")


def key_hash(footers: list[api.Footer]) -> str | None:
    """The content hash of a key from its visible parts' footers, in order: a chain of SHA-256
    over the parts' content hashes, which a compacted part continues from the chain it
    recorded for the parts it holds (so compaction leaves a key's hash as it was). None when a
    part has no content hash."""
    state = ""
    for index, footer in enumerate(footers):
        recorded = footer.metadata.get(PARTS_HASH_KEY)
        if index == 0 and recorded:
            state = recorded
            continue
        element = recorded or footer.content_hash
        if element is None:
            return None
        state = "parts-sha256:" + hashlib.sha256(f"{state}\n{element}".encode()).hexdigest()
    return state or None
