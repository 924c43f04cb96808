"""Appends: a table stored as a new part of its key (``stored.parts``), after its columns are
checked against the parts already there; an append whose content is the last part's is
skipped. Also the key's figures after an append (rows, parts, content hash), and the parts of
an overwritten key, which the overwrite removes. No Dagster import."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.errors import SchemaMismatchError
from dagster_fastio.stored.compaction import fold_file
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.parts import (
    CONSISTENT_ATTEMPTS,
    KeyParts,
    Part,
    consistent,
    key_hash,
    key_parts,
    new_part,
    parts_folder,
)
from dagster_fastio.stored.storage import Storage
from dagster_fastio.stored.target import TableTarget
from dagster_fastio.tables.handlers import TableType, is_pandas_index_column

__all__ = [
    "Appended",
    "KeyFigures",
    "append_table",
    "check_columns",
    "key_figures",
    "parts_to_replace",
    "prepare_append",
]


@dataclass(frozen=True, slots=True)
class KeyFigures:
    """An appended key as one listing shows it."""

    rows: int
    parts: int
    content_hash: str | None
    """A hash over the parts' content hashes in append order (None when a part has none)."""
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class Appended:
    """What an append stored: the write (``info.written`` False when it was skipped), the
    schema written, and the key afterwards."""

    info: api.WriteInfo
    schema: pa.Schema
    key: KeyFigures


def parts_to_replace(storage: Storage, stem: Location) -> list[Location]:
    """The parts an overwrite of ``stem`` makes obsolete, listed before it writes (so a part
    appended after the overwrite's file appeared is never among them)."""
    return [part.location for part in key_parts(parts_folder(stem), storage.storage_options).listed]


def prepare_append(storage: Storage, stem: Location) -> tuple[KeyParts, api.Footer | None]:
    """The key's parts and the last one's footer, once the key's file (an overwrite's, if
    any) is folded into them as their first part."""
    for _ in range(CONSISTENT_ATTEMPTS):
        file = storage.stored_footer(stem)
        if file is not None:
            options = storage.table_target(stem.table, None, format=file.format).options
            fold_file(stem, file, options, storage.storage_options)
        try:
            key = key_parts(parts_folder(stem), storage.storage_options)
            last = key.visible[-1] if key.visible else None
            footer = None
            if last is not None:
                footer = key.footers.get(last.name) or storage.footer(last.location)
                if footer is None:  # compacted away since the listing
                    continue
            return key, footer
        except FileNotFoundError:
            continue
    raise FileNotFoundError(f"the parts under {parts_folder(stem)} kept changing while listed")


def check_columns(stored: pa.Schema, appended: pa.Schema, where: str) -> None:
    """``SchemaMismatchError`` naming the columns that differ between the parts ``stored`` and
    the table ``appended`` (names and types; metadata and order of equal columns aside)."""
    old = {f.name: f.type for f in stored}
    new = {f.name: f.type for f in appended}
    added = [name for name in new if name not in old and not is_pandas_index_column(name)]
    missing = [name for name in old if name not in new and not is_pandas_index_column(name)]
    retyped = [
        f"{name} ({old[name]} -> {new[name]})"
        for name in new
        if name in old and not old[name].equals(new[name])
    ]
    order_differs = [n for n in old if n in new] != [n for n in new if n in old]
    if not (added or missing or retyped or order_differs):
        return
    said = []
    if added:
        said.append(f"added {added}")
    if missing:
        said.append(f"missing {missing}")
    if retyped:
        said.append(f"retyped {retyped}")
    if order_differs and not said:
        said.append(f"in another order ({list(new)}, stored {list(old)})")
    raise SchemaMismatchError(
        f"cannot append to {where}: its parts have other columns than this table's: "
        f"{'; '.join(said)}. Nothing was written; overwrite the key (write_mode 'overwrite') "
        "to change its columns."
    )


def append_table(
    storage: Storage,
    stem: Location,
    table_type: TableType,
    obj: Any,
    compression: str | None,
    format: str,
    entries: Mapping[str, str],
) -> Appended:
    """Stores ``obj`` as a new part of ``stem``'s key."""
    key, last = prepare_append(storage, stem)
    part = new_part(key.folder, format)
    target = storage.table_target(part.location, compression, entries, last, format)
    checked_write, checked_open = _checked(target, last, str(key.folder))
    info, schema = table_type.write(obj, checked_write, checked_open)
    if not info.written and key.visible:
        # The last part holds this content: nothing was written, the metadata points at it.
        info = _at(info, key.visible[-1].uri)
    return Appended(info, schema, key_figures(storage, stem))


def _checked(
    target: TableTarget, last: api.Footer | None, where: str
) -> tuple[Callable[[Any], api.WriteInfo], Callable[[pa.Schema], api.Writer]]:
    def write(data: Any) -> api.WriteInfo:
        if last is not None:
            check_columns(last.schema, data.schema, where)
        return target.write(data)

    def open_writer(schema: pa.Schema) -> api.Writer:
        if last is not None:
            check_columns(last.schema, schema, where)
        return target.open_writer(schema)

    return write, open_writer


def _at(info: api.WriteInfo, uri: str) -> api.WriteInfo:
    return dataclasses.replace(info, uri=uri)


def key_figures(storage: Storage, stem: Location) -> KeyFigures:
    """The rows, parts, content hash and bytes of the key, from its parts' footers."""

    def figures(key: KeyParts) -> KeyFigures:
        def footer(part: Part) -> api.Footer:
            found = key.footers.get(part.name)
            return found or api.read_footer(part.uri, storage.storage_options)

        workers = storage.reads.workers(len(key.visible))
        with ThreadPoolExecutor(workers, thread_name_prefix="fastio-parts") as pool:
            footers = list(pool.map(footer, key.visible))
        return KeyFigures(
            rows=sum(f.rows or 0 for f in footers),
            parts=len(footers),
            content_hash=key_hash(footers),
            stored_bytes=sum(f.stored_bytes for f in footers),
        )

    return consistent(stem, storage.storage_options, figures)
