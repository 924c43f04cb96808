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

import contextlib
import os
import pickle
from collections.abc import Sequence
from typing import Any

from dagster_fastio import api
from dagster_fastio.stored.layout import Location
from dagster_fastio.uris import PARQUET_SUFFIX, TABLE_SUFFIX

__all__ = [
    "DELETED_NOT_NEWER",
    "KEPT_AS_PICKLE_ZST",
    "is_pickle",
    "make_room_for_partitions",
    "multi_partition_stem",
    "op_output_stems",
    "read_replaced_pickle",
]

# What ``make_room_for_partitions`` did with the pickle in the way.
KEPT_AS_PICKLE_ZST = "kept"
"""Its bytes are stored as ``<stem>.pickle.zst``, which loads as the pickle did."""
DELETED_NOT_NEWER = "deleted"
"""This package's file of the stem is as new or newer: the pickle was never going to load."""

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


def make_room_for_partitions(folder: Location) -> str | None:
    """Clears the file a replaced manager left where a partitioned asset needs its folder,
    without losing its value; what was done (``KEPT_AS_PICKLE_ZST``, ``DELETED_NOT_NEWER``),
    or None when nothing was in the way.

    FilesystemIOManager stores an unpartitioned asset as a suffix-less pickle exactly where the
    partitioned asset's folder goes. UPathIOManager deletes it; that pickle is the asset's last
    unpartitioned value, which Dagster still shows and which loads again if the asset is made
    unpartitioned once more. So its bytes are stored as ``<folder>.pickle.zst``, this package's
    file of the unpartitioned stem (no unpickling: the bytes are moved, compressed), before it is
    removed; unless one of this package's files of the stem is at least as new, which is what
    a load returned instead. A file that is not a pickle is not this package's to remove: that
    is an error. A store has no folders (an object and keys below its name coexist): nothing is
    in the way there.
    """
    if folder.remote or not os.path.isfile(folder.text):
        return None
    with open(folder.text, "rb") as file:
        data = file.read()
        modified = os.fstat(file.fileno()).st_mtime
    if not is_pickle(data[:2]):
        raise FileExistsError(
            f"{folder} is a file where the partitions' folder goes, and not a pickle a replaced "
            "I/O manager wrote: move it away"
        )
    ours = [folder.with_suffix(suffix).text for suffix in (TABLE_SUFFIX, PARQUET_SUFFIX)]
    newest = max(
        (os.stat(path).st_mtime for path in [*ours, folder.pickle.text] if os.path.isfile(path)),
        default=None,
    )
    outcome = DELETED_NOT_NEWER
    if newest is None or newest < modified:
        api.write_pickle_payload(data, folder.pickle.text)
        # Tables of the stem older than the pickle would load before the .pickle.zst: they are
        # older versions, as the pickle's own load (Storage._replaced_pickle_is_newer) has it.
        for path in ours:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        outcome = KEPT_AS_PICKLE_ZST
    with contextlib.suppress(FileNotFoundError):  # another partition's step cleared it
        os.unlink(folder.text)
    return outcome
