"""The I/O manager's storage settings bound to the ``api`` calls, built once per resource:
how each output is written and each input read, and what is stored for a stem. Handlers are
given the storage's ``reads`` (and a target's write functions), never the storage. No Dagster
import."""

from __future__ import annotations

import dataclasses
import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dagster_fastio import api
from dagster_fastio.errors import CorruptFileError, StoreError
from dagster_fastio.keys import COMPAT_KEY
from dagster_fastio.options import WriteOptions
from dagster_fastio.stored.files import OnMissing, StoredFile, file_format, partition_keys
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.part_loads import load_parts, part_files, partition_parts
from dagster_fastio.stored.parts import NoPartsError
from dagster_fastio.stored.replaced_pickles import is_pickle, read_replaced_pickle
from dagster_fastio.stored.table import StoredTable
from dagster_fastio.stored.target import TableRoute, TableTarget
from dagster_fastio.tables.handlers import TableType, load_stored_type
from dagster_fastio.tables.reads import TableReads
from dagster_fastio.uris import PARQUET_SUFFIX, TABLE_SUFFIX

__all__ = ["Storage"]

# object_store retries a DELETE (and S3's DeleteObjects POST) that is answered 5xx, but not one
# whose connection drops after it was sent: on a flaky link a step whose output was already
# written would fail on removing the other format's stale object. Deleting is idempotent.
DELETE_ATTEMPTS = 4
DELETE_BACKOFF_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Storage:
    """Where outputs go (``base``) and the options every write and read takes."""

    base: Location
    compression: str | None
    level: int | None
    part_size: int | None
    storage_options: dict[str, str] | None
    memory_map: bool
    max_concurrency: int | None
    statistics: bool = False
    format: str = "ipc"
    """The format tables are written in, and looked for first when read."""
    parquet_above: int | None = None
    """Bytes of Arrow data above which a table in memory is stored as Parquet zstd instead of
    Arrow IPC (FastIOManager's ``parquet_above_mb``); None: never."""
    load_memory_check: bool = False
    """Warn before an eager load that is not expected to fit (FastIOManager's setting)."""
    compat: str = "standard"
    read_replaced: bool = True
    """Load the pickle a replaced manager stored at a stem when none of this package's files
    is there (``replaced_pickles``)."""

    def table_path(self, stem: Location, format: str | None = None) -> Location:
        """Where the table of ``stem`` goes in ``format`` (default: this storage's)."""
        return stem.parquet if (format or self.format) == "parquet" else stem.table

    def table_paths(self, stem: Location) -> tuple[Location, Location]:
        """Both places a table of ``stem`` may be, the format this storage writes first: an
        output written before a format switch still loads."""
        other = "ipc" if self.format == "parquet" else "parquet"
        return self.table_path(stem), self.table_path(stem, other)

    def first_table(
        self,
        stem: Location,
        read: Callable[[Location], Any],
        on_read: Callable[[Location], None] | None = None,
    ) -> Any:
        """``read`` of the first table path of ``stem`` that holds a table (``on_read`` is
        told which); ``FileNotFoundError`` when neither does."""
        for path in self.table_paths(stem):
            try:
                value = read(path)
            except FileNotFoundError:
                continue
            if on_read is not None:
                on_read(path)
            return value
        raise FileNotFoundError(f"no table stored at {self.table_path(stem)}")

    @property
    def reads(self) -> TableReads:
        """The reads at this storage's settings, as handlers and scans are given them."""
        return TableReads(self.storage_options, self.memory_map, self.max_concurrency)

    def table_target(
        self,
        path: Location,
        compression: str | None,
        metadata: Mapping[str, str] | None = None,
        previous: api.Footer | None = None,
        format: str | None = None,
        route: bool = False,
    ) -> TableTarget:
        """Where a table goes; ``compression`` None chooses by where ``path`` is. With
        ``route`` (and ``parquet_above`` set), an IPC table larger than ``parquet_above`` goes
        to the Parquet file of the same stem instead, zstd-compressed."""
        format = format or self.format
        routed = None
        if route and self.parquet_above is not None and format == "ipc":
            parquet = Location(path.text.removesuffix(TABLE_SUFFIX) + PARQUET_SUFFIX, path.remote)
            routed = TableRoute(
                self.parquet_above,
                parquet.text,
                self._write_options("zstd", "parquet", metadata),
            )
        choose = False
        if compression is None:
            # Measured (benches/RESULTS.md): on a local disk lz4 hands a table over fastest and
            # still stores a third of pickle's bytes, and a table lz4 cannot shrink is stored
            # uncompressed (``codec_choice``); over a network the bytes are the cost. Parquet
            # is chosen for other readers and size: zstd, as pyarrow's and polars'.
            choose = not path.remote and self.level is None and format != "parquet"
            compression = "lz4" if choose else "zstd"
        options = self._write_options(str(compression).lower(), format, metadata)
        return TableTarget(path.text, options, self.storage_options, previous, choose, routed)

    def _write_options(
        self, compression: str, format: str, metadata: Mapping[str, str] | None
    ) -> WriteOptions:
        return WriteOptions(
            compression=compression,
            level=self.level if compression == "zstd" else None,
            part_size=self.part_size,
            max_concurrency=self.max_concurrency,
            # The compat level is recorded, so that a changed one rewrites an unchanged table.
            metadata={**(metadata or {}), COMPAT_KEY: self.compat},
            content_hash=True,
            statistics=self.statistics,
            format=format,
            compat=self.compat,
        )

    def write_partitions(
        self,
        data: Any,
        keys: Sequence[Any],
        targets: Sequence[tuple[str, list[int], Mapping[str, str] | None]],
        stem: Location,
        compression: str | None,
        format: str | None = None,
    ) -> list[api.WriteInfo]:
        """Splits ``data`` by its key columns into the partition files of ``targets`` (see
        ``api.write_partitions``)."""
        options = self.table_target(stem, compression, format=format).options
        # Partition files carry their targets' entries only: no compat entry, unlike the file
        # of a one-partition output.
        options = dataclasses.replace(options, metadata=None)
        return api.write_partitions_with(data, keys, targets, options, self.storage_options)

    def footer(self, path: Location) -> api.Footer | None:
        """The footer of the table stored at ``path``; None when there is none, or when what
        is there is not a table file this can read (it is replaced all the same)."""
        try:
            return api.read_footer(path.text, self.storage_options)
        except (FileNotFoundError, CorruptFileError):
            return None

    def stored_footer(self, stem: Location) -> api.Footer | None:
        """The footer of the table stored for ``stem``, in either format; None when none."""
        for path in self.table_paths(stem):
            footer = self.footer(path)
            if footer is not None:
                return footer
        return None

    def stored_table_paths(self, folder: Location, stems: Iterable[Location]) -> list[Location]:
        """The table file of each of ``stems`` (under ``folder``) that is stored, in the format
        a load looks for first, from one listing of ``folder``: on a store one LIST request a
        1,000 objects, where asking for each stem's files would cost requests for every key."""
        try:
            listed = api.list_objects(folder.text, self.storage_options)
        except StoreError:
            listed = None  # a policy without s3:ListBucket: each file is asked for, a HEAD each
        stored = {entry.uri for entry in listed or ()}

        def is_stored(path: Location) -> bool:
            if listed is None:
                return api.exists(path.text, self.storage_options, tell_missing_bucket=False)
            return path.text in stored

        found = []
        for stem in stems:
            path = next((p for p in self.table_paths(stem) if is_stored(p)), None)
            if path is not None:
                found.append(path)
        return found

    def load(
        self,
        stem: Location,
        table_type: TableType | None,
        columns: Any,
        optional: bool = False,
        on_replaced: Callable[[Location], None] | None = None,
        replaced_elsewhere: Sequence[Location] = (),
        on_read: Callable[[Location], None] | None = None,
    ) -> Any:
        """The value stored at ``stem``: its table as ``table_type`` (None: as it was stored),
        else its pickle, else its appended parts (``part_loads``), else the pickle a replaced
        manager stored there or at one of ``replaced_elsewhere`` (``on_replaced`` is told);
        when none is there, None if ``optional``, else ``FileNotFoundError``. ``on_read`` is
        told the file read."""
        on_replaced = _also_told(on_replaced, on_read)
        if self._replaced_pickle_is_newer(stem):
            obj = self.read_replaced_pickle(stem, on_replaced)
            return obj if table_type is None else table_type.from_object(obj, columns)
        # Each read reports absence itself, so a store is asked once per format, not twice.
        reads = self.reads
        try:
            if table_type is None:
                return self.first_table(
                    stem, lambda p: load_stored_type(p.text, reads, columns), on_read
                )
            return self.first_table(
                stem, lambda p: table_type.read(p.text, reads, columns), on_read
            )
        except FileNotFoundError:
            pass
        try:
            pickled = self.read_pickle(stem.pickle)
        except FileNotFoundError:
            pass
        else:
            if on_read is not None:
                on_read(stem.pickle)
            return pickled
        try:  # no file: the parts of an appended key (asked last: a listing on a store)
            return load_parts(stem, reads, table_type, columns, on_read)
        except NoPartsError:
            pass
        try:
            obj = self.read_replaced_pickle(stem, on_replaced, replaced_elsewhere)
            return obj if table_type is None else table_type.from_object(obj, columns)
        except FileNotFoundError:
            pass
        if optional:
            return None
        raise FileNotFoundError(self._nothing_stored(stem))

    def load_part(
        self,
        stem: Location,
        table_type: TableType,
        columns: Any,
        on_replaced: Callable[[Location], None] | None = None,
        replaced_elsewhere: Sequence[Location] = (),
        on_read: Callable[[Location], None] | None = None,
    ) -> Any:
        """One of several partitions as a part ``table_type.combine`` takes: its table, else
        the table a replaced manager pickled there (or at one of ``replaced_elsewhere``);
        ``FileNotFoundError`` when neither. ``on_read`` is told the file read."""
        on_replaced = _also_told(on_replaced, on_read)
        if self._replaced_pickle_is_newer(stem):
            return table_type.part_of_object(self.read_replaced_pickle(stem, on_replaced), columns)
        try:
            reads = self.reads
            return self.first_table(
                stem, lambda p: table_type.read_part(p.text, reads, columns), on_read
            )
        except FileNotFoundError:
            pass
        try:
            return partition_parts(stem, self.reads, table_type, columns, on_read)
        except NoPartsError:
            pass
        try:
            obj = self.read_replaced_pickle(stem, on_replaced, replaced_elsewhere)
        except FileNotFoundError:
            raise FileNotFoundError(self._nothing_stored(stem)) from None
        return table_type.part_of_object(obj, columns)

    def read_replaced_pickle(
        self,
        stem: Location,
        on_replaced: Callable[[Location], None] | None = None,
        elsewhere: Sequence[Location] = (),
    ) -> Any:
        """The pickle a replaced manager stored at ``stem``, or at the first of ``elsewhere``
        that holds one (``on_replaced`` is told where); ``FileNotFoundError`` when none is
        there or reading them is off."""
        if not self.read_replaced:
            raise FileNotFoundError(f"no table stored at {self.table_path(stem)}")
        for place in (stem, *elsewhere):
            try:
                obj = read_replaced_pickle(place, self.storage_options)
            except FileNotFoundError:
                continue
            if on_replaced is not None:
                on_replaced(place)
            return obj
        raise FileNotFoundError(f"no pickle stored at {stem}")

    def replaced_pickle_exists(self, stem: Location) -> bool:
        """Whether a file or object that may be a replaced manager's pickle is at ``stem``
        (one HEAD on a store: asked after a write, so the bucket is known to be there)."""
        if not self.read_replaced:
            return False
        if stem.remote:
            try:
                return api.exists(stem.text, self.storage_options, tell_missing_bucket=False)
            except StoreError:
                # An S3 server over a file system (s3s-fs) answers a HEAD of a key that is the
                # folder of other keys (the partitions of an asset that is unpartitioned now)
                # with 500, not 404. A pickle left because of it is harmless: this package's
                # file of the key, just written, is what loads.
                return False
        return os.path.isfile(stem.text)

    def _replaced_pickle_is_newer(self, stem: Location) -> bool:
        """Whether a replaced manager's pickle on the local disk was written after this
        package's file of ``stem`` (a switch back to the old manager and forward again): it
        is then the key's latest value. Not asked on a store, where it would cost requests on
        every load: see the README's 'Switching from FilesystemIOManager or S3PickleIOManager'."""
        if stem.remote or not self.read_replaced:
            return False
        try:
            pickled = os.stat(stem.text)
            if not stat.S_ISREG(pickled.st_mode):
                return False
            ours = [
                os.stat(path.text).st_mtime
                for path in self._paths(stem)
                if os.path.isfile(path.text)
            ]
            if not ours or pickled.st_mtime <= max(ours):
                return False
            with open(stem.text, "rb") as file:
                return is_pickle(file.read(2))
        except OSError:
            return False

    def _paths(self, stem: Location) -> tuple[Location, ...]:
        """Every file this package may hold for ``stem``."""
        return (*self.table_paths(stem), stem.pickle)

    def _nothing_stored(self, stem: Location) -> str:
        replaced = f", nor a pickle at {stem}" if self.read_replaced else ""
        return (
            f"nothing stored at {self.table_path(stem)} (nor "
            f"{os.path.basename(self.table_paths(stem)[1].text)}, "
            f"{os.path.basename(stem.pickle.text)}{replaced}): has the "
            "upstream output been materialized?"
        )

    def write_pickle(self, obj: Any, path: Location) -> api.WriteInfo:
        return api.write_pickle(
            obj,
            path.text,
            storage_options=self.storage_options,
            part_size=self.part_size,
            max_concurrency=self.max_concurrency,
        )

    def read_pickle(self, path: Location) -> Any:
        return api.read_pickle(path.text, self.storage_options)

    def delete(self, *paths: Location) -> None:
        """Deletes ``paths`` (absent ones are fine), in one request on a store."""
        if not paths:
            return
        for attempt in range(DELETE_ATTEMPTS):
            try:
                api.delete_all([path.text for path in paths], self.storage_options)
                return
            except StoreError:
                if attempt == DELETE_ATTEMPTS - 1:
                    raise
                time.sleep(DELETE_BACKOFF_SECONDS * 2**attempt)

    # -- what is stored for a stem, as a reference --------------------------------------------

    def stored_format(self, stem: Location) -> str | None:
        """``"parquet"`` or ``"ipc"``, whichever table file the stem has, else None. When both
        are there (a write that died before removing the other format's file), this storage's
        format wins, as it does for every other load (``table_paths``)."""
        for path in self.table_paths(stem):
            format = file_format(path.text)
            if path.remote:
                if api.exists(path.text, self.storage_options):
                    return format
            elif os.path.isfile(path.text):
                return format
        return None

    def stored_table(
        self,
        stem: Location,
        partition_stems: Mapping[str, Location] | None,
        key_columns_setting: Any = None,
        *,
        allow_missing: bool = False,
        on_missing: OnMissing = lambda uri: None,
    ) -> StoredTable | None:
        """What is stored under the partitions' stems (None: the unpartitioned ``stem``); None
        when nothing is. A missing partition raises ``FileNotFoundError`` unless
        ``allow_missing``: then it is reported. ``key_columns_setting`` names the key columns
        (input metadata ``fastio/partition_columns``)."""
        if partition_stems is None:
            stems: dict[str | None, Location] = {None: stem}
            key_columns: tuple[str, ...] = ()
            keys: tuple[tuple[str, ...], ...] = ((),)
        else:
            stems = dict(partition_stems)
            key_columns, keys = partition_keys(partition_stems, key_columns_setting)
        remote = any(location.remote for location in stems.values())
        workers = self.reads.workers(len(stems)) if remote else 1
        with ThreadPoolExecutor(workers, thread_name_prefix="fastio-formats") as pool:
            formats = list(pool.map(self.stored_format, stems.values()))
        allow_missing = allow_missing and partition_stems is not None
        files = []
        for (partition_key, location), key, format in zip(
            stems.items(), keys, formats, strict=True
        ):
            partition = None if partition_key is None else str(partition_key)
            if format is None:
                appended = part_files(location, self.storage_options, partition, key)
                if appended:
                    files.extend(appended)
                    continue
                if not allow_missing and partition_stems is not None:
                    raise FileNotFoundError(
                        f"no table stored at {location.table} (nor {location.parquet}): has the "
                        f"partition {partition_key} been materialized?"
                    )
                on_missing(location.table.text)
                continue
            uri = (location.parquet if format == "parquet" else location.table).text
            files.append(StoredFile(uri, format, partition, key))
        if not files:
            return None
        return StoredTable(files, key_columns, storage_options=self.storage_options)


def _also_told(
    first: Callable[[Location], None] | None, second: Callable[[Location], None] | None
) -> Callable[[Location], None] | None:
    """One callback telling both (either may be None)."""
    if first is None or second is None:
        return first or second

    def both(place: Location) -> None:
        first(place)
        second(place)

    return both
