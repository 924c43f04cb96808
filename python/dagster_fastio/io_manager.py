"""FastIOManager: a drop-in for FilesystemIOManager that stores tables as Arrow IPC files.

The Dagster layer stays thin: it picks paths, converts between Python types and Arrow, and
reports metadata. Encoding, compression and file I/O are the Rust core's.
"""

from __future__ import annotations

import os
import pickle
import re
import time
import types
import typing
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import dagster as dg
import pyarrow as pa
from pydantic import Field, PrivateAttr

from dagster_fastio import _core
from dagster_fastio.api import WriteInfo, is_remote, open_writer, read, read_batches, write
from dagster_fastio.convert import polars_to_arrow, to_arrow_source

__all__ = ["PICKLE_SUFFIX", "TABLE_SUFFIX", "TYPE_METADATA_KEY", "FastIOManager", "read_pickle"]

TABLE_SUFFIX = ".arrow"
PICKLE_SUFFIX = ".pickle.zst"
# Schema metadata naming the Python type that was stored, so an unannotated input gets it back.
TYPE_METADATA_KEY = b"dagster_fastio.python_type"
COMPRESSION_METADATA_KEY = "fastio/compression"
COMPRESSIONS = ("zstd", "lz4", "none")
# zstd level for pickled objects: as fast as the table default.
PICKLE_ZSTD_LEVEL = 1

_ARROW_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")

PYARROW_TABLE = "pyarrow.Table"
PYARROW_READER = "pyarrow.RecordBatchReader"
PANDAS_FRAME = "pandas.DataFrame"
POLARS_FRAME = "polars.DataFrame"
POLARS_LAZY = "polars.LazyFrame"


def _type_name(cls: Any) -> str | None:
    """`module.Class` for the table types this manager converts, else None."""
    if not isinstance(cls, type):
        return None
    for klass in cls.__mro__:
        name = f"{klass.__module__.split('.')[0]}.{klass.__qualname__}"
        if name in (PYARROW_TABLE, PYARROW_READER, PANDAS_FRAME, POLARS_FRAME, POLARS_LAZY):
            return name
    return None


# ---------------------------------------------------------------------------------------------
# Paths, laid out as Dagster's UPathIOManager lays them out.


def _safe_segments(text: str) -> list[str]:
    """Splits a key on "/" into folder names that cannot leave the base folder, one way only.

    A ".." segment becomes "%2E%2E" and "." "%2E", the escapes Dagster's own path-based I/O
    managers use. A "/" that would leave an empty folder name (leading, doubled or trailing)
    is kept as "%2F" in the next name, so "/a" and "a", "a//b" and "a/b" stay apart. "%"
    itself becomes "%25", which makes the mapping injective: the key "%2E%2E" is stored as
    "%252E%252E", not where ".." is. Keys without "%", "." segments or empty segments keep
    FilesystemIOManager's paths.
    """
    parts = text.replace("%", "%25").split("/")
    segments, pending = [], ""
    for part in parts[:-1]:
        if part:
            segments.append(pending + part)
            pending = ""
        else:
            pending += "%2F"
    last = parts[-1]
    if last or segments or pending:
        segments.append(pending + (last or "%2F"))
    else:
        segments.append(last)
    return ["%2E%2E" if part == ".." else "%2E" if part == "." else part for part in segments]


def _partition_segments(partition_key: str) -> list[str]:
    if isinstance(partition_key, dg.MultiPartitionKey):
        by_dimension = partition_key.keys_by_dimension
        return [
            segment
            for name in sorted(by_dimension)
            for segment in _safe_segments(by_dimension[name])
        ]
    return _safe_segments(partition_key)


@dataclass(frozen=True, slots=True)
class _Location:
    """A place under the base: a local path, or an object URI whose key joins with "/"."""

    text: str
    remote: bool

    @staticmethod
    def base(text: str) -> _Location:
        if is_remote(text):
            scheme, _, rest = text.partition("://")
            if not rest.strip("/") and scheme.lower() != "memory":
                raise ValueError(
                    f"base_path {text!r} names no bucket or container: expected "
                    f"{scheme}://<bucket>[/<prefix>]"
                )
            return _Location(text.rstrip("/"), remote=True)
        if text.startswith("file://"):
            parsed = urlparse(text)
            if parsed.netloc not in ("", "localhost"):
                raise ValueError(f"{text!r} names another host; file:// URIs must be local")
            text = url2pathname(parsed.path)
        return _Location(text, remote=False)

    def joinpath(self, *segments: str) -> _Location:
        if self.remote:
            return _Location("/".join([self.text, *segments]), remote=True)
        return _Location(os.path.join(self.text, *segments), remote=False)

    def __str__(self) -> str:
        return self.text


def _with_suffix(stem: _Location, suffix: str) -> _Location:
    # Appending keeps dots in partition keys: "0.0-to-1.0" becomes "0.0-to-1.0.arrow".
    return _Location(stem.text + suffix, stem.remote)


# ---------------------------------------------------------------------------------------------
# Python objects to Arrow.


def _stored_type_of(obj: Any) -> str | None:
    """The table type name of an output, or None when it is to be pickled."""
    name = _type_name(type(obj))
    if name is not None:
        return name
    if isinstance(obj, pa.RecordBatch):
        return PYARROW_TABLE
    if hasattr(obj, "__arrow_c_stream__") and _exports_a_table(obj):
        return PYARROW_READER
    return None


def _exports_a_table(obj: Any) -> bool:
    """Whether an Arrow stream exporter streams tables (struct rows) rather than one column,
    as pandas and polars Series, pyarrow arrays and chunked arrays do."""
    if isinstance(obj, (pa.Array, pa.ChunkedArray)):
        return False
    if type(obj).__name__ == "Series" and type(obj).__module__.split(".")[0] in (
        "pandas",
        "polars",
    ):
        return False
    if not hasattr(obj, "__arrow_c_schema__"):
        return True
    try:
        pa.schema(obj)
    except (TypeError, ValueError, pa.ArrowException):
        return False
    return True


def _mark(schema: pa.Schema, stored_type: str) -> pa.Schema:
    return schema.with_metadata({**(schema.metadata or {}), TYPE_METADATA_KEY: stored_type})


def _unmark(table: pa.Table) -> pa.Table:
    metadata = dict(table.schema.metadata or {})
    if metadata.pop(TYPE_METADATA_KEY, None) is None:
        return table
    return table.replace_schema_metadata(metadata or None)


def _to_marked_arrow(obj: Any, stored_type: str) -> pa.Table | pa.RecordBatchReader:
    """Converts a table-like output to Arrow with its Python type recorded in the schema."""
    source = to_arrow_source(obj)
    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    if isinstance(source, pa.Table):
        return source.replace_schema_metadata(_mark(source.schema, stored_type).metadata)
    reader = pa.RecordBatchReader.from_stream(source)
    return pa.RecordBatchReader.from_batches(_mark(reader.schema, stored_type), reader)


# ---------------------------------------------------------------------------------------------
# Annotations to loaders.


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _dict_value_type(annotation: Any) -> tuple[bool, Any]:
    """(is a dict annotation, the annotation of its values)."""
    if annotation in (dict, Mapping, typing.Dict):  # noqa: UP006
        return True, Any
    origin = typing.get_origin(annotation)
    if origin in (dict, Mapping, typing.Dict):  # noqa: UP006
        args = typing.get_args(annotation)
        return True, args[1] if len(args) == 2 else Any
    return False, Any


def _table_as(table: pa.Table, wanted: str | None) -> Any:
    """Converts a loaded table to the wanted type (None: the type recorded when stored)."""
    stored = (table.schema.metadata or {}).get(TYPE_METADATA_KEY, b"").decode()
    table = _unmark(table)
    target = wanted or stored or PYARROW_TABLE
    if target == PANDAS_FRAME:
        return table.to_pandas()
    if target in (POLARS_FRAME, POLARS_LAZY):
        import polars as pl

        # A pandas index stored as a column is dropped, as `pl.from_pandas` drops it.
        index_columns = [name for name in table.column_names if _PANDAS_INDEX.fullmatch(name)]
        frame = pl.from_arrow(table.drop_columns(index_columns))
        return frame.lazy() if target == POLARS_LAZY else frame
    if target == PYARROW_READER:
        return table.to_reader()
    return table


class FastIOManager(dg.ConfigurableIOManager):
    """Stores tables as compressed Arrow IPC files and other objects as zstd pickles.

    A drop-in for ``FilesystemIOManager``: the same folder layout (plus a ``.arrow`` or
    ``.pickle.zst`` suffix), the same partition handling, and files any Arrow reader opens.
    """

    base_path: str | None = Field(
        default=None,
        description=(
            "Folder (or file:// URI) the outputs go to. Default: the Dagster instance's "
            "storage folder, where FilesystemIOManager writes."
        ),
    )
    compression: str | None = Field(
        default=None,
        description=(
            "Table compression: 'zstd' (smallest), 'lz4' (fastest) or 'none'. Default: 'lz4' "
            "on a local disk, 'zstd' on an object store (or when compression_level is set). "
            "Override per asset with definition metadata {'fastio/compression': 'lz4'}."
        ),
    )
    compression_level: int | None = Field(
        default=None,
        description="zstd level for tables (default 1, the fastest); setting it means zstd.",
    )
    part_size_mb: int | None = Field(
        default=None,
        description="Upload part size for object stores, in MiB (default 16, at least 5).",
    )
    max_concurrency: int | None = Field(
        default=None,
        description=(
            "Upload parts in flight per output, and upstream partitions loaded at once "
            "(default 8 each)."
        ),
    )
    memory_map: bool = Field(
        default=False,
        description=(
            "Memory-map local files instead of reading them: uncompressed tables then load "
            "without a copy, but another program truncating a file while its table is in use "
            "kills the process (SIGBUS). Off by default."
        ),
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Object-store settings in object_store's keys (aws_endpoint, aws_region, ...; "
            "values may be EnvVar), on top of the AWS_*, GOOGLE_* and AZURE_* environment."
        ),
    )

    _instance_storage: str | None = PrivateAttr(default=None)

    def __repr_args__(self) -> Any:
        # repr() and str() of the resource end up in logs and tracebacks: storage options show
        # their keys only, since any value may be a credential.
        for name, value in super().__repr_args__():
            if name == "storage_options" and value:
                value = {key: "***" for key in value}
            yield name, value

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.compression is not None and self.compression.lower() not in COMPRESSIONS:
            raise ValueError(
                f"unknown compression {self.compression!r}: expected 'zstd', 'lz4' or 'none'"
            )
        if context.instance is not None:
            self._instance_storage = context.instance.storage_directory()

    # -- paths ----------------------------------------------------------------------------

    def _base(self) -> _Location:
        base = self.base_path or self._instance_storage
        if base is None:
            raise dg.DagsterInvariantViolationError(
                "FastIOManager needs base_path when no Dagster instance is available"
            )
        return _Location.base(base)

    @property
    def _store_options(self) -> dict[str, str] | None:
        return dict(self.storage_options) or None

    @property
    def _part_size(self) -> int | None:
        return None if self.part_size_mb is None else self.part_size_mb << 20

    def _exists(self, location: _Location) -> bool:
        if not location.remote:
            return os.path.isfile(location.text)
        return _core.object_exists(location.text, self._store_options)

    def _delete(self, location: _Location) -> None:
        _core.delete_object(location.text, self._store_options)

    def _stem(self, context: dg.InputContext | dg.OutputContext) -> _Location:
        """The output's path without suffix or partition."""
        parts = context.asset_key.path if context.has_asset_key else context.get_identifier()
        segments = [segment for part in parts for segment in _safe_segments(part)]
        return self._base().joinpath(*segments)

    def _partition_stems(self, context: dg.InputContext | dg.OutputContext) -> dict[str, _Location]:
        stem = self._stem(context)
        return {
            key: stem.joinpath(*_partition_segments(key)) for key in context.asset_partition_keys
        }

    # -- output ---------------------------------------------------------------------------

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            context.log.debug("The output is None: nothing is stored.")
            return
        partitioned = context.has_asset_key and context.has_asset_partitions
        if partitioned:
            stems = self._partition_stems(context)
            if len(stems) != 1:
                raise dg.DagsterInvariantViolationError(
                    f"FastIOManager stores one partition per output, got {len(stems)} "
                    f"({', '.join(list(stems)[:3])}...): launch the backfill with a multi-run "
                    "backfill policy"
                )
            stem = next(iter(stems.values()))
            self._clear_unpartitioned_file(context, self._stem(context))
        else:
            stem = self._stem(context)
        stored_type = _stored_type_of(obj)
        data = obj
        if stored_type is not None and stored_type != POLARS_LAZY:
            try:
                data = _to_marked_arrow(obj, stored_type)
            except _ARROW_CONVERSION_ERRORS:
                if stored_type not in (PANDAS_FRAME, POLARS_FRAME):
                    raise
                # FilesystemIOManager would pickle it; so does a drop-in replacement. A frame is
                # converted whole before anything is written, so falling back is safe.
                context.log.warning(
                    f"{type(obj).__qualname__} output has columns Arrow cannot hold "
                    "(mixed Python objects?): stored as a zstd pickle instead of an Arrow table."
                )
                stored_type = None
        if stored_type is not None:
            metadata = self._write_table(context, data, stored_type, stem, partitioned)
            stale = _with_suffix(stem, PICKLE_SUFFIX)
        else:
            metadata = self._write_pickle(obj, stem)
            stale = _with_suffix(stem, TABLE_SUFFIX)
        # A type change (table <-> object) must not leave the old format behind to be loaded.
        self._delete(stale)
        context.add_output_metadata(metadata)

    def _clear_unpartitioned_file(self, context: dg.OutputContext, folder: _Location) -> None:
        # FilesystemIOManager stores an unpartitioned asset as a file without a suffix, exactly
        # where the partitioned asset needs its folder. A store has no folders: an object and
        # keys below its name can coexist, so there is nothing to clear there.
        if not folder.remote and os.path.isfile(folder.text):
            context.log.warning(
                f"Removing {folder}, left by a non-partitioned version of {context.asset_key}, "
                "to make room for the partitions' folder."
            )
            os.unlink(folder.text)

    def _compression_for(self, context: dg.OutputContext, path: _Location) -> str:
        chosen = (context.definition_metadata or {}).get(COMPRESSION_METADATA_KEY, self.compression)
        if chosen is None:
            # Measured (benches/RESULTS.md): on a local disk lz4 hands a table over fastest and
            # still stores a third of pickle's bytes; over a network the bytes are the cost.
            chosen = "zstd" if path.remote or self.compression_level is not None else "lz4"
        return str(chosen).lower()

    def _write_table(
        self,
        context: dg.OutputContext,
        data: Any,
        stored_type: str,
        stem: _Location,
        partitioned: bool,
    ) -> dict[str, Any]:
        path = _with_suffix(stem, TABLE_SUFFIX)
        compression = self._compression_for(context, path)
        level = self.compression_level if compression == "zstd" else None
        if stored_type == POLARS_LAZY:
            info, schema = self._write_lazy_frame(data, path, compression, level)
        else:
            schema = data.schema
            info = write(
                data,
                path.text,
                compression=compression,  # type: ignore[arg-type]
                level=level,
                storage_options=self._store_options,
                part_size=self._part_size,
                max_concurrency=self.max_concurrency,
            )
        row_count_key = "dagster/partition_row_count" if partitioned else "dagster/row_count"
        return {
            row_count_key: dg.MetadataValue.int(info.rows),
            "dagster/column_schema": dg.TableSchema(
                columns=[
                    dg.TableColumn(name=field.name, type=str(field.type))
                    for field in schema
                    if not field.name.startswith("__index_level_")
                ]
            ),
            **_storage_metadata(info, path),
        }

    def _write_lazy_frame(
        self, frame: Any, path: _Location, compression: str, level: int | None
    ) -> tuple[WriteInfo, pa.Schema]:
        # Collected batch by batch by polars' streaming engine, straight into the writer. The
        # schema comes from the first batch, so it is the one the batches really have.
        batches = (polars_to_arrow(batch) for batch in frame.collect_batches())
        first = next(batches, None)
        if first is None:
            import polars as pl

            # Nothing came out: an empty frame of the declared schema, without running the
            # query a second time.
            first = polars_to_arrow(pl.DataFrame(schema=frame.collect_schema()))
        schema = _mark(first.schema, POLARS_LAZY)
        with open_writer(
            path.text,
            schema,
            compression,  # type: ignore[arg-type]
            storage_options=self._store_options,
            part_size=self._part_size,
            level=level,
            max_concurrency=self.max_concurrency,
        ) as writer:
            writer.write(first)
            for batch in batches:
                writer.write(batch)
        assert writer.info is not None
        return writer.info, schema

    def _write_pickle(self, obj: Any, stem: _Location) -> dict[str, Any]:
        path = _with_suffix(stem, PICKLE_SUFFIX)
        start = time.perf_counter()
        data = pickle.dumps(obj, protocol=5)
        stored, parts = _core.write_zstd_file(
            path.text,
            data,
            PICKLE_ZSTD_LEVEL,
            storage_options=self._store_options,
            part_size=self._part_size,
            max_concurrency=self.max_concurrency,
        )
        info = WriteInfo(
            uri=path.text,
            rows=0,
            batches=0,
            raw_bytes=len(data),
            stored_bytes=stored,
            parts=parts,
            seconds=time.perf_counter() - start,
            compression="zstd",
        )
        return {"python_type": type(obj).__qualname__, **_storage_metadata(info, path)}

    # -- input ----------------------------------------------------------------------------

    def load_input(self, context: dg.InputContext) -> Any:
        annotation, optional = _strip_optional(_input_annotation(context))
        is_dict, value_annotation = _dict_value_type(annotation)
        columns = (context.definition_metadata or {}).get("columns")
        if not (context.has_asset_key and context.has_asset_partitions):
            return self._load_one(self._stem(context), annotation, columns, optional)
        stems = self._partition_stems(context)
        if not stems:
            return {} if is_dict else None
        if len(stems) == 1 and not is_dict:
            return self._load_one(next(iter(stems.values())), annotation, columns, optional)
        wanted = None if is_dict else _type_name(annotation)
        if wanted == POLARS_LAZY:
            return self._scan_partitions(context, stems, columns)
        loaded = self._load_partitions(
            context, stems, wanted or value_annotation, columns, as_table=wanted is not None
        )
        if wanted is None:
            return loaded
        if not loaded:
            raise FileNotFoundError(
                f"none of the {len(stems)} partitions of {context.asset_key.to_user_string()} "
                f"is stored under {self._stem(context)}"
            )
        return _table_as(pa.concat_tables(loaded.values(), promote_options="default"), wanted)

    def _load_partitions(
        self,
        context: dg.InputContext,
        stems: dict[str, _Location],
        annotation: Any,
        columns: list[str] | None,
        as_table: bool,
    ) -> dict[str, Any]:
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions"))

        def load(stem: _Location) -> Any:
            if as_table:
                return self._read_table(stem, columns)
            return self._load_one(stem, annotation, columns, optional=False)

        workers = max(1, min(len(stems), self.max_concurrency or 8))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fastio-load") as pool:
            futures = {key: pool.submit(load, stem) for key, stem in stems.items()}
            loaded: dict[str, Any] = {}
            for key, future in futures.items():
                try:
                    loaded[key] = future.result()
                except FileNotFoundError:
                    if not allow_missing:
                        raise
                    context.log.warning(
                        f"Skipped missing partition {key}: the input allows missing partitions."
                    )
        return loaded

    def _scan_partitions(
        self, context: dg.InputContext, stems: dict[str, _Location], columns: list[str] | None
    ) -> Any:

        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions"))
        paths = []
        for key, stem in stems.items():
            path = _with_suffix(stem, TABLE_SUFFIX)
            if self._exists(path):
                paths.append(path.text)
            elif not allow_missing:
                raise FileNotFoundError(
                    f"partition {key} of {context.asset_key}: no file at {path}"
                )
        return self._scan(paths, columns)

    def _scan(self, paths: list[str], columns: list[str] | None) -> Any:
        import polars as pl

        if not any(is_remote(path) for path in paths):
            frame = pl.scan_ipc(paths)
            return frame.select(columns) if columns else frame
        # From a store, the lazy frame reads through this manager's own reader when collected,
        # so memory:// and the storage options work as for every other input.
        options = self._store_options
        workers = max(1, min(len(paths), self.max_concurrency or 8))

        def load() -> pl.DataFrame:
            with ThreadPoolExecutor(workers, thread_name_prefix="fastio-scan") as pool:
                tables = list(pool.map(lambda p: read(p, columns, options), paths))
            table = _unmark(pa.concat_tables(tables, promote_options="default"))
            return pl.DataFrame(pl.from_arrow(table))

        def schema() -> Any:
            first = read_batches(paths[0], columns, options).schema
            return pl.DataFrame(pl.from_arrow(first.empty_table())).schema

        return pl.defer(load, schema=schema)

    def _read_table(self, stem: _Location, columns: list[str] | None) -> pa.Table:
        path = _with_suffix(stem, TABLE_SUFFIX)
        try:
            return read(
                path.text,
                columns=columns,
                storage_options=self._store_options,
                memory_map=self.memory_map,
            )
        except FileNotFoundError:
            raise FileNotFoundError(f"no table stored at {path}") from None

    def _read_as(self, path: _Location, wanted: str | None, columns: list[str] | None) -> Any:
        if wanted == PYARROW_READER:
            reader = read_batches(
                path.text,
                columns=columns,
                storage_options=self._store_options,
                memory_map=self.memory_map,
            )
            schema = _unmark(reader.schema.empty_table()).schema
            return pa.RecordBatchReader.from_batches(schema, reader)
        table = read(
            path.text,
            columns=columns,
            storage_options=self._store_options,
            memory_map=self.memory_map,
        )
        return _table_as(table, wanted)

    def _load_one(
        self, stem: _Location, annotation: Any, columns: list[str] | None, optional: bool
    ) -> Any:
        table_path = _with_suffix(stem, TABLE_SUFFIX)
        pickle_path = _with_suffix(stem, PICKLE_SUFFIX)
        # Each read reports absence itself, so a store is asked once per format, not twice.
        wanted = _type_name(annotation)
        if wanted == POLARS_LAZY:
            # A lazy frame reads nothing before it is collected: existence is checked here.
            if self._exists(table_path):
                return self._scan([table_path.text], columns)
        else:
            try:
                return self._read_as(table_path, wanted, columns)
            except FileNotFoundError:
                pass
        try:
            return read_pickle(pickle_path.text, self._store_options)
        except FileNotFoundError:
            pass
        if optional:
            return None
        raise FileNotFoundError(
            f"nothing stored at {table_path} (nor {os.path.basename(pickle_path.text)}): has the "
            "upstream output been materialized?"
        )


def _input_annotation(context: dg.InputContext) -> Any:
    # Dagster's testing helpers build input contexts without a type, and the property then
    # raises rather than answering None: a missing type means Any, as for FilesystemIOManager.
    try:
        return context.dagster_type.typing_type
    except dg.DagsterInvariantViolationError:
        return Any


def read_pickle(uri: str | os.PathLike[str], storage_options: dict[str, str] | None = None) -> Any:
    """The object stored in a ``.pickle.zst`` file or object."""
    # The decompressed bytes arrive as a uint8 Arrow array over Rust's buffer; pickle reads
    # them through the buffer protocol without another copy.
    data = _core.read_zstd_file(os.fspath(uri), storage_options)
    return pickle.loads(pa.array(data).buffers()[1])


def _storage_metadata(info: WriteInfo, path: _Location) -> dict[str, Any]:
    return {
        "uri": dg.MetadataValue.path(path.text),
        "raw_bytes": dg.MetadataValue.int(info.raw_bytes),
        "stored_bytes": dg.MetadataValue.int(info.stored_bytes),
        "compression": dg.MetadataValue.text(info.compression),
        "compression_ratio": dg.MetadataValue.float(round(info.compression_ratio, 3)),
        "write_seconds": dg.MetadataValue.float(round(info.seconds, 4)),
        "throughput_mb_s": dg.MetadataValue.float(round(info.throughput_mb_s, 1)),
        "parts": dg.MetadataValue.int(info.parts),
    }
