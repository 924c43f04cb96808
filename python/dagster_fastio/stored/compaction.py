"""Compaction of an appended key: its visible parts rewritten as one compacted part that
records the names it supersedes, then those parts deleted; and the fold of a key's one file
into its parts when a key written by an overwrite is first appended to.

The protocol (see ``stored.parts`` for how loads resolve it):

1. List the parts folder and resolve it: the visible parts, in order.
2. Write their rows, in that order, as ``<time of the first>-<random>.compacted.<ext>``; its
   footer records every name the listing held (``dagster_fastio.supersedes``). The write is
   atomic (temporary file and rename, one PUT or one multipart upload).
3. Delete every listed part.

A reader listing before step 2 completes holds the old parts (and lists again if step 3
deletes one before it is read); a reader listing after holds the compacted part, whose record
hides the old parts still listed. No listing holds both sets as visible, and none holds
neither. A compaction that dies after step 2 leaves superseded parts that loads skip and the
next compaction (or ``fastio clean --parts-older-than``) deletes. No Dagster import.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.keys import HOLDS_KEY, NEWEST_PART_KEY, PARTS_HASH_KEY, SUPERSEDES_KEY
from dagster_fastio.options import WriteOptions
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.parts import (
    KeyParts,
    Part,
    consistent,
    holds_of,
    key_hash,
    key_parts,
    new_part,
    parts_folder,
)

__all__ = ["Compaction", "compact", "fold_file", "write_compacted"]

FOLD_ATTEMPTS = 4
"""Folds of a key's file tried when an overwrite keeps replacing it meanwhile."""


@dataclass(frozen=True, slots=True)
class Compaction:
    """What a compaction did: the part written (None when there was nothing to rewrite), the
    parts it replaced and the bytes they held, and the rows of the key."""

    part: str | None
    replaced: int
    replaced_bytes: int
    rows: int
    stored_bytes: int


def write_compacted(
    sources: list[str],
    folder: Location,
    superseded: list[str],
    newest_ns: int,
    options: WriteOptions,
    storage_options: dict[str, str] | None,
    *,
    time_ns: int,
    token: str | None = None,
    parts_hash: str | None = None,
    holds: list[str] | None = None,
) -> tuple[Part, api.WriteInfo]:
    """The rows of ``sources`` (table files of one schema), in order, written as one compacted
    part in ``folder`` recording ``superseded``; ``token`` fixes the random half of its name
    (two folds of the same file then write the same part)."""
    part = new_part(folder, options.format, compacted=True, time_ns=time_ns)
    if token is not None:
        moment, rest = part.name.split("-", 1)
        name = f"{moment}-{token[:16]}{rest[16:]}"
        parsed = Part.parse(folder, name)
        assert parsed is not None, name
        part = parsed
    metadata = {
        **(options.metadata or {}),
        SUPERSEDES_KEY: json.dumps(sorted(superseded)),
        NEWEST_PART_KEY: str(newest_ns),
    }
    if parts_hash is not None:
        metadata[PARTS_HASH_KEY] = parts_hash
    # A fold holds no appended part: it holds itself, so that no other compaction's set of
    # parts is taken to hold it whole.
    metadata[HOLDS_KEY] = json.dumps(holds if holds is not None else [part.name])
    options = dataclasses.replace(options, metadata=metadata, content_hash=True)
    first = api.read_batches(sources[0], None, storage_options)
    schema = first.schema
    with api.Writer.with_options(part.uri, schema, options, storage_options) as writer:
        for index, uri in enumerate(sources):
            reader = first if index == 0 else api.read_batches(uri, None, storage_options)
            for batch in reader:
                # Parts share their columns (an append checks it); their schema metadata (a
                # pandas frame's index description) is the first part's.
                writer.write(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
    assert writer.info is not None
    return part, writer.info


def compact(
    stem: Location,
    options_for: Callable[[str], WriteOptions],
    storage_options: dict[str, str] | None,
) -> Compaction:
    """Rewrites the visible parts of ``stem``'s key as one compacted part (in the last part's
    format, with ``options_for(format)``), then deletes every part the listing held. A key of
    one visible part only loses its superseded leftovers."""

    def run(key: KeyParts) -> Compaction:
        visible = list(key.visible)
        replaced_bytes = sum(part.size for part in key.listed)
        if len(visible) == 1:
            stale = list(key.superseded)
            _delete(stale, storage_options)
            footer = key.footers.get(visible[0].name) or api.read_footer(
                visible[0].uri, storage_options
            )
            return Compaction(
                None,
                len(stale),
                sum(p.size for p in stale),
                footer.rows or 0,
                footer.stored_bytes,
            )
        newest = max(key.newest_ns(part) for part in visible)
        footers = _footers(key, storage_options)
        part, info = write_compacted(
            [p.uri for p in visible],
            key.folder,
            key.names,
            newest,
            options_for(visible[-1].format),
            storage_options,
            time_ns=visible[0].time_ns,
            parts_hash=key_hash(footers),
            holds=holds_of(key, visible),
        )
        _delete(list(key.listed), storage_options)
        return Compaction(part.uri, len(key.listed), replaced_bytes, info.rows, info.stored_bytes)

    return consistent(stem, storage_options, run)


class WriteOptionsFor:
    """The write options of a compacted part in a format, for ``compact``: lz4 for IPC and
    zstd for Parquet unless ``compression`` says otherwise."""

    def __init__(self, compression: str | None = None, level: int | None = None, **rest: object):
        self._compression = compression
        self._level = level
        self._rest = rest

    def __call__(self, format: str) -> WriteOptions:
        compression = self._compression or ("zstd" if format == "parquet" else "lz4")
        return WriteOptions(
            compression=compression,
            level=self._level if compression == "zstd" else None,
            format=format,
            **self._rest,  # type: ignore[arg-type]
        )


def fold_file(
    stem: Location,
    file: api.Footer,
    options: WriteOptions,
    storage_options: dict[str, str] | None,
) -> bool:
    """Moves the key's one file (``file``, an overwrite's) into its parts folder as the first
    part, so that appends can follow it; True when it did, False when the file was gone.

    The file is rewritten as a compacted part named for its content hash (two runs folding the
    same file write the same part) recording every part listed before (left over under the
    file, which hid them). The file is deleted only if it still holds the content folded: an
    overwrite that replaced it meanwhile is folded in turn, never lost."""
    folder = parts_folder(stem)
    for _ in range(FOLD_ATTEMPTS):
        # Listed before the file is read: every part listed then was hidden by the file.
        listed = key_parts(folder, storage_options)
        try:
            current = api.read_footer(file.uri, storage_options)
        except FileNotFoundError:
            return False
        token = (current.content_hash or "").rpartition(":")[2] or None
        part, _ = write_compacted(
            [current.uri],
            folder,
            listed.names,
            time.time_ns(),
            dataclasses.replace(options, format=current.format),
            storage_options,
            time_ns=0,
            token=token if token and len(token) >= 16 else None,
        )
        try:
            again = api.read_footer(file.uri, storage_options)
        except FileNotFoundError:
            again = None
        if again is None or _same(again, current):
            api.delete(file.uri, storage_options)
            _delete([p for p in listed.listed if p.name != part.name], storage_options)
            return True
        api.delete(part.uri, storage_options)  # an overwrite came in: fold the new file
        file = again
    raise RuntimeError(
        f"{file.uri} kept being replaced while it was moved into {folder}: is an overwrite "
        "running in a loop against an append of the same key?"
    )


def _footers(key: KeyParts, storage_options: dict[str, str] | None) -> list[api.Footer]:
    def footer(part: Part) -> api.Footer:
        return key.footers.get(part.name) or api.read_footer(part.uri, storage_options)

    workers = max(1, min(len(key.visible), 8))
    with ThreadPoolExecutor(workers, thread_name_prefix="fastio-parts") as pool:
        return list(pool.map(footer, key.visible))


def _same(a: api.Footer, b: api.Footer) -> bool:
    if a.content_hash and b.content_hash:
        return a.content_hash == b.content_hash and a.metadata == b.metadata
    return a.metadata == b.metadata and a.stored_bytes == b.stored_bytes


def _delete(parts: list[Part], storage_options: dict[str, str] | None) -> None:
    if parts:
        api.delete_all([part.uri for part in parts], storage_options)
