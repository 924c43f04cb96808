"""The native writers' one `options` dict: the fields of the core's `WriteOptions`."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from dagster_fastio import _core


def test_an_unknown_option_is_a_value_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsyncc") as raised:
        _core.write_file(pa.table({"x": [1]}), str(tmp_path / "t.arrow"), {"fsyncc": True})
    assert "max_concurrency" in str(raised.value), "the valid options are listed"
    assert not (tmp_path / "t.arrow").exists()


@pytest.mark.parametrize("value", [2**64, 10**50, -(2**200)])
def test_integers_of_any_size_are_refused_by_their_option(value: int) -> None:
    with pytest.raises(ValueError, match=rf"chunk_rows.*{value}") as raised:
        _core.encode(pa.table({"x": [1]}), {"chunk_rows": value})
    assert not isinstance(raised.value, OverflowError)


@pytest.mark.parametrize("value", ["no", 1, None])
def test_a_bool_option_takes_a_bool_only(value: object) -> None:
    with pytest.raises(TypeError):
        _core.encode(pa.table({"x": [1]}), {"content_hash": value})


def test_missing_options_take_their_defaults() -> None:
    _, stats = _core.encode(pa.table({"x": [1]}), {})
    assert stats.content_hash is None and stats.column_stats is None


def test_encode_writes_ipc_only() -> None:
    with pytest.raises(ValueError, match="ipc"):
        _core.encode(pa.table({"x": [1]}), {"format": "parquet"})


@pytest.mark.parametrize("format", ["ipc", "parquet"])
def test_chunk_bytes_sizes_batches_and_row_groups(tmp_path: Path, format: str) -> None:
    table = pa.table({"x": pa.array(range(200_000), pa.int64())})  # 1.6 MB
    path = str(tmp_path / f"t.{format}")
    stats = _core.write_file(table, path, {"format": format, "chunk_bytes": 200_000})
    assert stats.batches == 8
    assert _core.read_footer(path)["batches"] == 8
    with pytest.raises(ValueError, match="chunk_bytes must be a positive number of bytes"):
        _core.write_file(table, path, {"format": format, "chunk_bytes": 0})


def test_chunk_bytes_reaches_the_core_from_the_public_write(tmp_path: Path) -> None:
    # The option added by one field in each language: the Python WriteOptions and the core's.
    import dagster_fastio as fio

    table = pa.table({"x": pa.array(range(200_000), pa.int64())})
    assert fio.write(table, tmp_path / "t.arrow", chunk_bytes=400_000).batches == 4
