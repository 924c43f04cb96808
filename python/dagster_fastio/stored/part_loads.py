"""Loads of an appended key: its visible parts as one value of the input's type, as the parts
of one partition among several, or as the files of a lazy dataset or reference. Each reads one
listing's set of parts (``parts.consistent``). No Dagster import."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dagster_fastio.keys import TYPE_METADATA_KEY
from dagster_fastio.stored.files import StoredFile, StoredFiles
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.parts import KeyParts, Part, consistent, key_parts, parts_folder
from dagster_fastio.tables.handlers import TableType, table_type_named
from dagster_fastio.tables.reads import TableReads
from dagster_fastio.uris import PARQUET_SUFFIX, TABLE_SUFFIX, is_remote

__all__ = ["PartitionParts", "load_parts", "part_files", "partition_parts", "with_parts"]


class PartitionParts(list):  # type: ignore[type-arg]
    """The parts of one partition among several, each a part ``TableType.combine`` takes: the
    input flattens them into the other partitions' in order."""


def _stored_type(key: KeyParts, reads: TableReads) -> TableType:
    first = key.visible[0]
    footer = key.footers.get(first.name) or reads.footer(first.uri)
    return table_type_named((footer.schema.metadata or {}).get(TYPE_METADATA_KEY))


def _read_all(
    key: KeyParts,
    reads: TableReads,
    table_type: TableType,
    columns: Any,
    on_read: Callable[[Location], None] | None,
) -> list[Any]:
    def read(part: Part) -> Any:
        return table_type.read_part(part.uri, reads, columns)

    with ThreadPoolExecutor(reads.workers(len(key.visible)), "fastio-parts") as pool:
        loaded = list(pool.map(read, key.visible))
    if on_read is not None:
        for part in key.visible:
            on_read(part.location)
    return loaded


def load_parts(
    stem: Location,
    reads: TableReads,
    table_type: TableType | None,
    columns: Any,
    on_read: Callable[[Location], None] | None = None,
) -> Any:
    """The key's parts as one value of ``table_type`` (None: the type the parts were stored
    as), in append order; ``NoPartsError`` when the key has none."""

    def load(key: KeyParts) -> Any:
        chosen = table_type or _stored_type(key, reads)
        return chosen.combine(_read_all(key, reads, chosen, columns, on_read), reads, columns)

    return consistent(stem, reads.storage_options, load)


def partition_parts(
    stem: Location,
    reads: TableReads,
    table_type: TableType,
    columns: Any,
    on_read: Callable[[Location], None] | None = None,
) -> PartitionParts:
    """One partition's parts, for ``combine`` with the other partitions'."""
    return consistent(
        stem,
        reads.storage_options,
        lambda key: PartitionParts(_read_all(key, reads, table_type, columns, on_read)),
    )


def part_files(
    stem: Location,
    storage_options: dict[str, str] | None,
    partition_key: str | None = None,
    key: tuple[str, ...] = (),
) -> list[StoredFile]:
    """The key's visible parts as stored files of a dataset ([] when it has none). The set is
    one listing's; a compaction that deletes these parts before the dataset is scanned makes
    the scan fail rather than read another set (see the README's "Append")."""
    found = key_parts(parts_folder(stem), storage_options)
    return [StoredFile(part.uri, part.format, partition_key, key) for part in found.visible]


def with_parts(files: StoredFiles, reads: TableReads) -> StoredFiles:
    """``files`` with each absent file replaced by the parts appended under its stem (when
    there are any; an absent file without parts stays, for the dataset to report missing).
    Costs one existence check per file, and one listing per absent one."""

    def expand(file: StoredFile) -> list[StoredFile]:
        if reads.exists(file.uri):
            return [file]
        stem = file.uri
        for suffix in (TABLE_SUFFIX, PARQUET_SUFFIX):
            stem = stem.removesuffix(suffix)
        found = part_files(
            Location(stem, is_remote(stem)), reads.storage_options, file.partition_key, file.key
        )
        return found or [file]

    with ThreadPoolExecutor(reads.workers(len(files.files)), "fastio-parts") as pool:
        expanded = [found for group in pool.map(expand, files.files) for found in group]
    if expanded == list(files.files):
        return files
    return type(files)(expanded, files.key_columns, storage_options=files._storage_options)
