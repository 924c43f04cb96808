"""Objects that are not tables, as zstd-compressed pickle bytes (``.pickle.zst``)."""

from __future__ import annotations

import os
import pickle
import time
from typing import Any

import pyarrow as pa

from dagster_fastio import _native
from dagster_fastio.api.write_info import WriteInfo
from dagster_fastio.errors import NotPicklableError
from dagster_fastio.uris import PathOrUri

__all__ = [
    "PICKLE_ZSTD_LEVEL",
    "read_pickle",
    "read_pickle_payload",
    "write_pickle",
    "write_pickle_payload",
]

# zstd level for pickled objects: as fast as the table default.
PICKLE_ZSTD_LEVEL = 1


def write_pickle(
    obj: Any,
    uri: PathOrUri,
    *,
    storage_options: dict[str, str] | None = None,
    part_size: int | None = None,
    max_concurrency: int | None = None,
) -> WriteInfo:
    """Pickles ``obj`` (protocol 5) and stores it zstd-compressed at ``uri``, atomically."""
    start = time.perf_counter()
    try:
        data = pickle.dumps(obj, protocol=5)
    # What pickling raises for a lambda, a lock, a local class or a cycle too deep to walk.
    except (pickle.PicklingError, AttributeError, TypeError, ImportError, RecursionError) as e:
        if isinstance(e, RecursionError):
            # str() of an object too deep to pickle can exceed the recursion limit too.
            described = f"a {type(obj).__qualname__} nested too deeply"
        else:
            described = f"{type(obj).__qualname__} ({e})"
        raise NotPicklableError(f"cannot pickle {described}") from e
    stored_bytes, parts = _native.write_zstd_file(
        os.fspath(uri),
        data,
        PICKLE_ZSTD_LEVEL,
        storage_options=storage_options,
        part_size=part_size,
        max_concurrency=max_concurrency,
    )
    return WriteInfo(
        uri=os.fspath(uri),
        rows=0,
        batches=0,
        raw_bytes=len(data),
        stored_bytes=stored_bytes,
        parts=parts,
        seconds=time.perf_counter() - start,
        compression="zstd",
        format="pickle",
    )


def write_pickle_payload(
    data: bytes | memoryview, uri: PathOrUri, storage_options: dict[str, str] | None = None
) -> int:
    """Stores pickle bytes made elsewhere, zstd-compressed, at ``uri`` (atomically), as
    ``write_pickle`` stores an object's; the stored size."""
    stored_bytes, _ = _native.write_zstd_file(
        os.fspath(uri), data, PICKLE_ZSTD_LEVEL, storage_options=storage_options
    )
    return stored_bytes


def read_pickle_payload(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> pa.Buffer:
    """The decompressed pickle bytes stored at ``uri``, not unpickled."""
    # The bytes arrive as a uint8 Arrow array over Rust's buffer; its data buffer hands them on
    # through the buffer protocol without another copy.
    return pa.array(_native.read_zstd_file(os.fspath(uri), storage_options)).buffers()[1]


def read_pickle(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> Any:
    """The object stored in a ``.pickle.zst`` file or object."""
    return pickle.loads(read_pickle_payload(uri, storage_options))
