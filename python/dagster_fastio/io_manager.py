"""FastIOManager: a drop-in for FilesystemIOManager that stores tables as Arrow IPC (or
Parquet) files.

This facade holds the configuration, fans partitions out and falls back to pickle. Paths are
``layout``'s, Python types ``table_types``', metadata ``metadata``'s, storage ``storage``'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from dagster_fastio.api import (
    COMPAT_LEVELS,
    COMPRESSIONS,
    FORMATS,
    PARQUET_COMPRESSIONS,
    read_pickle,
)
from dagster_fastio.datasets import dataset_kind, open_dataset
from dagster_fastio.errors import NotPicklableError
from dagster_fastio.layout import PICKLE_SUFFIX, TABLE_SUFFIX, Location, make_room_for_partitions
from dagster_fastio.metadata import pickle_metadata, range_metadata, table_metadata
from dagster_fastio.partition_ranges import plan_split
from dagster_fastio.replaced_pickles import multi_partition_stem, op_output_stems
from dagster_fastio.storage import Storage
from dagster_fastio.table_types import (
    ARROW_CONVERSION_ERRORS,
    TYPE_METADATA_KEY,
    InputSpec,
    table_type_of,
)

# The suffixes, the type key and read_pickle were first exported from here; they stay importable.
__all__ = ["PICKLE_SUFFIX", "TABLE_SUFFIX", "TYPE_METADATA_KEY", "FastIOManager", "read_pickle"]

COMPRESSION_METADATA_KEY = "fastio/compression"
# Past this many keys in the partitions definition, a partition's write does not add up every
# partition's rows: reading each footer would make a write's cost grow with the definition.
TOTAL_ROWS_MAX_PARTITIONS = 100
FORMAT_METADATA_KEY = "fastio/format"


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
    format: str = Field(
        default="ipc",
        description=(
            "Table file format: 'ipc' (Arrow IPC, the fastest handoff) or 'parquet' (smaller, "
            "read natively by DuckDB, Spark, Athena and warehouses' external tables). Override "
            "per asset with definition metadata {'fastio/format': 'parquet'}. Inputs load "
            "whichever format is stored, so switching orphans nothing."
        ),
    )
    compat: str = Field(
        default="standard",
        description=(
            "Types rewritten for other readers: 'standard' (list views as lists, run-end "
            "encoded columns as values, 256-bit decimals that fit as 128-bit; lossless), "
            "'wide' (also string and binary views as large strings, half floats as floats: "
            "for pyarrow before 16, pandas and DuckDB) or 'none'. See the README's "
            "'Which readers open what'."
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
    column_stats: bool = Field(
        default=False,
        description=(
            "Report each table column's null count, smallest and largest value (column_stats "
            "metadata, gathered while encoding). Off by default: it costs a lz4 write about a "
            "fifth of its time (benches/RESULTS.md)."
        ),
    )
    report_total_rows: bool = Field(
        default=True,
        description=(
            "For partitioned assets whose definition holds at most "
            f"{TOTAL_ROWS_MAX_PARTITIONS} keys, also report dagster/row_count: the rows of "
            "every stored partition, read from their footers (one listing of the asset's "
            "folder, then one small read per stored partition). Larger "
            "definitions report dagster/partition_row_count only, so that a partition's write "
            "costs the same whatever the definition holds."
        ),
    )
    read_replaced_pickles: bool = Field(
        default=True,
        description=(
            "Load what FilesystemIOManager, S3PickleIOManager, GCSPickleIOManager and "
            "ADLS2PickleIOManager stored at the same base (a pickle at the key's path, no "
            "suffix) when none of this package's files is there, unpickling it as they did; "
            "the next write of the key replaces it. See the README's 'Switching from "
            "FilesystemIOManager or S3PickleIOManager'."
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
    _built: Storage | None = PrivateAttr(default=None)

    def __repr_args__(self) -> Any:
        # repr() and str() of the resource end up in logs and tracebacks: storage options show
        # their keys only, since any value may be a credential.
        for name, value in super().__repr_args__():
            if name == "storage_options" and value:
                value = {key: "***" for key in value}
            yield name, value

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        check_format(self.format)
        if self.compat.lower() not in COMPAT_LEVELS:
            raise ValueError(
                f"unknown compat level {self.compat!r}: expected 'standard', 'wide' or 'none'"
            )
        codecs = PARQUET_COMPRESSIONS if self.format.lower() == "parquet" else COMPRESSIONS
        if self.compression is not None and self.compression.lower() not in codecs:
            raise ValueError(
                f"unknown compression {self.compression!r} for {self.format}: expected "
                + ", ".join(repr(codec) for codec in codecs)
            )
        if context.instance is not None:
            self._instance_storage = context.instance.storage_directory()
        self._built = None

    @property
    def _storage(self) -> Storage:
        # Built on first use rather than in setup: a bad base path fails the step that uses it,
        # and contexts built by Dagster's testing helpers skip setup.
        if self._built is None:
            base = self.base_path or self._instance_storage
            if base is None:
                raise dg.DagsterInvariantViolationError(
                    "FastIOManager needs base_path when no Dagster instance is available"
                )
            self._built = Storage(
                base=Location.base(base),
                compression=self.compression,
                level=self.compression_level,
                part_size=None if self.part_size_mb is None else self.part_size_mb << 20,
                storage_options=dict(self.storage_options) or None,
                memory_map=self.memory_map,
                max_concurrency=self.max_concurrency,
                statistics=self.column_stats,
                format=self.format.lower(),
                compat=self.compat.lower(),
                read_replaced=self.read_replaced_pickles,
            )
        return self._built

    def _stem(self, context: dg.InputContext | dg.OutputContext) -> Location:
        """The output's location without suffix or partition."""
        parts = context.asset_key.path if context.has_asset_key else context.get_identifier()
        return self._storage.base.stem(parts)

    # -- output ---------------------------------------------------------------------------

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        # Dagster calls no I/O manager for an output typed None or Nothing; any other None is
        # stored, as UPathIOManager stores it, so that a downstream input loads None.
        storage = self._storage
        stem = asset_stem = self._stem(context)
        partitioned = context.has_asset_key and context.has_asset_partitions
        if partitioned:
            stems = asset_stem.partitions(context.asset_partition_keys)
            if len(stems) != 1:
                self._handle_partition_range(context, obj, asset_stem, stems)
                return
            stem = next(iter(stems.values()))
            self._make_room_for_partitions(context, stem)
        metadata = None
        table_type = table_type_of(obj)
        if table_type is not None:
            chosen = (context.definition_metadata or {}).get(
                COMPRESSION_METADATA_KEY, storage.compression
            )
            format = output_format(context, storage)
            path = storage.table_path(stem, format)
            previous = storage.footer(path)
            sink = storage.table_sink(path, chosen, provenance(context), previous, format)
            try:
                info, schema = table_type.write(obj, sink)
                metadata = table_metadata(info, schema, partitioned, previous)
                # The other formats' files must not stay behind to be loaded instead.
                stale = [stem.pickle, *(p for p in storage.table_paths(stem) if p != path)]
                if not info.written:
                    context.log.info(
                        f"{path} already holds this content ({info.content_hash}): left as it is."
                    )
            except ARROW_CONVERSION_ERRORS:
                if not table_type.may_pickle:
                    raise
                # FilesystemIOManager would pickle it; so does a drop-in replacement.
                context.log.warning(
                    f"{type(obj).__qualname__} output has columns Arrow cannot hold "
                    "(mixed Python objects?): stored as a zstd pickle instead of an Arrow table."
                )
        if metadata is None:
            info = self._write_pickle(context, obj, stem.pickle)
            metadata, stale = pickle_metadata(info, obj), list(storage.table_paths(stem))
            if obj is None:
                # As UPathIOManager: a None output is usually an asset that stores its data
                # elsewhere, and a path to a pickle of None would mislead.
                metadata = {}
        if storage.replaced_pickle_exists(stem):
            # Written in this package's format now: the replaced manager's pickle of the key
            # is an older version, which that manager would have overwritten too.
            context.log.info(f"Removing {stem}, this key's pickle from the replaced I/O manager.")
            stale.append(stem)
        # A type change (table <-> object) must not leave the old format behind to be loaded.
        storage.delete(*stale)
        if partitioned and self.report_total_rows:
            total = self._stored_rows(context, asset_stem)
            if total is not None:
                metadata["dagster/row_count"] = dg.MetadataValue.int(total)
        context.add_output_metadata(metadata)

    def _write_pickle(self, context: dg.OutputContext, obj: Any, path: Location) -> Any:
        try:
            return self._storage.write_pickle(obj, path)
        except NotPicklableError as e:
            # FilesystemIOManager raises this for an output it cannot pickle, so do we.
            raise dg.DagsterInvariantViolationError(
                f"Object {type(obj).__qualname__} is not picklable: {_output_name(context)} "
                f"could not be stored ({e.__cause__!r}). FastIOManager stores tables (pandas, "
                "polars, pyarrow, any Arrow stream) as Arrow files and pickles anything else: "
                "return a table, or an object pickle can store."
            ) from e

    def _make_room_for_partitions(self, context: dg.OutputContext, stem: Location) -> None:
        """Removes a file where the partition's folder goes, exactly where UPathIOManager does:
        the partition file's own folder, which a non-partitioned version of the asset left as
        a file (FilesystemIOManager's pickle has no suffix)."""
        folder = stem.parent
        if make_room_for_partitions(folder):
            context.log.warning(
                f"Removing {folder}, left by a non-partitioned version of "
                f"{context.asset_key.to_user_string()}, to make room for the partitions' folder."
            )

    def _handle_partition_range(
        self, context: dg.OutputContext, obj: Any, stem: Location, stems: dict[str, Location]
    ) -> None:
        """One table for several partitions: split by the ``partition_expr`` column(s) into
        the files one-partition runs write, in one streaming pass."""
        table_type = table_type_of(obj)
        if table_type is None:
            raise dg.DagsterInvariantViolationError(
                f"an output for {len(stems)} partitions must be a table to be split by its "
                f"partition column, not {type(obj).__qualname__}"
            )
        storage = self._storage
        data = table_type.to_stream(obj)
        format = output_format(context, storage)
        for partition in stems.values():
            self._make_room_for_partitions(context, partition)
        plan = plan_split(
            context,
            stem,
            data.schema,
            provenance(context),
            lambda partition: storage.table_path(partition, format),
        )
        chosen = (context.definition_metadata or {}).get(
            COMPRESSION_METADATA_KEY, storage.compression
        )
        infos = storage.write_partitions(data, plan, stem, chosen, format)
        for partition_key, info in zip(plan.partition_keys, infos, strict=True):
            if info.rows == 0:
                context.log.info(f"Partition {partition_key} has no rows: stored empty.")
        stale = [
            path
            for partition in stems.values()
            for path in (partition.pickle, *storage.table_paths(partition))
            if path != storage.table_path(partition, format)
        ]
        storage.delete(*stale)
        metadata = range_metadata(infos, plan.partition_keys, data.schema, stem.text)
        if self.report_total_rows:
            total = self._stored_rows(context, stem)
            if total is not None:
                metadata["dagster/row_count"] = dg.MetadataValue.int(total)
        context.add_output_metadata(metadata)

    def _stored_rows(self, context: dg.OutputContext, stem: Location) -> int | None:
        """Rows of every stored partition of the asset, from their footers, read after this
        output was written (so a concurrent write that finished first is counted); None when
        the definition holds more than ``TOTAL_ROWS_MAX_PARTITIONS`` keys, or they cannot be
        listed here."""
        try:
            instance = context.step_context.instance
        except dg.DagsterInvariantViolationError:
            instance = None
        partitions_def = context.asset_partitions_def
        try:
            count = _count_partition_keys(partitions_def, instance, TOTAL_ROWS_MAX_PARTITIONS)
            if count > TOTAL_ROWS_MAX_PARTITIONS:
                context.log.debug(
                    "No dagster/row_count: the partitions definition holds more than the "
                    f"{TOTAL_ROWS_MAX_PARTITIONS} keys a write adds up."
                )
                return None
            keys = partitions_def.get_partition_keys(dynamic_partitions_store=instance)
        except Exception:  # a dynamic partitioning without an instance to list it
            return None
        storage = self._storage
        paths = storage.stored_table_paths(stem, stem.partitions(keys).values())
        with ThreadPoolExecutor(storage.workers(len(paths)), "fastio-rows") as pool:
            footers = pool.map(storage.footer, paths)
            return sum(footer.rows or 0 for footer in footers if footer is not None)

    def stored_data_version(
        self, asset_key: dg.AssetKey | str | list[str], partition_key: str | None = None
    ) -> dg.DataVersion | None:
        """The data version of what this manager stores for ``asset_key`` (and partition),
        from the file's footer alone; for observable source assets:

        ``return context.resources.io_manager.stored_data_version(["raw", "events"])``.
        """
        key = dg.AssetKey.from_coercible(asset_key)
        stem = self._storage.base.stem(key.path)
        if partition_key is not None:
            stem = next(iter(stem.partitions([partition_key]).values()))
        footer = self._storage.stored_footer(stem)
        digest = None if footer is None else footer.content_hash
        return None if digest is None else dg.DataVersion(digest)

    # -- input ----------------------------------------------------------------------------

    def load_input(self, context: dg.InputContext) -> Any:
        spec = InputSpec.of(_input_annotation(context))

        def on_replaced(stem: Location) -> None:
            context.log.info(
                f"Loaded {stem}, a pickle the replaced I/O manager stored: no file of this "
                "package's is there yet (the next materialization writes one)."
            )

        storage, stem = self._input_storage(context), self._stem(context)
        columns = (context.definition_metadata or {}).get("columns")
        partitioned = context.has_asset_key and context.has_asset_partitions
        kind = dataset_kind(spec, context.definition_metadata or {})
        if kind is not None:
            # The stored files as one lazy dataset with key columns (see ``datasets``).
            return open_dataset(
                kind,
                storage,
                stem,
                stem.partitions(context.asset_partition_keys) if partitioned else None,
                context.definition_metadata or {},
                optional=spec.optional,
                on_missing=lambda uri: context.log.warning(f"Skipped missing partition {uri}."),
            )
        if not partitioned:
            elsewhere = () if context.has_asset_key else self._op_output_elsewhere(context)
            return storage.load(
                stem, spec.table_type, columns, spec.optional, on_replaced, elsewhere
            )
        stems = stem.partitions(context.asset_partition_keys)

        def elsewhere_of(key: str) -> tuple[Location, ...]:
            older = multi_partition_stem(stem, key)
            return () if older is None else (older,)

        if not stems:
            return {} if spec.by_partition else None
        if len(stems) == 1 and not spec.by_partition:
            key, only = next(iter(stems.items()))
            return storage.load(
                only, spec.table_type, columns, spec.optional, on_replaced, elsewhere_of(key)
            )
        table_type = spec.table_type
        if table_type is None:
            # A dict (or no table type): one value per partition, of the dict's value type.
            loaded = self._load_partitions(
                context,
                stems,
                lambda key, s: storage.load(
                    s, spec.value_type, columns, False, on_replaced, elsewhere_of(key)
                ),
            )
            # As UPathIOManager: a partition that stored None is left out of the dict.
            return {key: value for key, value in loaded.items() if value is not None}
        # A table type: the partitions' tables as one value of that type.
        parts = self._load_partitions(
            context,
            stems,
            lambda key, s: storage.load_part(
                s, table_type, columns, on_replaced, elsewhere_of(key)
            ),
        )
        if not parts:
            raise FileNotFoundError(
                f"none of the {len(stems)} partitions of {context.asset_key.to_user_string()} "
                f"is stored under {stem}"
            )
        return table_type.combine(list(parts.values()), storage, columns)

    def _op_output_elsewhere(self, context: dg.InputContext) -> list[Location]:
        """Where the replaced cloud pickle managers put this op output."""
        try:
            identifier = context.get_identifier()
        except dg.DagsterInvariantViolationError:  # a testing context without a run
            return []
        return op_output_stems(self._storage.base, identifier)

    def _input_storage(self, context: dg.InputContext) -> Storage:
        """The storage an input reads through: the upstream asset's own format (its
        ``fastio/format``) is looked for first, then the other, in every kind of load."""
        storage = self._storage
        upstream = context.upstream_output
        metadata = (upstream.definition_metadata if upstream is not None else None) or {}
        chosen = metadata.get(FORMAT_METADATA_KEY)
        if chosen is None or check_format(chosen) == storage.format:
            return storage
        return dataclasses.replace(storage, format=check_format(chosen))

    def _load_partitions(
        self,
        context: dg.InputContext,
        stems: dict[str, Location],
        load: Callable[[str, Location], Any],
    ) -> dict[str, Any]:
        """``load`` of each partition's stem, concurrently, skipping missing ones if allowed."""
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions"))
        workers = self._storage.workers(len(stems))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fastio-load") as pool:
            futures = {key: pool.submit(load, key, stem) for key, stem in stems.items()}
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


def check_format(format: Any) -> str:
    chosen = str(format).lower()
    if chosen not in FORMATS:
        raise ValueError(f"unknown format {format!r}: expected 'ipc' or 'parquet'")
    return chosen


def output_format(context: dg.OutputContext, storage: Storage) -> str:
    """The output's format: its definition metadata's, else the manager's."""
    return check_format(
        (context.definition_metadata or {}).get(FORMAT_METADATA_KEY, storage.format)
    )


def provenance(context: dg.OutputContext) -> dict[str, str]:
    """Footer entries naming the run, asset (or step), partition and code version that wrote a
    file; what a testing context does not carry is left out."""
    entries: dict[str, str] = {}

    def add(key: str, value: Callable[[], Any]) -> None:
        try:
            found = value()
        except dg.DagsterInvariantViolationError:
            return
        if found is not None:
            entries[key] = str(found)

    add("dagster/run_id", lambda: context.run_id)
    if not context.has_asset_key:
        add("dagster/step_key", lambda: context.step_key)
        return entries
    entries["dagster/asset_key"] = context.asset_key.to_user_string()
    add("dagster/code_version", lambda: context.asset_spec.code_version)
    if context.has_asset_partitions and len(context.asset_partition_keys) == 1:
        entries["dagster/partition_key"] = str(context.asset_partition_keys[0])
    return entries


def _input_annotation(context: dg.InputContext) -> Any:
    # Dagster's testing helpers build input contexts without a type, and the property then
    # raises rather than answering None: a missing type means Any, as for FilesystemIOManager.
    try:
        return context.dagster_type.typing_type
    except dg.DagsterInvariantViolationError:
        return Any


def _output_name(context: dg.OutputContext) -> str:
    if context.has_asset_key:
        return f"the output of asset {context.asset_key.to_user_string()}"
    try:
        return f"output {context.name!r} of step {context.step_key!r}"
    except dg.DagsterInvariantViolationError:
        return f"output {context.name!r}"


def _count_partition_keys(partitions_def: Any, instance: Any, at_most: int) -> int:
    """The keys of a partitions definition, or any number above ``at_most`` when it holds
    more, counted without listing them where Dagster can: time windows by arithmetic, dynamic
    keys by asking the instance for one page of ``at_most + 1``."""
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        count = 1
        for dimension in partitions_def.partitions_defs:
            count *= _count_partition_keys(dimension.partitions_def, instance, at_most)
            if count > at_most:
                return count
        return count
    paginated = getattr(instance, "get_paginated_dynamic_partitions", None)
    dynamic = isinstance(partitions_def, dg.DynamicPartitionsDefinition) and partitions_def.name
    if dynamic and paginated is not None:
        page = paginated(partitions_def.name, limit=at_most + 1, ascending=True)
        return len(page.results)
    loading_context = getattr(dg, "partition_loading_context", None)
    if loading_context is None:  # Dagster before partition loading contexts: keys are listed
        return len(partitions_def.get_partition_keys(dynamic_partitions_store=instance))
    with loading_context(dynamic_partitions_store=instance):
        return partitions_def.get_num_partitions()
