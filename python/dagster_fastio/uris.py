"""URIs and file names: whether a URI names a store object, the suffixes of stored files, and
the format a file name implies. String tests only: no I/O."""

from __future__ import annotations

import os

from dagster_fastio.options import check_format

__all__ = [
    "PARQUET_SUFFIX",
    "PARTS_SUFFIX",
    "PICKLE_SUFFIX",
    "TABLE_SUFFIX",
    "PathOrUri",
    "format_of",
    "is_parquet_path",
    "is_remote",
]

PathOrUri = str | os.PathLike[str]

TABLE_SUFFIX = ".arrow"
"""An Arrow IPC table file."""
PARQUET_SUFFIX = ".parquet"
PARTS_SUFFIX = ".parts"
"""The folder of an appended key's parts, beside where its one file would be."""
PICKLE_SUFFIX = ".pickle.zst"
"""Any other object, pickled and zstd-compressed."""


def is_remote(uri: PathOrUri) -> bool:
    """Whether ``uri`` names an object in a store rather than a local file."""
    text = os.fspath(uri)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() != "file"


def is_parquet_path(uri: str) -> bool:
    """Whether a file this package wrote is Parquet: its suffix, exactly as the layout adds it."""
    return uri.endswith(PARQUET_SUFFIX)


def format_of(uri: PathOrUri, format: str | None) -> str:
    """The format asked for, else the one a ``.parquet`` suffix (any case) names, else Arrow
    IPC."""
    if format is not None:
        return check_format(format)
    return "parquet" if os.fspath(uri).lower().endswith(PARQUET_SUFFIX) else "ipc"
