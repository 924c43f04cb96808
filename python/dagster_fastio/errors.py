"""Exceptions raised by dagster-fastio.

They live in Python so that ``CorruptFileError`` can be both a ``FastIOError`` and a
``ValueError``; the Rust core raises them by name.
"""

from __future__ import annotations

__all__ = ["CorruptFileError", "FastIOError", "StoreError"]


class FastIOError(Exception):
    """Base class of every dagster-fastio error."""


class CorruptFileError(FastIOError, ValueError):
    """The input is not a readable Arrow IPC file or stream (truncated, damaged, other format)."""


class StoreError(FastIOError):
    """An object store refused or failed a request; the message names the URI and the cause."""
