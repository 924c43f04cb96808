"""Rewriting what the replaced I/O managers stored under a base as this package's files.

FilesystemIOManager, the UPathIOManager pickle managers and S3/GCS/ADLS2PickleIOManager leave
one plain pickle per key at the key's stem (``replaced_pickles``). Each is rewritten where
FastIOManager would write the same object, as it would write it: a table as ``<stem>.arrow``
(or ``.parquet``) through ``Storage.table_target`` with its type recorded in the schema, anything
else as ``<stem>.pickle.zst``. The new file is read back and compared with what was written
before the pickle is removed, and every write is atomic, so a migration stopped at any point
leaves each key loadable, from its pickle or from its new file. No Dagster import.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.errors import FastIOError
from dagster_fastio.options import check_compat, check_format
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.replaced_pickles import read_replaced_pickle
from dagster_fastio.stored.storage import Storage
from dagster_fastio.tables.handlers import ARROW_CONVERSION_ERRORS, TableType, table_type_of
from dagster_fastio.uris import PARQUET_SUFFIX, PICKLE_SUFFIX, TABLE_SUFFIX

__all__ = [
    "ALREADY_MIGRATED",
    "FAILED",
    "MIGRATED",
    "SUPERSEDED",
    "UNREADABLE",
    "WOULD_MIGRATE",
    "Candidate",
    "Migration",
    "Outcome",
    "Summary",
    "redact",
]

# What became of one pickle.
WOULD_MIGRATE = "would_migrate"
"""Dry run: it would be rewritten."""
MIGRATED = "migrated"
"""Rewritten and verified (the pickle removed unless kept)."""
ALREADY_MIGRATED = "already_migrated"
"""This package's file of the key holds the same content (an earlier migration wrote it):
only the pickle is left to remove."""
SUPERSEDED = "superseded"
"""This package's file of the key holds other content, which is what loads: the pickle is
an older version, left for the user to look at."""
UNREADABLE = "unreadable"
"""It could not be unpickled here (its class is not importable, or it is damaged); left."""
FAILED = "failed"
"""The rewrite, or its check, failed; the pickle is left and loads as before."""

FAILURES = (UNREADABLE, FAILED)

_OURS = (TABLE_SUFFIX, PARQUET_SUFFIX, PICKLE_SUFFIX)
# Option values shorter than this are flags and regions ("true", "1"), not credentials, and
# masking them would garble ordinary words of a message.
_SECRET_MIN_LENGTH = 6


def redact(text: str, storage_options: dict[str, str] | None) -> str:
    """``text`` with every storage option value masked: any of them may be a credential."""
    for value in sorted((storage_options or {}).values(), key=len, reverse=True):
        if len(value) >= _SECRET_MIN_LENGTH:
            text = text.replace(value, "***")
    return text


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file or object under the base without this package's suffixes: maybe a pickle."""

    key: str
    """Its path relative to the base, "/"-separated."""
    stem: Location
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a migration found for one pickle, and did with it."""

    key: str
    uri: str
    stored_bytes: int
    status: str
    python_type: str | None = None
    rows: int | None = None
    """Rows of a table (pandas, polars, pyarrow); None for other objects."""
    new_uri: str | None = None
    """This package's file of the key: written, or found there."""
    new_bytes: int | None = None
    pickle_removed: bool = False
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILURES


class Migration:
    """The pickles under ``base`` and how each is rewritten: ``candidates()``, then
    ``migrate(candidate)`` for each (a dry run unless ``apply``)."""

    def __init__(
        self,
        base: str,
        storage_options: dict[str, str] | None = None,
        *,
        apply: bool = False,
        keep: bool = False,
        format: str = "ipc",
        compression: str | None = None,
        level: int | None = None,
        compat: str = "standard",
    ) -> None:
        format = check_format(format)
        api.check_compression(compression, format)
        check_compat(compat)
        self.apply = apply
        self.keep = keep
        self.compression = None if compression is None else compression.lower()
        # The settings of a FastIOManager at its defaults but for the flags given, so a table
        # is written as that manager would write it.
        self.storage = Storage(
            base=Location.base(base),
            compression=self.compression,
            level=level,
            part_size=None,
            storage_options=storage_options or None,
            memory_map=False,
            max_concurrency=None,
            format=format,
            compat=compat.lower(),
        )
        self._listed: dict[str, api.StoredObject] = {}
        """Every file or object under the base, by URI, as listed."""

    @property
    def base(self) -> Location:
        return self.storage.base

    @property
    def _options(self) -> dict[str, str] | None:
        return self.storage.storage_options

    def candidates(self) -> list[Candidate]:
        """Every file or object under the base whose name has none of this package's
        suffixes, by key; which of them are pickles is told when each is read."""
        base = self.base
        if not base.remote and not os.path.isdir(base.text):
            raise FileNotFoundError(f"{base.text} is not a folder")
        listed = api.list_objects(base.text, self._options)
        self._listed = {entry.uri: entry for entry in listed}
        found = []
        for entry in listed:
            uri, size = entry.uri, entry.size
            if uri.endswith(_OURS):
                continue
            if base.remote:
                key = uri[len(base.text) :].lstrip("/")
            else:
                key = os.path.relpath(uri, base.text).replace(os.sep, "/")
            found.append(Candidate(key, Location(uri, base.remote), size))
        return found

    def migrate(self, candidate: Candidate) -> Outcome | None:
        """What was found at ``candidate`` and, when applying, done with it; None when it is
        not a pickle (Dagster's storage folder also holds logs and databases)."""
        stem = candidate.stem
        try:
            obj = read_replaced_pickle(stem, self._options)
        except FileNotFoundError:
            return None  # not a pickle, or removed since it was listed
        except (FastIOError, OSError) as error:  # the store or the disk, not the pickle
            return self._outcome(candidate, FAILED, error=self._describe(error))
        # Unpickling runs the pickled classes' own code: anything may be raised.
        except Exception as error:
            return self._outcome(candidate, UNREADABLE, error=self._describe(error))
        table_type = table_type_of(obj)
        python_type = (
            table_type.name
            if table_type is not None
            else f"{type(obj).__module__}.{type(obj).__qualname__}"
        )
        rows = _rows(obj) if table_type is not None else None
        found = self._outcome(candidate, WOULD_MIGRATE, python_type=python_type, rows=rows)
        try:
            return self._rewrite(found, stem, obj, table_type)
        except Exception as error:
            return dataclasses.replace(found, status=FAILED, error=self._describe(error))

    # -- one key ----------------------------------------------------------------------------

    def _rewrite(
        self, found: Outcome, stem: Location, obj: Any, table_type: TableType | None
    ) -> Outcome:
        existing = self._stored_file(stem)
        if existing is not None and not self._pickle_is_newer(stem, existing):
            # Never written over: it is newer than the pickle. The same content means an
            # earlier migration stopped before removing the pickle.
            same = self._holds(existing, obj, table_type)
            found = dataclasses.replace(
                found,
                status=ALREADY_MIGRATED if same else SUPERSEDED,
                new_uri=existing.text,
                new_bytes=self._listed[existing.text].size,
            )
            if same and self.apply and not self.keep:
                self._remove_pickle(stem)
                found = dataclasses.replace(found, pickle_removed=True)
            return found
        if not self.apply:
            return found
        # A pickle newer than this package's file of the key (the old manager wrote it since:
        # a switch back and forth) replaces that file, as it is the key's latest value.
        table = _as_table(table_type, obj)
        if table is not None:
            path, info = self._write_table(stem, table)
        else:
            path, info = self._write_pickle(stem, obj)
        found = dataclasses.replace(
            found, status=MIGRATED, new_uri=path.text, new_bytes=info.stored_bytes
        )
        older = [p for p in (*self.storage.table_paths(stem), stem.pickle) if p != path]
        self.storage.delete(*(p for p in older if p.text in self._listed))
        if not self.keep:
            self._remove_pickle(stem)
            found = dataclasses.replace(found, pickle_removed=True)
        return found

    def _write_table(self, stem: Location, table: pa.Table) -> tuple[Location, api.WriteInfo]:
        path = self.storage.table_path(stem)
        info = self.storage.table_target(path, self.compression).write(table)

        def reads_back() -> bool:
            written = api.content_hash(table)
            back = api.read(path.text, storage_options=self._options)
            if written is None:  # a column type the hash does not cover
                return back.equals(table, check_metadata=True)
            return api.content_hash(back) == written

        self._verify(path, reads_back, "its table reads back with another content hash")
        return path, info

    def _write_pickle(self, stem: Location, obj: Any) -> tuple[Location, api.WriteInfo]:
        path = stem.pickle
        info = self.storage.write_pickle(obj, path)

        def reads_back() -> bool:
            back = api.read_pickle_payload(path.text, self._options)
            return back.equals(pa.py_buffer(pickle.dumps(obj, protocol=5)))

        self._verify(path, reads_back, "its pickle reads back changed")
        return path, info

    def _verify(self, path: Location, reads_back: Callable[[], bool], what: str) -> None:
        """Removes the file just written at ``path`` unless ``reads_back``: FastIOManager
        would load it before the pickle, so a wrong or unreadable one must not stay."""
        try:
            same = reads_back()
        except BaseException:
            self.storage.delete(path)
            raise
        if not same:
            self.storage.delete(path)
            raise ValueError(f"{path.text} was written but {what}: removed, the pickle kept")

    def _pickle_is_newer(self, stem: Location, existing: Location) -> bool:
        """Whether the pickle at ``stem`` was written after this package's file of it."""
        return self._listed[stem.text].modified > self._listed[existing.text].modified

    def _stored_file(self, stem: Location) -> Location | None:
        """This package's file of ``stem`` that FastIOManager loads first, from the listing."""
        for path in (*self.storage.table_paths(stem), stem.pickle):
            if path.text in self._listed:
                return path
        return None

    def _holds(self, path: Location, obj: Any, table_type: TableType | None) -> bool:
        """Whether this package's file at ``path`` holds ``obj``."""
        if path.text.endswith(PICKLE_SUFFIX):
            payload = api.read_pickle_payload(path.text, self._options)
            return payload.equals(pa.py_buffer(pickle.dumps(obj, protocol=5)))
        table = _as_table(table_type, obj)
        if table is None:
            return False
        expected = api.content_hash(table)
        footer = api.read_footer(path.text, self._options)
        if expected is not None and footer.content_hash is not None:
            return footer.content_hash == expected
        back = api.read(path.text, storage_options=self._options)
        return back.equals(table, check_metadata=True)

    def _remove_pickle(self, stem: Location) -> None:
        self.storage.delete(stem)

    def _outcome(self, candidate: Candidate, status: str, **fields: Any) -> Outcome:
        return Outcome(
            key=candidate.key,
            uri=candidate.stem.text,
            stored_bytes=candidate.stored_bytes,
            status=status,
            **fields,
        )

    def _describe(self, error: BaseException) -> str:
        return redact(f"{type(error).__name__}: {error}", self._options)


def _as_table(table_type: TableType | None, obj: Any) -> pa.Table | None:
    """The object as the Arrow table FastIOManager would store, its type recorded in the
    schema; None for an object it pickles (not a table, or a frame Arrow cannot hold)."""
    if table_type is None:
        return None
    try:
        data = table_type.to_arrow(obj)
    except ARROW_CONVERSION_ERRORS:
        if not table_type.may_pickle:
            raise
        return None  # FastIOManager pickles such a frame, as FilesystemIOManager did
    return data if isinstance(data, pa.Table) else data.read_all()


def _rows(obj: Any) -> int | None:
    if isinstance(obj, (pa.Table, pa.RecordBatch)):
        return obj.num_rows
    shape = getattr(obj, "shape", None)  # pandas and polars frames; a LazyFrame has none
    return int(shape[0]) if isinstance(shape, tuple) and shape else None


@dataclass(frozen=True, slots=True)
class Summary:
    """The pickles found under a base, and what their rewriting changed in bytes."""

    pickles: int
    pickle_bytes: int
    statuses: dict[str, int]
    rewritten_bytes_before: int
    """Bytes of the pickles rewritten (or, in a dry run, to be rewritten)."""
    rewritten_bytes_after: int
    """Bytes of the files written for them (0 in a dry run)."""
    removed_bytes: int
    """Bytes of the pickles removed."""
    failed: int

    @staticmethod
    def of(outcomes: Iterable[Outcome]) -> Summary:
        done = list(outcomes)
        statuses: dict[str, int] = {}
        for outcome in done:
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        rewritten = [o for o in done if o.status in (MIGRATED, WOULD_MIGRATE)]
        return Summary(
            pickles=len(done),
            pickle_bytes=sum(o.stored_bytes for o in done),
            statuses=statuses,
            rewritten_bytes_before=sum(o.stored_bytes for o in rewritten),
            rewritten_bytes_after=sum(o.new_bytes or 0 for o in rewritten),
            removed_bytes=sum(o.stored_bytes for o in done if o.pickle_removed),
            failed=sum(o.failed for o in done),
        )
