"""The Python table types the I/O manager stores as Arrow, one handler per type.

A handler knows the type name recorded in the stored schema, how an output becomes Arrow (or
streams into a writer), how a table or a stored location comes back as the type, and whether
an output Arrow cannot hold may be pickled instead. Supporting another type is adding one
handler to ``TABLE_TYPES``. Handlers are given the writes and reads they make (functions and
``TableReads``), never the storage that calls them. No Dagster import.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from dagster_fastio.api import WriteInfo, Writer
from dagster_fastio.api.convert import polars_to_arrow, to_arrow_source
from dagster_fastio.keys import TYPE_METADATA_KEY
from dagster_fastio.tables.pandas_loads import load_frame
from dagster_fastio.tables.reads import TableReads
from dagster_fastio.uris import is_parquet_path, is_remote

__all__ = [
    "ARROW_CONVERSION_ERRORS",
    "TABLE_TYPES",
    "TableType",
    "WriteTable",
    "is_pandas_index_column",
    "load_stored_type",
    "named_in_mro",
    "table_type_named",
    "table_type_of",
]

WriteTable = Callable[[pa.Table | pa.RecordBatchReader], WriteInfo]
"""Stores a table (or a stream of batches) at the output's location."""
OpenWriter = Callable[[pa.Schema], Writer]
"""Opens a writer at the output's location, for batches streamed one at a time."""

ARROW_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")


def is_pandas_index_column(name: str) -> bool:
    """Whether a column holds a pandas index, which polars inputs leave out."""
    return _PANDAS_INDEX.fullmatch(name) is not None


def _mark(schema: pa.Schema, name: str) -> pa.Schema:
    return schema.with_metadata({**(schema.metadata or {}), TYPE_METADATA_KEY: name.encode()})


def _unmark(table: pa.Table) -> pa.Table:
    metadata = dict(table.schema.metadata or {})
    if metadata.pop(TYPE_METADATA_KEY, None) is None:
        return table
    return table.replace_schema_metadata(metadata or None)


def _unmark_schema(schema: pa.Schema) -> pa.Schema:
    metadata = dict(schema.metadata or {})
    if metadata.pop(TYPE_METADATA_KEY, None) is None:
        return schema
    return schema.with_metadata(metadata)


def _concat(tables: list[pa.Table]) -> pa.Table:
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")


# ---------------------------------------------------------------------------------------------
# The handlers.


class TableType:
    """A Python table type stored as Arrow: the base handler converts eagerly and reads whole
    tables; a handler overrides what its type does differently."""

    name: str
    """``<top-level module>.<class>``, recorded in the stored schema."""
    may_pickle: bool = False
    """Whether an output with columns Arrow cannot hold is pickled instead, as
    FilesystemIOManager would store it."""

    def stores(self, obj: Any) -> bool:
        """Whether this handler stores ``obj``, which no handler matched by class name."""
        return False

    # -- output -----------------------------------------------------------------------------

    def to_arrow(self, obj: Any) -> pa.Table | pa.RecordBatchReader:
        """The output as Arrow with this type's name recorded in the schema."""
        source = to_arrow_source(obj)
        if isinstance(source, pa.RecordBatch):
            source = pa.Table.from_batches([source])
        if isinstance(source, pa.Table):
            return source.replace_schema_metadata(_mark(source.schema, self.name).metadata)
        reader = pa.RecordBatchReader.from_stream(source)
        return pa.RecordBatchReader.from_batches(_mark(reader.schema, self.name), reader)

    def to_stream(self, obj: Any) -> pa.Table | pa.RecordBatchReader:
        """The output as Arrow, streamed where the type streams (nothing collected)."""
        return self.to_arrow(obj)

    def write(
        self, obj: Any, write: WriteTable, open_writer: OpenWriter
    ) -> tuple[WriteInfo, pa.Schema]:
        """Stores the output through ``write`` (or a writer ``open_writer`` opens); returns
        what was written and the schema it was written with."""
        # A frame is converted whole before anything is written, so a conversion error leaves
        # nothing behind and the manager may still pickle it.
        data = self.to_arrow(obj)
        return write(data), data.schema

    # -- input ------------------------------------------------------------------------------

    def from_table(self, table: pa.Table) -> Any:
        """A loaded table (its type name already removed) as this type."""
        return table

    def read(self, uri: str, reads: TableReads, columns: list[str] | None) -> Any:
        """The table stored at ``uri`` as this type; ``FileNotFoundError`` when absent."""
        return self.combine([self.read_part(uri, reads, columns)], reads, columns)

    def read_part(self, uri: str, reads: TableReads, columns: list[str] | None) -> Any:
        """One of several partitions, to be combined; ``FileNotFoundError`` when absent."""
        try:
            return reads.read(uri, columns)
        except FileNotFoundError:
            raise FileNotFoundError(f"no table stored at {uri}") from None

    def combine(self, parts: list[Any], reads: TableReads, columns: list[str] | None) -> Any:
        """The parts ``read_part`` (or ``part_of_object``) loaded, as one value of this type."""
        return self.from_table(_unmark(_concat(parts)))

    def from_object(self, obj: Any, columns: list[str] | None) -> Any:
        """An object a replaced manager pickled, as this type: a table of another type is
        converted through Arrow as a stored file would be; anything else is returned as it is,
        as the replaced manager returned it."""
        stored = table_type_of(obj)
        if stored is None or (stored is self and not columns):
            return obj
        return self.from_table(_table_of(stored, obj, columns))

    def part_of_object(self, obj: Any, columns: list[str] | None) -> Any:
        """An object a replaced manager pickled for one of several partitions, as a part
        ``combine`` takes."""
        stored = table_type_of(obj)
        if stored is None:
            raise TypeError(
                f"a partition holds a pickled {type(obj).__qualname__}, not a table: it cannot "
                f"be combined into one {self.name}; annotate the input as a dict to load each "
                "partition as it was stored"
            )
        return _table_of(stored, obj, columns)


def _table_of(stored: TableType, obj: Any, columns: list[str] | None) -> pa.Table:
    """A table object as an Arrow table, without the type mark, projected to ``columns``."""
    data = stored.to_arrow(obj)
    table = _unmark(data if isinstance(data, pa.Table) else data.read_all())
    return table.select(columns) if columns else table


class ArrowTable(TableType):
    name = "pyarrow.Table"

    def stores(self, obj: Any) -> bool:
        return isinstance(obj, pa.RecordBatch)


class ArrowReader(TableType):
    name = "pyarrow.RecordBatchReader"

    def stores(self, obj: Any) -> bool:
        # Any other Arrow stream exporter, unless it streams one column rather than tables.
        return hasattr(obj, "__arrow_c_stream__") and _exports_a_table(obj)

    def from_table(self, table: pa.Table) -> Any:
        return table.to_reader()

    def read(self, uri: str, reads: TableReads, columns: list[str] | None) -> Any:
        # Batch by batch, as it was written: nothing is read before the reader is consumed.
        reader = reads.read_batches(uri, columns)
        schema = _unmark(reader.schema.empty_table()).schema
        return pa.RecordBatchReader.from_batches(schema, reader)


class PandasFrame(TableType):
    name = "pandas.DataFrame"
    may_pickle = True

    def from_table(self, table: pa.Table) -> Any:
        return table.to_pandas()

    def read(self, uri: str, reads: TableReads, columns: list[str] | None) -> Any:
        # An Arrow IPC file loads its numeric columns straight into the frame's arrays.
        if is_parquet_path(uri):
            return super().read(uri, reads, columns)
        footer = reads.footer(uri)
        schema = _unmark_schema(footer.schema)
        if columns is not None:
            schema = pa.schema([schema.field(name) for name in columns], metadata=schema.metadata)
        frame = load_frame(
            schema,
            footer.rows,
            lambda names: reads.read_batches(uri, names),
            lambda names: _unmark(reads.read(uri, names)),
            lambda names, widths, rows: reads.fill_columns(uri, names, widths, rows),
        )
        return frame if frame is not None else super().read(uri, reads, columns)


class PolarsFrame(TableType):
    name = "polars.DataFrame"
    may_pickle = True

    def from_table(self, table: pa.Table) -> Any:
        import polars as pl

        # A pandas index stored as a column is dropped, as `pl.from_pandas` drops it.
        index_columns = [name for name in table.column_names if is_pandas_index_column(name)]
        return pl.from_arrow(table.drop_columns(index_columns))


class PolarsLazyFrame(PolarsFrame):
    """Written by polars' streaming engine batch by batch; loaded as a scan that reads nothing
    before it is collected."""

    name = "polars.LazyFrame"
    may_pickle = False

    def to_stream(self, obj: Any) -> pa.RecordBatchReader:
        # The schema comes from the first batch, so it is the one the batches really have.
        batches = (polars_to_arrow(batch) for batch in obj.collect_batches())
        first = next(batches, None)
        if first is None:
            import polars as pl

            # Nothing came out: an empty frame of the declared schema, without running the
            # query a second time.
            first = polars_to_arrow(pl.DataFrame(schema=obj.collect_schema()))
        schema = _mark(first.schema, self.name)

        def marked() -> Any:
            # Each polars batch converts to a table of one or more record batches.
            for table in itertools.chain([first], batches):
                for batch in table.to_batches():
                    yield batch.replace_schema_metadata(schema.metadata)

        return pa.RecordBatchReader.from_batches(schema, marked())

    def write(
        self, obj: Any, write: WriteTable, open_writer: OpenWriter
    ) -> tuple[WriteInfo, pa.Schema]:
        stream = self.to_stream(obj)
        with open_writer(stream.schema) as writer:
            for batch in stream:
                writer.write(batch)
        assert writer.info is not None
        return writer.info, stream.schema

    def from_table(self, table: pa.Table) -> Any:
        return super().from_table(table).lazy()

    def read_part(self, uri: str, reads: TableReads, columns: list[str] | None) -> Any:
        # A scan reads nothing before it is collected, so absence is checked here.
        if not reads.exists(uri):
            raise FileNotFoundError(f"no table stored at {uri}")
        return uri

    def combine(self, parts: list[Any], reads: TableReads, columns: list[str] | None) -> Any:
        import polars as pl

        if not all(isinstance(part, str) for part in parts):
            # Some partitions are a replaced manager's pickles, already in memory: the others
            # are read too, and the frame is lazy over the loaded table.
            tables = [reads.read(p, columns) if isinstance(p, str) else p for p in parts]
            return self.from_table(_unmark(_concat(tables)))
        paths: list[str] = parts
        if not any(is_remote(path) for path in paths):
            frame = _scan_local_files(paths)
            return frame.select(columns) if columns else frame
        # From a store, the lazy frame reads through this package's own reader when collected,
        # so memory:// and the storage options work as for every other input.

        def load() -> pl.DataFrame:
            with ThreadPoolExecutor(reads.workers(len(paths)), "fastio-scan") as pool:
                tables = list(pool.map(lambda path: reads.read(path, columns), paths))
            return pl.DataFrame(pl.from_arrow(_unmark(_concat(tables))))

        def schema() -> Any:
            first = reads.read_batches(paths[0], columns).schema
            return pl.DataFrame(pl.from_arrow(first.empty_table())).schema

        return pl.defer(load, schema=schema)


def _scan_local_files(paths: list[str]) -> Any:
    """polars' own scan of local table files, each by its format (a format switch may leave
    partitions of both), in partition order."""
    import polars as pl

    def scan(group: list[str], parquet: bool) -> Any:
        return pl.scan_parquet(group) if parquet else pl.scan_ipc(group)

    runs: list[tuple[bool, list[str]]] = []
    for path in paths:
        parquet = is_parquet_path(path)
        if runs and runs[-1][0] == parquet:
            runs[-1][1].append(path)
        else:
            runs.append((parquet, [path]))
    if len(runs) == 1:
        return scan(runs[0][1], runs[0][0])
    return pl.concat([scan(group, parquet) for parquet, group in runs], how="vertical_relaxed")


class DuckDBRelation(ArrowReader):
    """A DuckDB relation: its query runs as the file is written, its result streamed through
    the Arrow C stream batch by batch (DuckDB 2.0 executes ``__arrow_c_stream__`` as it is
    consumed: measured in benches/bench_duckdb.py), so it is never collected in Python. As an
    input annotation it asks for a relation over the stored files instead
    (``stored.duckdb_scan``); this handler only serves unannotated loads and dict values, which
    get an in-memory relation over the loaded table."""

    name = "duckdb.DuckDBPyRelation"

    def stores(self, obj: Any) -> bool:
        return False  # matched by class name only

    def to_arrow(self, obj: Any) -> pa.RecordBatchReader:
        try:
            reader = pa.RecordBatchReader.from_stream(obj)
        except Exception as error:
            if type(error).__name__ != "ConnectionException":
                raise
            # `with resource.get_connection() as con: return con.sql(...)` closes the
            # connection before the I/O manager sees the relation.
            raise ValueError(
                "the DuckDB relation's connection was closed before the output was stored: "
                "return a relation whose connection is still open (do not return it from "
                "inside `with ....get_connection() as con:`), or return "
                "`relation.to_arrow_table()` computed inside the block"
            ) from error
        schema = _mark(reader.schema, self.name)
        return pa.RecordBatchReader.from_batches(schema, reader)

    def from_table(self, table: pa.Table) -> Any:
        import duckdb

        return duckdb.connect().from_arrow(table)

    def read(self, uri: str, reads: TableReads, columns: list[str] | None) -> Any:
        return self.combine([self.read_part(uri, reads, columns)], reads, columns)


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


TABLE_TYPES: tuple[TableType, ...] = (
    ArrowTable(),
    ArrowReader(),
    PandasFrame(),
    PolarsFrame(),
    PolarsLazyFrame(),
    DuckDBRelation(),
)
_BY_NAME = {table_type.name: table_type for table_type in TABLE_TYPES}
# DuckDB before 1.4 defined its classes in the `_duckdb` (or `duckdb.duckdb`) extension module.
_BY_NAME["_duckdb.DuckDBPyRelation"] = _BY_NAME["duckdb.DuckDBPyRelation"]


def named_in_mro(cls: Any) -> TableType | None:
    """The handler of a class or of its nearest base, matched by name so that checking never
    imports pandas or polars."""
    if not isinstance(cls, type):
        return None
    for klass in cls.__mro__:
        found = _BY_NAME.get(f"{klass.__module__.split('.')[0]}.{klass.__qualname__}")
        if found is not None:
            return found
    return None


def table_type_of(obj: Any) -> TableType | None:
    """The handler that stores an output, or None when it is to be pickled."""
    named = named_in_mro(type(obj))
    if named is not None:
        return named
    return next((table_type for table_type in TABLE_TYPES if table_type.stores(obj)), None)


def table_type_named(name: bytes | str | None) -> TableType:
    """The handler of a type name recorded in a stored schema (pyarrow.Table when none is)."""
    if isinstance(name, bytes):
        name = name.decode()
    return _BY_NAME.get(name or "", _BY_NAME["pyarrow.Table"])


def load_stored_type(uri: str, reads: TableReads, columns: list[str] | None) -> Any:
    """The table at ``uri`` as the type recorded when it was stored (a table when none is)."""
    if not is_parquet_path(uri):
        # A pandas frame has a load of its own; the footer says whether this is one.
        marked = (reads.footer(uri).schema.metadata or {}).get(TYPE_METADATA_KEY)
        if marked == PandasFrame.name.encode():
            return _BY_NAME[PandasFrame.name].read(uri, reads, columns)
    table = reads.read(uri, columns)
    recorded = (table.schema.metadata or {}).get(TYPE_METADATA_KEY, b"").decode()
    return _BY_NAME.get(recorded, _BY_NAME["pyarrow.Table"]).from_table(_unmark(table))
