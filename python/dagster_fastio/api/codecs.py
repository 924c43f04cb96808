"""The codecs each format takes: the core's list for Arrow IPC, Parquet's own."""

from __future__ import annotations

from dagster_fastio import _native
from dagster_fastio.options import PARQUET_COMPRESSIONS

__all__ = ["COMPRESSIONS", "check_compression"]

# The core's names, the one list the API, FastIOManager's config and the CLI check against
# (tests/test_writer.py checks the Literal of `options` says the same).
COMPRESSIONS: tuple[str, ...] = _native.COMPRESSIONS


def check_compression(compression: str | None, format: str) -> None:
    """``ValueError`` listing the codecs of ``format`` unless ``compression`` is one (or None,
    the default's)."""
    codecs = PARQUET_COMPRESSIONS if format.lower() == "parquet" else COMPRESSIONS
    if compression is not None and compression.lower() not in codecs:
        raise ValueError(
            f"unknown compression {compression!r} for {format}: expected "
            + ", ".join(repr(codec) for codec in codecs)
        )
