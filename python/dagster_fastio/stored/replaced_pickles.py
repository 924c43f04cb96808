"""What the I/O managers this package replaces stored: one plain pickle per key, at the key's
path with no suffix.

FilesystemIOManager and every UPathIOManager pickle manager write
``<base>/<asset key parts>[/<partition key>]`` (a multi-partition key as one folder per
dimension, dimensions sorted by name) and op outputs ``<base>/<run_id>/<step_key>/<output>``;
S3PickleIOManager, GCSPickleIOManager and ADLS2PickleIOManager write the same paths under their
bucket and prefix (``dagster`` by default). Those are this package's stems, so the pickle of a
stem is the stem itself. Reading one unpickles a file the project's own runs wrote, which is
exactly what the replaced manager did. No Dagster import.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

from dagster_fastio import api
from dagster_fastio.stored.layout import Location

__all__ = ["is_pickle", "multi_partition_stem", "op_output_stems", "read_replaced_pickle"]

# A pickle of protocol 2 or later opens with the PROTO opcode and its protocol number; the
# managers replaced here write protocol 4 (Dagster's PICKLE_PROTOCOL) or 5.
_PROTO = 0x80
_PROTOCOLS = range(2, 6)


def is_pickle(head: bytes) -> bool:
    """Whether bytes that open a file are the start of a pickle a Dagster manager wrote."""
    return len(head) >= 2 and head[0] == _PROTO and head[1] in _PROTOCOLS


def op_output_stems(base: Location, identifier: Sequence[str]) -> list[Location]:
    """Where the replaced managers put an op output (``identifier``: run id, step key, output
    name[, mapping key]) besides FilesystemIOManager's own path, which is this package's stem:
    S3PickleIOManager under ``storage/``, a mapped step's brackets written ``--`` and dropped;
    older GCS and ADLS2 pickle managers under ``storage/<run_id>/files/``."""
    run_id, *parts = identifier
    escaped = [part.replace("[", "--").replace("]", "") for part in parts]
    return [
        base.stem(["storage", run_id, *escaped]),
        base.stem(["storage", run_id, "files", *parts]),
    ]


def multi_partition_stem(asset_stem: Location, partition_key: str) -> Location | None:
    """Where Dagster before 1.1 put a multi-partition key's pickle: one file named after the
    whole key (``<asset>/a|b``), which UPathIOManager still reads."""
    if getattr(partition_key, "keys_by_dimension", None) is None:
        return None
    return asset_stem.stem([str(partition_key)])


def read_replaced_pickle(stem: Location, storage_options: dict[str, str] | None) -> Any:
    """The object a replaced manager pickled for ``stem``; ``FileNotFoundError`` when nothing,
    a folder, or a file that is not a pickle is there."""
    missing = FileNotFoundError(f"no pickle stored at {stem}")
    if stem.remote:
        data = api.read_object(stem.text, storage_options)
        if not is_pickle(data[:2].to_pybytes()):
            raise missing
        return pickle.loads(data)
    try:
        with open(stem.text, "rb") as file:
            if not is_pickle(file.read(2)):
                raise missing
            file.seek(0)
            return pickle.load(file)
    except (IsADirectoryError, NotADirectoryError):
        raise missing from None
