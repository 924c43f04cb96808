"""Files and objects as they are stored: whether one exists, its size and bytes, listing a
folder or prefix, deleting."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from dagster_fastio import _native
from dagster_fastio.uris import PathOrUri, is_remote

__all__ = [
    "StoredObject",
    "delete",
    "delete_all",
    "exists",
    "list_objects",
    "read_object",
    "stored_size",
]


def exists(
    uri: PathOrUri,
    storage_options: dict[str, str] | None = None,
    *,
    tell_missing_bucket: bool = True,
) -> bool:
    """Whether a file or object is stored at ``uri``. A missing bucket is a ``StoreError``;
    ``tell_missing_bucket=False`` answers False instead, in one request less."""
    return _native.object_exists(os.fspath(uri), storage_options, tell_missing_bucket)


def delete_all(uris: Sequence[PathOrUri], storage_options: dict[str, str] | None = None) -> None:
    """Deletes every one of ``uris``; absent ones are not an error. Objects of one store go in
    one batched request where the store has one (S3's DeleteObjects)."""
    _native.delete_objects([os.fspath(uri) for uri in uris], storage_options)


def read_object(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> pa.Buffer:
    """The bytes of the file or object at ``uri`` as they are stored (one version of an
    object); ``FileNotFoundError`` when absent."""
    return pa.array(_native.read_object(os.fspath(uri), storage_options)).buffers()[1] or (
        pa.py_buffer(b"")
    )


@dataclass(frozen=True, slots=True, order=True)
class StoredObject:
    """A file or object found by ``list_objects``."""

    uri: str
    size: int
    modified: float
    """When it was last written, in seconds since the epoch."""


def list_objects(
    uri: PathOrUri, storage_options: dict[str, str] | None = None
) -> list[StoredObject]:
    """Every file below the folder ``uri`` (a local folder, walked, or a store prefix, listed),
    sorted by URI."""
    text = os.fspath(uri)
    if is_remote(text):
        listed = _native.list_objects(text, storage_options)
        return sorted(StoredObject(*entry) for entry in listed)
    found = []
    for folder, _, names in os.walk(text):
        for name in names:
            path = os.path.join(folder, name)
            try:
                status = os.stat(path)
            except FileNotFoundError:  # removed while the folder was walked
                continue
            found.append(StoredObject(path, status.st_size, status.st_mtime))
    return sorted(found)


def stored_size(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> int:
    """Size in bytes of the file or object at ``uri``; ``FileNotFoundError`` when absent."""
    return _native.object_size(os.fspath(uri), storage_options)


def delete(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> None:
    """Deletes the file or object at ``uri``; an absent one is not an error."""
    _native.delete_object(os.fspath(uri), storage_options)
