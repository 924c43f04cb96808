"""Exceptions raised by dagster-fastio.

They live in Python so that ``CorruptFileError`` can be both a ``FastIOError`` and a
``ValueError``; the Rust core raises them by name.
"""

from __future__ import annotations

__all__ = [
    "CorruptFileError",
    "FastIOError",
    "NotPicklableError",
    "ObjectChangedError",
    "SchemaMismatchError",
    "StoreError",
    "UnsupportedFileError",
]


class FastIOError(Exception):
    """Base class of every dagster-fastio error."""


class CorruptFileError(FastIOError, ValueError):
    """The input is not a readable Arrow IPC file or stream (truncated, damaged, other format)."""


class UnsupportedFileError(FastIOError, ValueError):
    """A well-formed file using what this reader does not decode (a Parquet file's LZO pages).

    Not a ``CorruptFileError``: the file is intact and other readers may open it. Still a
    ``ValueError``, as every input this package cannot read is.
    """


class StoreError(FastIOError):
    """An object store refused or failed a request; the message names the URI and the cause."""


class ObjectChangedError(StoreError):
    """Another writer replaced the object while it was being read.

    A read sees one version of an object or raises this: ``read`` retries a few times before
    raising it, ``read_batches`` raises it at the first batch after the change.
    """


class NotPicklableError(FastIOError, TypeError):
    """An object that is not a table could not be pickled; the cause is chained."""


class SchemaMismatchError(FastIOError, ValueError):
    """An append whose columns differ from the parts already stored for its key; nothing was
    written. The message names the columns added, missing and retyped."""
