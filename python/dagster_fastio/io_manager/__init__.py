"""FastIOManager: a drop-in for FilesystemIOManager that stores tables as Arrow IPC (or
Parquet) files; with everything else of this package that imports Dagster.

The class is defined here, not in a submodule, because its module is its public type name
(``dagster_fastio.io_manager.FastIOManager``: ``dg list defs`` and the Dagster UI show it).
It holds the configuration and builds the storage once; ``outputs`` stores, ``inputs`` loads,
``metadata`` reports; below them paths, types and storage are the Dagster-free layers'
(``stored``, ``tables``).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from dagster_fastio.api import check_compression, read_pickle
from dagster_fastio.io_manager import inputs, outputs
from dagster_fastio.io_manager.appends import check_write_mode
from dagster_fastio.io_manager.outputs import TOTAL_ROWS_MAX_PARTITIONS
from dagster_fastio.keys import TYPE_METADATA_KEY
from dagster_fastio.options import check_compat, check_format
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.storage import Storage
from dagster_fastio.uris import PICKLE_SUFFIX, TABLE_SUFFIX

# The suffixes, the type key and read_pickle were first exported from here; they stay importable.
__all__ = [
    "PICKLE_SUFFIX",
    "TABLE_SUFFIX",
    "TOTAL_ROWS_MAX_PARTITIONS",
    "TYPE_METADATA_KEY",
    "FastIOManager",
    "read_pickle",
]


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
    parquet_above_mb: float | None = Field(
        default=None,
        description=(
            "Route by size: a table whose Arrow data is larger than this many MB (10^6 bytes) "
            "is stored as Parquet zstd, the format DuckDB, Spark and warehouses read, instead "
            "of Arrow IPC; the output metadata's 'route' says which and why, and loads ask the "
            "instance's event log for the format the latest materialization stored rather "
            "than probing. A definition's fastio/format or fastio/compression wins. Off by "
            "default: a Parquet handoff is slower than an IPC one at every size measured "
            "(benches/RESULTS.md)."
        ),
    )
    load_memory_check: bool = Field(
        default=True,
        description=(
            "Before an eager load of a table (pandas, polars or pyarrow), read its footer "
            "and log a warning when the memory the load is expected to add (its Arrow size "
            "times the peak measured per byte for that type) is more than the process has "
            "available (its cgroup limit, else MemAvailable), naming the lazy inputs that "
            "would fit. One footer read per input (per partition, up to 100)."
        ),
    )
    write_mode: str = Field(
        default="overwrite",
        description=(
            "'overwrite' (each materialization replaces the key's table) or 'append' (each "
            "stores its table as a new part of the key; a load returns all parts in append "
            "order). Override per asset with definition metadata {'fastio/write_mode': "
            "'append'}, and per run with output metadata of the same key, which wins. See the "
            "README's 'Append'."
        ),
    )
    compact_after_parts: int | None = Field(
        default=None,
        description=(
            "When an append leaves a key with more parts than this, rewrite them as one file "
            "(atomically: loads see the parts or the compacted file). Default: never; "
            "`fastio compact` does it on demand."
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
        check_compat(self.compat)
        check_compression(self.compression, self.format)
        if self.parquet_above_mb is not None and self.parquet_above_mb < 0:
            raise ValueError(f"parquet_above_mb must not be negative, got {self.parquet_above_mb}")
        check_write_mode(self.write_mode)
        if self.compact_after_parts is not None and self.compact_after_parts < 1:
            raise ValueError(
                f"compact_after_parts must be at least 1 (or None), got {self.compact_after_parts}"
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
                parquet_above=(
                    None if self.parquet_above_mb is None else int(self.parquet_above_mb * 1e6)
                ),
                load_memory_check=self.load_memory_check,
            )
        return self._built

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        outputs.handle_output(
            context,
            obj,
            self._storage,
            self.report_total_rows,
            self.write_mode,
            self.compact_after_parts,
        )

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

    def load_input(self, context: dg.InputContext) -> Any:
        return inputs.load_input(context, self._storage)
