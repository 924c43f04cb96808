"""A read of a store object sees one version of it, or raises ObjectChangedError.

Regression for the mixed read found by probing (reliability issue, item 1): the reader sent a
HEAD, then the footer and the batch ranges without pinning the version, so a writer replacing
the object in between produced a valid table made of two writers' batches.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from servers import S3Server

import dagster_fastio as fio
from dagster_fastio import _core
from dagster_fastio.errors import ObjectChangedError, StoreError

ROWS = 800_000


def version(i: int) -> pa.Table:
    return pa.table({"id": np.full(ROWS, i), "v": np.arange(ROWS)})


def test_streaming_read_refuses_a_replaced_object() -> None:
    uri = "memory://bucket/versions/plain.arrow"
    fio.write(version(1), uri, compression="none", chunk_rows=100_000)
    reader = fio.read_batches(uri)
    first = reader.read_next_batch()
    assert set(first.column("id").to_pylist()) == {1}
    fio.write(version(2), uri, compression="none", chunk_rows=100_000)
    with pytest.raises(ObjectChangedError, match="changed while it was being read") as raised:
        reader.read_all()
    assert isinstance(raised.value, StoreError)
    assert uri in str(raised.value)
    # A fresh read sees the new version whole.
    assert set(fio.read(uri).column("id").to_pylist()) == {2}


def test_streaming_read_of_a_small_object_keeps_the_version_it_downloaded() -> None:
    # Compressed, the whole object arrives with the footer: the read finishes on version 1.
    uri = "memory://bucket/versions/small.arrow"
    fio.write(version(1), uri, compression="zstd", chunk_rows=100_000)
    reader = fio.read_batches(uri)
    reader.read_next_batch()
    fio.write(version(2), uri, compression="zstd", chunk_rows=100_000)
    assert set(reader.read_all().column("id").to_pylist()) == {1}


def test_projected_streaming_read_refuses_a_replaced_object() -> None:
    uri = "memory://bucket/versions/projected.arrow"
    fio.write(version(1), uri, compression="none", chunk_rows=100_000)
    reader = fio.read_batches(uri, columns=["id"])
    reader.read_next_batch()
    fio.write(version(2), uri, compression="none", chunk_rows=100_000)
    with pytest.raises(ObjectChangedError):
        reader.read_all()


def test_deleted_during_a_read_is_a_change_not_an_absence() -> None:
    uri = "memory://bucket/versions/deleted.arrow"
    fio.write(version(1), uri, compression="none", chunk_rows=100_000)
    reader = fio.read_batches(uri)
    reader.read_next_batch()
    _core.delete_object(uri, None)
    with pytest.raises(ObjectChangedError):
        reader.read_all()
    with pytest.raises(FileNotFoundError):
        fio.read(uri)


def concurrent_reads(uri: str, options: dict[str, str] | None, writers: int, reads: int) -> dict:
    """Writers replace `uri` with their own table while readers read it whole and streamed;
    every read must equal one writer's table or raise ObjectChangedError."""
    tables = {i: version(i) for i in range(1, writers + 1)}
    fio.write(tables[1], uri, compression="none", chunk_rows=50_000, storage_options=options)
    stop = threading.Event()
    failures: list[BaseException] = []
    outcome = {"whole": 0, "changed": 0}

    def write_loop(i: int) -> None:
        while not stop.is_set():
            try:
                fio.write(
                    tables[i], uri, compression="none", chunk_rows=50_000, storage_options=options
                )
            except BaseException as error:  # pragma: no cover - reported below
                failures.append(error)
                return

    def read_once(streamed: bool) -> None:
        try:
            if streamed:
                table = fio.read_batches(uri, storage_options=options).read_all()
            else:
                table = fio.read(uri, storage_options=options)
        except ObjectChangedError:
            outcome["changed"] += 1
            return
        ids = set(np.unique(table.column("id").to_numpy()).tolist())
        assert len(ids) == 1, f"a read mixed versions {ids}"
        assert table.equals(tables[ids.pop()])
        outcome["whole"] += 1

    threads = [threading.Thread(target=write_loop, args=(i,)) for i in tables]
    for thread in threads:
        thread.start()
    try:
        for n in range(reads):
            read_once(streamed=n % 2 == 1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures
    return outcome


def test_concurrent_writers_and_readers_in_memory() -> None:
    outcome = concurrent_reads("memory://bucket/versions/busy.arrow", None, writers=4, reads=40)
    assert outcome["whole"] + outcome["changed"] == 40
    assert outcome["whole"] > 0


def test_concurrent_writers_and_readers_on_a_local_path(tmp_path: Path) -> None:
    # A write renames a new file into place and a read holds the file it opened, so a local
    # read always sees one whole version and never needs to report a change.
    outcome = concurrent_reads(str(tmp_path / "busy.arrow"), None, writers=4, reads=40)
    assert outcome == {"whole": 40, "changed": 0}


def test_concurrent_writers_and_readers_on_s3(moto_server: S3Server) -> None:
    # moto, not s3s-fs: s3s-fs renames the new file into place and stores its ETag afterwards,
    # and a GET reads the two separately, so it can answer new bytes under the old ETag.
    bucket = moto_server.create_bucket("versions-busy")
    outcome = concurrent_reads(
        f"s3://{bucket}/busy.arrow", moto_server.options(), writers=2, reads=24
    )
    assert outcome["whole"] + outcome["changed"] == 24
    assert outcome["whole"] > 0


def test_whole_object_reads_pin_the_version_too(s3_server: S3Server, bucket: str) -> None:
    # Pickles and describe() read the whole object in concurrent ranges: one version as well.
    options = s3_server.options()
    uri = f"s3://{bucket}/described.arrow"
    fio.write(version(3), uri, compression="none", chunk_rows=100_000, storage_options=options)
    described = _core.describe(uri, options)
    assert sum(batch[0] for batch in described["batches"]) == ROWS
