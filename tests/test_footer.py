"""What a file records about itself: row count, content hash, column statistics and caller
metadata in its footer, read back without the data, locally and from S3."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather
import pytest
from hypothesis import given, settings

import dagster_fastio as fio
from dagster_fastio import api
from dagster_fastio.errors import CorruptFileError
from tests.servers import FaultProxy, S3Server


def sample() -> pa.Table:
    n = 5000
    return pa.table(
        {
            "id": pa.array([i if i % 9 else None for i in range(n)], pa.int64()),
            "x": pa.array([i / 7 for i in range(n)], pa.float64()),
            "name": pa.array([f"name {i % 311}" if i % 13 else None for i in range(n)]),
            "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i % 400) for i in range(n)]),
            "at": pa.array(
                [
                    dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=i)
                    for i in range(n)
                ],
                pa.timestamp("us", "UTC"),
            ),
            "flag": pa.array([i % 3 == 0 for i in range(n)]),
            "tags": pa.array([[str(i % 5)] * (i % 3) for i in range(n)]),
        }
    )


def test_the_hash_ignores_batches_codec_and_level_but_not_values(tmp_path: Path) -> None:
    table = sample()

    def hashed(name: str, **options: Any) -> str | None:
        return fio.write(table, tmp_path / name, content_hash=True, **options).content_hash

    hashes = {
        hashed("zstd.arrow"),
        hashed("lz4.arrow", compression="lz4", chunk_rows=777),
        hashed("none.arrow", compression="none", chunk_rows=1),
        hashed("z9.arrow", level=9, chunk_rows=4096),
        hashed("blocks.arrow", chunk_rows=4095),
        api.content_hash(table),
        api.content_hash(pa.Table.from_batches(table.to_batches(max_chunksize=333))),
        api.content_hash(pa.concat_tables([table.slice(0, 10), table.slice(10)])),
    }
    assert len(hashes) == 1 and next(iter(hashes)).startswith("xxh3-128:")
    changed = table.set_column(1, "x", pc.add(table["x"], pa.scalar(0.0)).fill_null(0))
    assert api.content_hash(changed) == api.content_hash(table)  # same values, new buffers
    one_value = table.set_column(0, "id", pa.array([5, *table["id"].to_pylist()[1:]], pa.int64()))
    assert api.content_hash(one_value) != api.content_hash(table)
    one_null = table.set_column(5, "flag", pa.array([None, *table["flag"].to_pylist()[1:]]))
    assert api.content_hash(one_null) != api.content_hash(table)
    assert api.content_hash(
        table.rename_columns([*table.column_names[:-1], "t"])
    ) != api.content_hash(table)
    assert api.content_hash(table.slice(0, 4999)) != api.content_hash(table)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=60),
    cut=st.integers(0, 60),
)
def test_string_hashes_do_not_depend_on_where_the_batches_are_cut(
    values: list[str | None], cut: int
) -> None:
    table = pa.table({"s": pa.array(values, pa.string()), "l": pa.array(values, pa.large_string())})
    cut = min(cut, len(values))
    pieces = pa.Table.from_batches(
        [*table.slice(0, cut).to_batches(), *table.slice(cut).to_batches()], schema=table.schema
    )
    assert api.content_hash(pieces) == api.content_hash(table)


def test_statistics_match_pyarrow_compute(tmp_path: Path) -> None:
    table = sample()
    info = fio.write(table, tmp_path / "t.arrow", chunk_rows=600, statistics=True)
    stats = {column.name: column for column in info.column_stats}
    assert [c.name for c in info.column_stats] == table.column_names
    for name in ["id", "x", "name", "day", "flag"]:
        bounds = pc.min_max(table[name])
        assert stats[name].null_count == table[name].null_count
        assert stats[name].min == _shown(bounds["min"].as_py()), name
        assert stats[name].max == _shown(bounds["max"].as_py()), name
    assert stats["at"].min == "2024-01-01T00:00:00Z"
    assert stats["at"].max == "2024-01-04T11:19:00Z"
    assert stats["tags"].min is None and stats["tags"].null_count == 0


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def test_the_footer_reads_back_without_the_data(tmp_path: Path) -> None:
    table = sample()
    uri = tmp_path / "t.arrow"
    info = fio.write(
        table,
        uri,
        metadata={"dagster/run_id": "run-1", "note": "é ok"},
        content_hash=True,
        statistics=True,
    )
    footer = api.read_footer(uri)
    assert footer.rows == table.num_rows
    assert footer.content_hash == info.content_hash
    assert footer.column_stats == info.column_stats
    assert footer.metadata["dagster/run_id"] == "run-1" and footer.metadata["note"] == "é ok"
    assert footer.schema.equals(table.schema)
    assert footer.stored_bytes == info.stored_bytes
    # Any Arrow reader sees the same footer: pyarrow exposes it as the file's metadata.
    assert (
        pa.ipc.open_file(uri).metadata[b"dagster_fastio.content_hash"] == info.content_hash.encode()
    )
    # Values a caller passes cannot be mistaken for what the encoder measured.
    forged = fio.write(
        table, tmp_path / "f.arrow", metadata={api.CONTENT_HASH_KEY: "forged"}, content_hash=True
    )
    assert api.read_footer(tmp_path / "f.arrow").content_hash == forged.content_hash != "forged"
    with pytest.raises(TypeError, match="must be str"):
        fio.write(table, tmp_path / "g.arrow", metadata={"n": 1})  # type: ignore[dict-item]


def test_hash_and_statistics_are_asked_for(tmp_path: Path) -> None:
    info = fio.write(sample(), tmp_path / "t.arrow")
    assert info.content_hash is None and info.column_stats == ()
    footer = api.read_footer(tmp_path / "t.arrow")
    assert footer.content_hash is None and footer.column_stats == () and footer.rows == 5000


def test_pandas_and_polars_frames_hash_like_their_arrow_tables() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    assert api.content_hash(frame) == api.content_hash(pa.Table.from_pandas(frame))
    polars_frame = pl.DataFrame({"a": [1, 2, 3]})
    assert api.content_hash(polars_frame) == api.content_hash(polars_frame.to_arrow())


def test_footers_of_streams_and_damaged_files_are_refused(tmp_path: Path) -> None:
    table = sample()
    stream = tmp_path / "s.arrows"
    with pa.ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table)
    with pytest.raises(CorruptFileError, match="stream has no footer"):
        api.read_footer(stream)
    good = tmp_path / "t.arrow"
    fio.write(table, good)
    data = bytearray(good.read_bytes())
    data[-12:-10] = b"\xff\x7f"  # a footer length pointing outside the file
    bad = tmp_path / "bad.arrow"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError):
        api.read_footer(bad)
    with pytest.raises(FileNotFoundError):
        api.read_footer(tmp_path / "missing.arrow")
    # A footer from another writer has no row count of ours, but still its schema.
    pa.feather.write_feather(table, tmp_path / "p.arrow")
    foreign = api.read_footer(tmp_path / "p.arrow")
    assert foreign.rows is None and foreign.schema.equals(table.schema)


def test_a_store_footer_is_one_ranged_read(s3s_server: S3Server, s3s_bucket: str) -> None:
    table = pa.concat_tables([sample()] * 40)  # several MiB, so a whole read would show
    proxy = FaultProxy(s3s_server.port).start()
    try:
        options = s3s_server.options(endpoint=proxy.endpoint)
        uri = f"s3://{s3s_bucket}/footer/t.arrow"
        info = fio.write(table, uri, storage_options=options, compression="none", content_hash=True)
        proxy.requests.clear()
        footer = api.read_footer(uri, options)
        assert footer.content_hash == info.content_hash and footer.rows == table.num_rows
        gets = [r for r in proxy.requests if r.method == "GET"]
        assert len(gets) == 1, proxy.requests
        assert [r.method for r in proxy.requests] == ["HEAD", "GET"]
        assert "range" in {key.lower() for key in gets[0].headers}
        with pytest.raises(FileNotFoundError):
            api.read_footer(f"s3://{s3s_bucket}/footer/missing.arrow", options)
    finally:
        proxy.stop()
