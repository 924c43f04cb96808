"""Where outputs are stored: the folder layout of Dagster's UPathIOManager, with suffixes.

``<base>/<asset key parts>[/<partition key>]`` plus ``.arrow`` for a table or ``.pickle.zst``
for any other object; an op output goes to ``<base>/<run_id>/<step_key>/<output>``. No Dagster
import: a stem is described by the key parts and partition keys, not by a context.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse
from urllib.request import url2pathname

from dagster_fastio.uris import PARQUET_SUFFIX, PICKLE_SUFFIX, TABLE_SUFFIX, is_remote

__all__ = ["Location", "segment_text"]


def _safe_segments(text: str) -> list[str]:
    """Splits a key on "/" into folder names that cannot leave the base folder, one way only.

    A ".." segment becomes "%2E%2E" and "." "%2E", the escapes Dagster's own path-based I/O
    managers use. A "/" that would leave an empty folder name (leading, doubled or trailing)
    is kept as "%2F" in the next name, so "/a" and "a", "a//b" and "a/b" stay apart. "%"
    itself becomes "%25", which makes the mapping injective: the key "%2E%2E" is stored as
    "%252E%252E", not where ".." is. Keys without "%", "." segments or empty segments keep
    FilesystemIOManager's paths.
    """
    parts = text.replace("%", "%25").split("/")
    segments, pending = [], ""
    for part in parts[:-1]:
        if part:
            segments.append(pending + part)
            pending = ""
        else:
            pending += "%2F"
    last = parts[-1]
    if last or segments or pending:
        segments.append(pending + (last or "%2F"))
    else:
        segments.append(last)
    return ["%2E%2E" if part == ".." else "%2E" if part == "." else part for part in segments]


def segment_text(segment: str) -> str:
    """The text one folder or file name of a stem stands for: ``_safe_segments`` undone for a
    segment (the key "a/b" is the two segments "a" and "b", joined by the caller)."""
    if segment in ("%2E%2E", "%2E"):
        return "." * (len(segment) // 3)
    return segment.replace("%2F", "/").replace("%25", "%")


def _partition_segments(partition_key: str) -> list[str]:
    # A Dagster MultiPartitionKey is a str with `keys_by_dimension`; asking for the attribute
    # keeps Dagster out of this module. One folder per dimension, dimensions sorted by name.
    by_dimension = getattr(partition_key, "keys_by_dimension", None)
    if by_dimension is not None:
        return [
            segment
            for name in sorted(by_dimension)
            for segment in _safe_segments(by_dimension[name])
        ]
    return _safe_segments(partition_key)


@dataclass(frozen=True, slots=True)
class Location:
    """A place under the base: a local path, or an object URI whose key joins with "/"."""

    text: str
    remote: bool

    @staticmethod
    def base(text: str) -> Location:
        """The base folder or prefix that ``base_path`` names."""
        if is_remote(text):
            scheme, _, rest = text.partition("://")
            if not rest.strip("/") and scheme.lower() != "memory":
                raise ValueError(
                    f"base_path {text!r} names no bucket or container: expected "
                    f"{scheme}://<bucket>[/<prefix>]"
                )
            return Location(text.rstrip("/"), remote=True)
        if text.startswith("file://"):
            parsed = urlparse(text)
            if parsed.netloc not in ("", "localhost"):
                raise ValueError(f"{text!r} names another host; file:// URIs must be local")
            text = url2pathname(parsed.path)
        return Location(text, remote=False)

    def joinpath(self, *segments: str) -> Location:
        if self.remote:
            return Location("/".join([self.text, *segments]), remote=True)
        return Location(os.path.join(self.text, *segments), remote=False)

    def stem(self, key_parts: Sequence[str]) -> Location:
        """An output's location without suffix or partition, from its asset key parts (or
        run id, step key and output name)."""
        return self.joinpath(*(segment for part in key_parts for segment in _safe_segments(part)))

    def partitions(self, partition_keys: Iterable[str]) -> dict[str, Location]:
        """The stem of each partition under this (unpartitioned) stem."""
        return {key: self.joinpath(*_partition_segments(key)) for key in partition_keys}

    @property
    def parent(self) -> Location:
        """The folder (or key prefix) this location is in."""
        if self.remote:
            return Location(self.text.rsplit("/", 1)[0], remote=True)
        return Location(os.path.dirname(self.text), remote=False)

    def with_suffix(self, suffix: str) -> Location:
        # Appending keeps dots in partition keys: "0.0-to-1.0" becomes "0.0-to-1.0.arrow".
        return Location(self.text + suffix, self.remote)

    @property
    def table(self) -> Location:
        return self.with_suffix(TABLE_SUFFIX)

    @property
    def parquet(self) -> Location:
        return self.with_suffix(PARQUET_SUFFIX)

    @property
    def pickle(self) -> Location:
        return self.with_suffix(PICKLE_SUFFIX)

    def __str__(self) -> str:
        return self.text
