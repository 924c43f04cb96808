"""pyarrow Datasets over stored files: one ``FileSystemDataset`` per format, each file's
partition expression being its key values, so ``dataset.to_table(filter=ds.field(
"partition_key") == "a")`` (or a scanner, ``get_fragments(filter=...)``) opens only the files
that can match.

Local files and ``s3://`` objects (through pyarrow's S3FileSystem, built from the storage
options) are supported; other stores raise ``ValueError`` naming what to use instead. No
Dagster import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from dagster_fastio.keys import DATASET_METADATA_KEY
from dagster_fastio.options import FORMATS
from dagster_fastio.stored.files import (
    OnMissing,
    StoredFile,
    StoredFiles,
    first_stored_schema,
    projected,
)
from dagster_fastio.stored.filesystems import arrow_filesystem
from dagster_fastio.tables.reads import TableReads
from dagster_fastio.uris import is_parquet_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    import pyarrow.dataset as ds

__all__ = ["input_dataset", "stored_dataset"]


def _file_dataset(
    files: Sequence[StoredFile],
    key_columns: Sequence[str],
    schema: pa.Schema,
    format: str,
    filesystem: Any,
    paths: Sequence[str],
) -> ds.FileSystemDataset:
    """The dataset of ``files`` (at ``paths`` in ``filesystem``), all of one ``format``."""
    import pyarrow.dataset as ds

    expressions = []
    for file in files:
        expression = ds.scalar(True)
        for name, value in zip(key_columns, file.key, strict=True):
            expression = expression & (ds.field(name) == value)
        expressions.append(expression)
    return ds.FileSystemDataset.from_paths(
        list(paths),
        schema=schema,
        format=ds.ParquetFileFormat() if format == "parquet" else ds.IpcFileFormat(),
        filesystem=filesystem,
        partitions=expressions,
    )


def stored_dataset(
    table: StoredFiles,
    storage_options: Mapping[str, str] | None,
    columns: Sequence[str] | None = None,
) -> ds.Dataset:
    """A Dataset over every file of ``table``, its schema the footers' (``table.schema``):
    Arrow IPC and Parquet files together make a union of one dataset per format, with the same
    schema."""
    import pyarrow.dataset as ds

    schema = table.schema
    if columns is not None:
        missing = [name for name in columns if name not in table.stored_schema.names]
        if missing:
            raise ValueError(f"no column named {missing}; the columns are {schema.names}")
        keep = [*columns, *table.key_columns]
        schema = pa.schema([schema.field(name) for name in keep], metadata=schema.metadata)
    children = []
    for format in FORMATS:
        files = [file for file in table.files if file.format == format]
        if not files:
            continue
        filesystem, paths = arrow_filesystem(
            [file.uri for file in files],
            storage_options,
            instead="read the files with dagster_fastio.read, or store them on a local disk or S3",
        )
        children.append(_file_dataset(files, table.key_columns, schema, format, filesystem, paths))
    if not children:
        raise FileNotFoundError("no table file is stored")
    return children[0] if len(children) == 1 else ds.dataset(children)


def input_dataset(
    parts: StoredFiles,
    reads: TableReads,
    columns: Sequence[str] | None = None,
    *,
    allow_missing: bool = False,
    on_missing: OnMissing = lambda uri: None,
) -> ds.Dataset:
    """The Dataset an input annotated ``pyarrow.dataset.Dataset`` gets over the partitions'
    files: the first stored partition's schema (``columns`` only, when given), plus the key
    columns; a partition missing a column reads it as null, as pyarrow's datasets do. A missing
    file raises ``FileNotFoundError``, or is reported and left out when ``allow_missing``."""
    import pyarrow.fs as pafs

    uris = parts.uris
    filesystem, paths = arrow_filesystem(
        uris,
        reads.storage_options,
        reads.memory_map,
        instead=(
            f"annotate the input pl.LazyFrame with input metadata "
            f"{{{DATASET_METADATA_KEY!r}: True}} (read through dagster-fastio's own reader, "
            "with the same key columns and pruning), or pa.Table"
        ),
    )
    stored, first = first_stored_schema(parts, reads, allow_missing, on_missing)
    stored = projected(stored, columns, parts.key_columns)
    schema = pa.schema(
        [*stored, *(pa.field(name, pa.string()) for name in parts.key_columns)],
        metadata=stored.metadata,
    )
    chosen = list(range(first, len(paths)))
    if allow_missing:
        # pyarrow cannot skip a file once it is in the dataset: absence is asked first, in one
        # call for all files (a stat each, or a HEAD each on a store).
        infos = filesystem.get_file_info([paths[index] for index in chosen])
        absent = pafs.FileType.NotFound
        missing = {i for i, info in zip(chosen, infos, strict=True) if info.type == absent}
        for index in missing:
            on_missing(uris[index])
        chosen = [index for index in chosen if index not in missing]
    format = "parquet" if all(is_parquet_path(uri) for uri in uris) else "ipc"
    return _file_dataset(
        [parts.files[index] for index in chosen],
        parts.key_columns,
        schema,
        format,
        filesystem,
        [paths[index] for index in chosen],
    )
