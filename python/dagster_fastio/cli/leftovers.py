"""Leftovers of writes that died, under a base path: temporary files of local writes and
incomplete multipart uploads in S3. Listed by default; deleted or aborted only when asked.

A local write holds a lock on its temporary file until it ends, and the kernel drops the lock
when the process dies: a temporary file whose lock can be taken belongs to no live writer. The
next write of the same target reuses such a file; these are the ones of targets not written
again.
S3 keeps the parts of an upload that was neither completed nor aborted (a SIGKILLed writer
cannot abort) and bills for them until a lifecycle rule or `abort_multipart_upload` removes
them; object_store cannot list uploads, so S3 is cleaned through boto3.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The core names a temporary file "." + the target's name + "." + a slot number + ".tmp" (see
# `AtomicFile` in sink.rs).
_TEMPORARY_NAME = re.compile(r"^\..+\.[0-9]{1,6}\.tmp$")


@dataclass(frozen=True)
class Leftover:
    """One temporary file or incomplete upload."""

    location: str
    """The file's path, or the upload's URI."""
    size: int | None
    """Bytes the leftover takes (None where the store does not say without more requests)."""
    age_seconds: float
    in_use: bool
    """Held by a live writer (local) or younger than the age asked for: never removed."""
    upload_id: str | None = None
    removed: bool = False


def _unless_held(path: Path, remove: bool) -> tuple[bool, bool]:
    """Whether a live writer holds `path` and, when none does and `remove` is set, whether it
    was deleted, under the lock taken to find out (so a writer starting meanwhile is spared)."""
    try:
        with open(path, "rb") as file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True, False
            if remove:
                path.unlink()
            return False, remove
    except OSError:
        # Gone (its writer finished), unreadable, or on a file system without locks: not
        # provably abandoned.
        return True, False


def local_leftovers(base: Path, older_than: float, remove: bool) -> Iterator[Leftover]:
    """Temporary files under `base`; with `remove`, deletes those no writer holds that were last
    modified at least `older_than` seconds ago."""
    now = time.time()
    for folder, _, names in os.walk(base):
        for name in sorted(names):
            if not _TEMPORARY_NAME.match(name):
                continue
            path = Path(folder, name)
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # its writer finished meanwhile
            age = now - stat.st_mtime
            in_use, removed = (True, False) if age < older_than else _unless_held(path, remove)
            yield Leftover(str(path), stat.st_size, age, in_use, removed=removed)


def _boto3_client(storage_options: dict[str, str] | None) -> object:
    try:
        import boto3
    except ImportError as error:
        raise RuntimeError(
            "listing incomplete S3 uploads needs boto3 (pip install 'dagster-fastio[aws]'); "
            "object_store has no call for it"
        ) from error
    options = {key.lower(): value for key, value in (storage_options or {}).items()}

    def option(*names: str) -> str | None:
        return next((options[n] for n in names if n in options), None)

    return boto3.client(
        "s3",
        endpoint_url=option("aws_endpoint", "aws_endpoint_url", "endpoint", "endpoint_url"),
        region_name=option("aws_region", "region", "aws_default_region"),
        aws_access_key_id=option("aws_access_key_id", "access_key_id"),
        aws_secret_access_key=option("aws_secret_access_key", "secret_access_key"),
        aws_session_token=option("aws_session_token", "session_token", "aws_token", "token"),
    )


def s3_leftovers(
    uri: str, storage_options: dict[str, str] | None, older_than: float, remove: bool
) -> Iterator[Leftover]:
    """Incomplete multipart uploads under the `s3://bucket/prefix` URI; with `remove`, aborts
    those started at least `older_than` seconds ago."""
    bucket, _, prefix = uri.split("://", 1)[1].partition("/")
    client = _boto3_client(storage_options)
    now = datetime.datetime.now(datetime.timezone.utc)
    paginator = client.get_paginator("list_multipart_uploads")  # type: ignore[attr-defined]
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for upload in page.get("Uploads", []):
            key, upload_id = upload["Key"], upload["UploadId"]
            age = (now - upload["Initiated"]).total_seconds()
            in_use = age < older_than
            removed = False
            if remove and not in_use:
                client.abort_multipart_upload(  # type: ignore[attr-defined]
                    Bucket=bucket, Key=key, UploadId=upload_id
                )
                removed = True
            yield Leftover(f"s3://{bucket}/{key}", None, age, in_use, upload_id, removed)


def leftovers(
    base: str,
    storage_options: dict[str, str] | None = None,
    *,
    older_than: float = 3600.0,
    remove: bool = False,
) -> list[Leftover]:
    """Every leftover under `base` (a local folder or an s3:// prefix)."""
    scheme = base.split("://", 1)[0].lower() if "://" in base else "file"
    if scheme == "file":
        path = Path(base.removeprefix("file://"))
        if not path.is_dir():
            raise FileNotFoundError(f"{base} is not a folder")
        return list(local_leftovers(path, older_than, remove))
    if scheme in ("s3", "s3a"):
        return list(s3_leftovers(base, storage_options, older_than, remove))
    raise ValueError(
        f"{scheme}:// cannot be listed for leftovers here; set the store's lifecycle rule for "
        "incomplete uploads instead (see the README: 'Leftovers')"
    )
