"""FastIOManager inside real Dagster runs: stored paths, output metadata, codecs, overwrites,
the default base folder, the demo definitions and the credentials rule.

Type conversions live in test_io_manager_types.py, partitions in test_io_manager_partitions.py
and the multiprocess executor in test_multiprocess.py.
"""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import polars as pl
import polars.testing as plt
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pytest
from dagster_helpers import run_assets, stored_files

import dagster_fastio as fio
from dagster_fastio import FastIOManager
from dagster_fastio.examples.definitions import DAYS, MONTH_AND_ORIGIN, materialize_all
from dagster_fastio.io_manager import read_pickle

ZSTD_FRAME_MAGIC = b"\x28\xb5\x2f\xfd"
LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"
ARROW_FILE_MAGIC = b"ARROW1"


# ---------------------------------------------------------------------------------------------
# Helpers.


def _metadata(result: dg.ExecuteInProcessResult, key: Sequence[str] | str) -> dict[str, Any]:
    """The raw values of the metadata of the one materialization of ``key`` in ``result``."""
    asset_key = dg.AssetKey([key] if isinstance(key, str) else list(key))
    events = [
        event for event in result.get_asset_materialization_events() if event.asset_key == asset_key
    ]
    assert len(events) == 1, f"expected one materialization of {asset_key}, got {len(events)}"
    materialization = events[0].materialization
    return {name: value.value for name, value in materialization.metadata.items()}


def _table(n: int = 5) -> pa.Table:
    return pa.table({"x": list(range(n)), "y": [f"s{i}" for i in range(n)]})


# ---------------------------------------------------------------------------------------------
# Stored paths.


def test_unpartitioned_table_is_stored_at_key_dot_arrow(tmp_path: Path) -> None:
    @dg.asset
    def a() -> pa.Table:
        return _table()

    result = run_assets([a], tmp_path)
    assert stored_files(tmp_path) == ["a.arrow"]
    assert _metadata(result, "a")["dagster/uri"] == str(tmp_path / "a.arrow")
    assert feather.read_table(tmp_path / "a.arrow").equals(_table())


def test_unpartitioned_dict_is_stored_as_zstd_pickle(tmp_path: Path) -> None:
    @dg.asset
    def a() -> dict:
        return {"answer": 42, "items": [1, 2, 3]}

    result = run_assets([a], tmp_path)
    assert stored_files(tmp_path) == ["a.pickle.zst"]
    path = tmp_path / "a.pickle.zst"
    assert _metadata(result, "a")["dagster/uri"] == str(path)
    raw = path.read_bytes()
    assert raw[:4] == ZSTD_FRAME_MAGIC
    assert read_pickle(path) == {"answer": 42, "items": [1, 2, 3]}


def test_key_prefix_becomes_folders(tmp_path: Path) -> None:
    @dg.asset(key_prefix=["p", "q"])
    def a() -> pa.Table:
        return _table()

    result = run_assets([a], tmp_path)
    assert a.key == dg.AssetKey(["p", "q", "a"])
    assert stored_files(tmp_path) == ["p/q/a.arrow"]
    assert _metadata(result, ["p", "q", "a"])["dagster/uri"] == str(
        tmp_path / "p" / "q" / "a.arrow"
    )


def test_static_partition_is_a_file_in_the_asset_folder(tmp_path: Path) -> None:
    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["red", "blue"]))
    def a(context: dg.AssetExecutionContext) -> pa.Table:
        return pa.table({"colour": [context.partition_key]})

    run_assets([a], tmp_path, partition_key="blue")
    assert stored_files(tmp_path) == ["a/blue.arrow"]
    run_assets([a], tmp_path, partition_key="red")
    assert stored_files(tmp_path) == ["a/blue.arrow", "a/red.arrow"]
    assert feather.read_table(tmp_path / "a" / "red.arrow").column("colour").to_pylist() == ["red"]


def test_partition_key_with_dots_keeps_them(tmp_path: Path) -> None:
    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["0.0-to-1.0", "v1.2.3"]))
    def a(context: dg.AssetExecutionContext) -> pa.Table:
        return pa.table({"key": [context.partition_key]})

    run_assets([a], tmp_path, partition_key="0.0-to-1.0")
    run_assets([a], tmp_path, partition_key="v1.2.3")
    assert stored_files(tmp_path) == ["a/0.0-to-1.0.arrow", "a/v1.2.3.arrow"]


def test_multi_partition_key_is_one_folder_per_dimension_sorted_by_name(tmp_path: Path) -> None:
    # Declared "zone" first, "colour" second: the folders go colour/zone all the same.
    partitions = dg.MultiPartitionsDefinition(
        {
            "zone": dg.StaticPartitionsDefinition(["north", "south"]),
            "colour": dg.StaticPartitionsDefinition(["red", "blue"]),
        }
    )

    @dg.asset(partitions_def=partitions)
    def a(context: dg.AssetExecutionContext) -> pa.Table:
        keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
        return pa.table({"zone": [keys["zone"]], "colour": [keys["colour"]]})

    result = run_assets(
        [a], tmp_path, partition_key=dg.MultiPartitionKey({"zone": "south", "colour": "red"})
    )
    assert stored_files(tmp_path) == ["a/red/south.arrow"]
    assert _metadata(result, "a")["dagster/uri"] == str(tmp_path / "a" / "red" / "south.arrow")
    assert feather.read_table(tmp_path / "a" / "red" / "south.arrow").to_pylist() == [
        {"zone": "south", "colour": "red"}
    ]


def test_op_outputs_go_to_run_id_step_key_output_name(tmp_path: Path) -> None:
    @dg.op
    def make_table() -> pa.Table:
        return _table(3)

    @dg.op(out={"left": dg.Out(), "right": dg.Out()})
    def split(table: pa.Table) -> tuple[pa.Table, dict]:
        return table.slice(0, 1), {"rest": table.num_rows - 1}

    @dg.op
    def combine(left: pa.Table, right: dict) -> int:
        assert left.to_pylist() == [{"x": 0, "y": "s0"}]
        assert right == {"rest": 2}
        return left.num_rows + right["rest"]

    @dg.job
    def pipeline() -> None:
        left, right = split(make_table())
        combine(left, right)

    result = pipeline.execute_in_process(
        resources={"io_manager": FastIOManager(base_path=str(tmp_path))}
    )
    assert result.success
    assert result.output_for_node("combine") == 3
    run = result.run_id
    assert stored_files(tmp_path) == [
        f"{run}/combine/result.pickle.zst",
        f"{run}/make_table/result.arrow",
        f"{run}/split/left.arrow",
        f"{run}/split/right.pickle.zst",
    ]
    assert feather.read_table(tmp_path / run / "make_table" / "result.arrow").equals(_table(3))


def test_dynamic_op_outputs_keep_their_mapping_key(tmp_path: Path) -> None:
    @dg.op(out=dg.DynamicOut())
    def fan_out():
        for name in ("one", "two"):
            yield dg.DynamicOutput(pa.table({"name": [name]}), mapping_key=name)

    @dg.op
    def count(table: pa.Table) -> int:
        return table.num_rows

    @dg.op
    def total(counts: list) -> int:
        return sum(counts)

    @dg.job
    def fan() -> None:
        total(fan_out().map(count).collect())

    result = fan.execute_in_process(
        resources={"io_manager": FastIOManager(base_path=str(tmp_path))}
    )
    assert result.success
    assert result.output_for_node("total") == 2
    run = result.run_id
    assert stored_files(tmp_path) == [
        f"{run}/count[one]/result.pickle.zst",
        f"{run}/count[two]/result.pickle.zst",
        f"{run}/fan_out/result/one.arrow",
        f"{run}/fan_out/result/two.arrow",
        f"{run}/total/result.pickle.zst",
    ]


def _assert_all_inside(root: Path, base: Path) -> None:
    """Nothing was written next to ``base`` and every file resolves to a place under it."""
    assert sorted(p.name for p in root.iterdir()) == [base.name]
    for path in base.rglob("*"):
        assert path.resolve().is_relative_to(base.resolve()), path


def test_asset_keys_with_dot_dot_or_leading_slash_stay_inside_base(tmp_path: Path) -> None:
    base = tmp_path / "base"

    @dg.asset(key=dg.AssetKey(["..", "..", "evil"]))
    def climber() -> pa.Table:
        return _table(1)

    @dg.multi_asset(outs={"out": dg.AssetOut(key=dg.AssetKey(["/etc", "evil"]))}, name="rooted")
    def rooted() -> pa.Table:
        return _table(2)

    @dg.asset(key=dg.AssetKey(["a", ".", "b"]))
    def dotted() -> dict:
        return {"ok": True}

    @dg.asset(
        ins={
            "c": dg.AssetIn(key=dg.AssetKey(["..", "..", "evil"])),
            "r": dg.AssetIn(key=dg.AssetKey(["/etc", "evil"])),
            "d": dg.AssetIn(key=dg.AssetKey(["a", ".", "b"])),
        }
    )
    def reader(c: pa.Table, r: pa.Table, d: dict) -> int:
        assert c.equals(_table(1))
        assert r.equals(_table(2))
        assert d == {"ok": True}
        return 1

    run_assets([climber, rooted, dotted, reader], base)
    _assert_all_inside(tmp_path, base)
    assert stored_files(base) == [
        "%2E%2E/%2E%2E/evil.arrow",
        "%2Fetc/evil.arrow",
        "a/%2E/b.pickle.zst",
        "reader.pickle.zst",
    ]


def test_partition_keys_with_dot_dot_or_leading_slash_stay_inside_base(tmp_path: Path) -> None:
    base = tmp_path / "base"
    keys = ["..", "../../up", "/root/abs", "x/../../../y", "."]
    partitions = dg.StaticPartitionsDefinition(keys)

    @dg.asset(partitions_def=partitions)
    def a(context: dg.AssetExecutionContext) -> pa.Table:
        return pa.table({"key": [context.partition_key]})

    @dg.asset
    def everything(a: dict[str, pa.Table]) -> list:
        return sorted(table.column("key")[0].as_py() for table in a.values())

    for key in keys:
        run_assets([a], base, partition_key=key)
    run_assets([a, everything], base, selection=[everything])
    _assert_all_inside(tmp_path, base)
    assert stored_files(base) == sorted(
        [
            "a/%2E%2E.arrow",
            "a/%2E%2E/%2E%2E/up.arrow",
            "a/%2Froot/abs.arrow",
            "a/x/%2E%2E/%2E%2E/%2E%2E/y.arrow",
            "a/%2E.arrow",
            "everything.pickle.zst",
        ]
    )
    loaded = read_pickle(base / "everything.pickle.zst")
    assert loaded == sorted(keys)


def test_distinct_partition_keys_never_share_a_file(tmp_path: Path) -> None:
    # Regression: ".." and "%2E%2E", "/" and "%2F", "." and "%2E", "a//b" and "a/b" were
    # stored in one file, and loading ".." returned "%2E%2E"'s data.
    base = tmp_path / "base"
    keys = ["..", "%2E%2E", "/x", "%2Fx", ".", "%2E", "a//b", "a/b", "a/", "a", "100%"]
    partitions = dg.StaticPartitionsDefinition(keys)

    @dg.asset(partitions_def=partitions)
    def p(context: dg.AssetExecutionContext) -> pa.Table:
        return pa.table({"key": [context.partition_key]})

    @dg.asset
    def every(p: dict[str, pa.Table]) -> dict:
        return {key: table.column("key")[0].as_py() for key, table in p.items()}

    for key in keys:
        run_assets([p], base, partition_key=key)
    run_assets([p, every], base, selection=[every])
    _assert_all_inside(tmp_path, base)
    files = [name for name in stored_files(base) if name.startswith("p/")]
    assert len(files) == len(keys), files
    assert read_pickle(base / "every.pickle.zst") == {key: key for key in keys}


def test_key_escaping_is_injective_over_every_short_key() -> None:
    from itertools import product

    from dagster_fastio.layout import _safe_segments

    seen: dict[tuple[str, ...], str] = {}
    for length in range(6):
        for chars in product("a/.%2FE", repeat=length):
            key = "".join(chars)
            segments = tuple(_safe_segments(key))
            assert seen.setdefault(segments, key) == key, (key, seen[segments])
            if key:
                assert not {"", ".", ".."} & set(segments), (key, segments)


# ---------------------------------------------------------------------------------------------
# Output metadata.


def test_table_output_metadata(tmp_path: Path) -> None:
    table = pa.table(
        {
            "x": pa.array(range(10_000), pa.int64()),
            "label": pa.array([f"row {i % 7}" for i in range(10_000)]),
            "score": pa.array([i / 3 for i in range(10_000)], pa.float64()),
        }
    )

    @dg.asset
    def a() -> pa.Table:
        return table

    meta = _metadata(run_assets([a], tmp_path), "a")
    path = tmp_path / "a.arrow"
    assert meta["dagster/row_count"] == 10_000
    assert "dagster/partition_row_count" not in meta
    schema = meta["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    assert [column.name for column in schema.columns] == ["x", "label", "score"]
    assert [column.type for column in schema.columns] == ["int64", "string", "double"]
    assert meta["dagster/uri"] == str(path)
    assert meta["stored_bytes"] == path.stat().st_size
    assert meta["raw_bytes"] >= table.nbytes
    # The default on a local disk, where it hands tables over fastest.
    assert meta["compression"] == "lz4"
    assert meta["compression_ratio"] == pytest.approx(
        meta["raw_bytes"] / meta["stored_bytes"], abs=1e-3
    )
    assert meta["compression_ratio"] > 1
    assert meta["write_seconds"] >= 0
    assert meta["throughput_mb_s"] >= 0
    assert meta["parts"] == 1


def test_pandas_output_metadata_names_columns_but_not_the_unnamed_index(tmp_path: Path) -> None:
    @dg.asset
    def unnamed() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2, 3]}, index=[10, 20, 30])

    @dg.asset
    def named() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2, 3]}, index=pd.Index([10, 20, 30], name="id"))

    result = run_assets([unnamed, named], tmp_path)
    unnamed_meta = _metadata(result, "unnamed")
    assert [c.name for c in unnamed_meta["dagster/column_schema"].columns] == ["x"]
    assert unnamed_meta["dagster/row_count"] == 3
    named_meta = _metadata(result, "named")
    assert [c.name for c in named_meta["dagster/column_schema"].columns] == ["x", "id"]


def test_partitioned_output_reports_partition_and_total_row_counts(tmp_path: Path) -> None:
    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["j", "k", "l"]))
    def a(context: dg.AssetExecutionContext) -> pa.Table:
        return _table({"j": 3, "k": 7, "l": 0}[context.partition_key])

    meta = _metadata(run_assets([a], tmp_path, partition_key="k"), "a")
    assert meta["dagster/partition_row_count"] == 7
    assert meta["dagster/row_count"] == 7  # the only partition stored so far
    assert meta["stored_bytes"] == (tmp_path / "a" / "k.arrow").stat().st_size
    meta = _metadata(run_assets([a], tmp_path, partition_key="j"), "a")
    assert (meta["dagster/partition_row_count"], meta["dagster/row_count"]) == (3, 10)
    meta = _metadata(run_assets([a], tmp_path, partition_key="k"), "a")
    assert (meta["dagster/partition_row_count"], meta["dagster/row_count"]) == (7, 10)


def test_pickle_output_metadata(tmp_path: Path) -> None:
    @dg.asset
    def a() -> dict:
        return {"numbers": list(range(1000))}

    meta = _metadata(run_assets([a], tmp_path), "a")
    path = tmp_path / "a.pickle.zst"
    assert meta["python_type"] == "dict"
    assert meta["dagster/uri"] == str(path)
    assert meta["stored_bytes"] == path.stat().st_size
    assert meta["raw_bytes"] == len(pickle.dumps({"numbers": list(range(1000))}, protocol=5))
    assert meta["compression"] == "zstd"
    assert meta["parts"] == 1
    assert "dagster/row_count" not in meta


def _compressible(n: int = 50_000) -> pa.Table:
    return pa.table({"x": pa.array([i % 10 for i in range(n)], pa.int64())})


def _codec_magics(path: Path) -> tuple[bool, bool]:
    """(holds a zstd frame, holds an lz4 frame): Arrow's compressed buffers are codec frames."""
    raw = path.read_bytes()
    assert raw[:6] == ARROW_FILE_MAGIC
    return ZSTD_FRAME_MAGIC in raw, LZ4_FRAME_MAGIC in raw


def test_per_asset_compression_override(tmp_path: Path) -> None:
    @dg.asset(metadata={"fastio/compression": "zstd"})
    def small() -> pa.Table:
        return _compressible()

    @dg.asset
    def default() -> pa.Table:
        return _compressible()

    @dg.asset(metadata={"fastio/compression": "none"})
    def plain() -> pa.Table:
        return _compressible()

    result = run_assets([small, default, plain], tmp_path)
    assert _metadata(result, "small")["compression"] == "zstd"
    assert _metadata(result, "default")["compression"] == "lz4"
    assert _metadata(result, "plain")["compression"] == "none"
    assert _codec_magics(tmp_path / "small.arrow") == (True, False)
    assert _codec_magics(tmp_path / "default.arrow") == (False, True)
    assert _codec_magics(tmp_path / "plain.arrow") == (False, False)
    sizes = {name: (tmp_path / f"{name}.arrow").stat().st_size for name in ("small", "default")}
    assert sizes["small"] != sizes["default"]
    assert max(sizes.values()) < (tmp_path / "plain.arrow").stat().st_size
    for name in ("small", "default", "plain"):
        with ipc.open_file(tmp_path / f"{name}.arrow") as reader:
            assert reader.get_batch(0).column(0).to_pylist()[:12] == [*range(10), 0, 1]


def test_default_compression_follows_the_location(tmp_path: Path) -> None:
    @dg.asset
    def a() -> pa.Table:
        return _compressible()

    local = _metadata(run_assets([a], tmp_path), "a")
    assert local["compression"] == "lz4"
    store = FastIOManager(base_path="memory://bucket/default-codec")
    remote = _metadata(run_assets([a], tmp_path, io_manager=store), "a")
    assert remote["compression"] == "zstd"
    leveled = FastIOManager(base_path=str(tmp_path / "leveled"), compression_level=5)
    assert _metadata(run_assets([a], tmp_path, io_manager=leveled), "a")["compression"] == "zstd"


def test_a_table_lz4_cannot_shrink_is_stored_uncompressed_on_a_local_disk(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(7)
    noise = pa.table({f"n{i}": rng.standard_normal(40_000) for i in range(4)})
    frame = pd.DataFrame({"noise": rng.standard_normal(40_000), "x": range(40_000)})

    @dg.asset
    def random() -> pa.Table:
        return noise

    @dg.asset
    def random_frame() -> pd.DataFrame:
        return frame

    @dg.asset
    def compressible() -> pa.Table:
        return _compressible()

    @dg.asset(metadata={"fastio/compression": "lz4"})
    def asked_for() -> pa.Table:
        return noise

    @dg.asset
    def loads(random: pa.Table, random_frame: pd.DataFrame) -> int:
        assert random.equals(noise)
        pd.testing.assert_frame_equal(random_frame, frame)
        return 1

    result = run_assets([random, random_frame, compressible, asked_for, loads], tmp_path)
    for name in ("random", "random_frame"):
        meta = _metadata(result, name)
        assert meta["compression"] == "none"
        assert meta["compression_reason"].startswith("none: a sample compressed")
        assert _codec_magics(tmp_path / f"{name}.arrow") == (False, False)
    chosen = _metadata(result, "compressible")
    assert chosen["compression"] == "lz4"
    assert chosen["compression_reason"].startswith("lz4: a sample compressed")
    # A codec the definition asks for is used as it is, with no sample taken.
    assert _metadata(result, "asked_for")["compression"] == "lz4"
    assert "compression_reason" not in _metadata(result, "asked_for")
    # On a store the bytes are the cost: zstd, whatever the sample would say.
    store = FastIOManager(base_path="memory://bucket/codec-choice")
    remote = _metadata(run_assets([random], tmp_path, io_manager=store), "random")
    assert remote["compression"] == "zstd"
    assert "compression_reason" not in remote


def test_manager_wide_compression_setting(tmp_path: Path) -> None:
    @dg.asset
    def a() -> pa.Table:
        return _compressible()

    manager = FastIOManager(base_path=str(tmp_path), compression="zstd")
    meta = _metadata(run_assets([a], tmp_path, io_manager=manager), "a")
    assert meta["compression"] == "zstd"
    assert _codec_magics(tmp_path / "a.arrow") == (True, False)


def test_unknown_compression_fails_naming_the_choices(tmp_path: Path) -> None:
    @dg.asset
    def a() -> pa.Table:
        return _table()

    manager = FastIOManager(base_path=str(tmp_path), compression="brotli")
    with pytest.raises(dg.DagsterResourceFunctionError) as caught:
        run_assets([a], tmp_path, io_manager=manager)
    cause = caught.value.__cause__
    assert isinstance(cause, ValueError)
    assert "brotli" in str(cause)
    for choice in ("zstd", "lz4", "none"):
        assert choice in str(cause)
    assert stored_files(tmp_path) == []


def test_unknown_per_asset_compression_fails_the_step(tmp_path: Path) -> None:
    @dg.asset(metadata={"fastio/compression": "gzip"})
    def a() -> pa.Table:
        return _table()

    result = run_assets([a], tmp_path, raise_on_error=False)
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    message = error.to_string()
    assert "gzip" in message
    assert "zstd" in message
    assert not (tmp_path / "a.arrow").exists()


# ---------------------------------------------------------------------------------------------
# Overwrites.


def test_rematerialization_overwrites_without_leftovers(tmp_path: Path) -> None:
    def version(rows: int) -> list[dg.AssetsDefinition]:
        @dg.asset
        def a() -> pa.Table:
            return _table(rows)

        @dg.asset
        def seen(a: pa.Table) -> int:
            return a.num_rows

        return [a, seen]

    run_assets(version(5), tmp_path)
    result = run_assets(version(9), tmp_path)
    assert result.output_for_node("seen") == 9
    assert feather.read_table(tmp_path / "a.arrow").equals(_table(9))
    assert stored_files(tmp_path) == ["a.arrow", "seen.pickle.zst"]
    assert read_pickle(tmp_path / "seen.pickle.zst") == 9


def test_type_change_between_runs_removes_the_old_format(tmp_path: Path) -> None:
    def version(value: Any) -> list[dg.AssetsDefinition]:
        @dg.asset
        def a():  # unannotated on purpose: the stored type comes back
            return value

        @dg.asset
        def seen(a):
            return a

        return [a, seen]

    run_assets(version(_table(2)), tmp_path)
    assert "a.arrow" in stored_files(tmp_path)
    result = run_assets(version({"now": "a dict"}), tmp_path)
    assert result.output_for_node("seen") == {"now": "a dict"}
    assert stored_files(tmp_path) == ["a.pickle.zst", "seen.pickle.zst"]
    result = run_assets(version(_table(4)), tmp_path)
    assert result.output_for_node("seen").equals(_table(4))
    assert stored_files(tmp_path) == ["a.arrow", "seen.arrow"]


def test_failed_rematerialization_keeps_the_previous_version(tmp_path: Path) -> None:
    class BreaksHalfway:
        """An Arrow stream whose source fails after its first batch."""

        def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
            def batches() -> Any:
                yield pa.record_batch({"x": [100], "y": ["new"]})
                raise RuntimeError("the source broke")

            schema = pa.schema([("x", pa.int64()), ("y", pa.string())])
            reader = pa.RecordBatchReader.from_batches(schema, batches())
            return reader.__arrow_c_stream__(requested_schema)

    @dg.asset(name="a")
    def good() -> pa.Table:
        return _table(3)

    @dg.asset(name="a")
    def broken():
        return BreaksHalfway()

    run_assets([good], tmp_path)
    result = run_assets([broken], tmp_path, raise_on_error=False)
    assert not result.success
    assert stored_files(tmp_path) == ["a.arrow"]
    assert feather.read_table(tmp_path / "a.arrow").equals(_table(3))


def test_compression_level_setting(tmp_path: Path) -> None:
    text = pa.table({"s": [f"row {i} says {i * 7919 % 1000}" for i in range(50_000)]})

    @dg.asset
    def a() -> pa.Table:
        return text

    sizes = {}
    for level in (1, 19):
        base = tmp_path / f"level{level}"
        manager = FastIOManager(base_path=str(base), compression_level=level)
        meta = _metadata(run_assets([a], base, io_manager=manager), "a")
        assert meta["compression"] == "zstd"
        assert feather.read_table(base / "a.arrow").equals(text)
        sizes[level] = meta["stored_bytes"]
    assert sizes[19] < sizes[1]


# ---------------------------------------------------------------------------------------------
# Interoperability of the stored files.


def test_stored_files_open_in_pyarrow_feather_and_polars(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"n": [1, 2, 3], "s": ["a", "b", "c"], "f": [0.5, None, 2.5]},
    )
    polars_frame = pl.DataFrame({"n": [4, 5], "s": ["d", "e"]})
    arrow_table = _table(4)

    @dg.asset
    def from_pandas() -> pd.DataFrame:
        return frame

    @dg.asset
    def from_polars() -> pl.DataFrame:
        return polars_frame

    @dg.asset
    def from_arrow() -> pa.Table:
        return arrow_table

    run_assets([from_pandas, from_polars, from_arrow], tmp_path)
    expected_arrow = {
        "from_pandas": pa.Table.from_pandas(frame, preserve_index=False),
        # polars strings are stored as the views polars holds (string_view), not converted.
        "from_polars": polars_frame.to_arrow(compat_level=pl.CompatLevel.newest()),
        "from_arrow": arrow_table,
    }
    for name, expected in expected_arrow.items():
        path = tmp_path / f"{name}.arrow"
        loaded = feather.read_table(path)
        assert loaded.select(expected.column_names).equals(expected), name
        plt.assert_frame_equal(
            pl.read_ipc(path).select(expected.column_names),
            pl.from_arrow(expected),
        )
    pd.testing.assert_frame_equal(
        feather.read_table(tmp_path / "from_pandas.arrow").to_pandas(), frame
    )


# ---------------------------------------------------------------------------------------------
# The default base folder: the instance's storage folder.


def test_default_base_path_is_the_ephemeral_instance_storage(tmp_path: Path) -> None:
    @dg.asset
    def a() -> pa.Table:
        return _table()

    @dg.asset
    def b(a: pa.Table) -> dict:
        return {"rows": a.num_rows}

    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path)) as instance:
        storage = Path(instance.storage_directory())
        result = run_assets([a, b], tmp_path, instance=instance, io_manager=FastIOManager())
    assert storage.is_relative_to(tmp_path)
    assert _metadata(result, "a")["dagster/uri"] == str(storage / "a.arrow")
    assert feather.read_table(storage / "a.arrow").equals(_table())
    assert read_pickle(storage / "b.pickle.zst") == {"rows": 5}


def test_default_base_path_is_the_test_instance_storage(tmp_path: Path) -> None:
    @dg.asset
    def a() -> pl.DataFrame:
        return pl.DataFrame({"z": [1, 2]})

    @dg.asset
    def pickled_by_dagster() -> dict:
        return {"by": "FilesystemIOManager"}

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        storage = Path(instance.storage_directory())
        assert storage.is_relative_to(tmp_path)
        run_assets([a], tmp_path, instance=instance, io_manager=FastIOManager())
        assert (storage / "a.arrow").is_file()
        plt.assert_frame_equal(pl.read_ipc(storage / "a.arrow"), pl.DataFrame({"z": [1, 2]}))
        # The same folder Dagster's own FilesystemIOManager writes to by default.
        run_assets(
            [pickled_by_dagster], tmp_path, instance=instance, io_manager=dg.FilesystemIOManager()
        )
        assert (storage / "pickled_by_dagster").is_file()


def test_file_uri_base_path(tmp_path: Path) -> None:
    @dg.asset
    def a() -> pa.Table:
        return _table()

    @dg.asset
    def b(a: pa.Table) -> int:
        return a.num_rows

    manager = FastIOManager(base_path=f"file://{tmp_path}")
    result = run_assets([a, b], tmp_path, io_manager=manager)
    assert result.output_for_node("b") == 5
    assert stored_files(tmp_path) == ["a.arrow", "b.pickle.zst"]


def test_load_asset_value_reads_through_the_manager(tmp_path: Path) -> None:
    letters = dg.StaticPartitionsDefinition(["a", "b"])

    @dg.asset
    def frame() -> pd.DataFrame:
        return pd.DataFrame({"v": [1, 2]}, index=pd.Index(["x", "y"], name="k"))

    @dg.asset(partitions_def=letters)
    def part(context: dg.AssetExecutionContext) -> pa.Table:
        return pa.table({"letter": [context.partition_key]})

    manager = FastIOManager(base_path=str(tmp_path))
    run_assets([frame], tmp_path, io_manager=manager)
    for key in ("a", "b"):
        run_assets([part], tmp_path, partition_key=key, io_manager=manager)
    defs = dg.Definitions(assets=[frame, part], resources={"io_manager": manager})
    pd.testing.assert_frame_equal(
        defs.load_asset_value("frame"),
        pd.DataFrame({"v": [1, 2]}, index=pd.Index(["x", "y"], name="k")),
    )
    polars_frame = defs.load_asset_value("frame", python_type=pl.DataFrame)
    assert isinstance(polars_frame, pl.DataFrame)
    assert polars_frame.columns == ["v", "k"]
    assert defs.load_asset_value("part", partition_key="b").to_pylist() == [{"letter": "b"}]


def test_object_store_base_path_is_never_a_local_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "memory://prefix" names an object store; whether or not this version reaches it, the
    # manager must not create a folder called "memory:" in the working directory.
    monkeypatch.chdir(tmp_path)

    @dg.asset
    def a() -> pa.Table:
        return _table()

    manager = FastIOManager(base_path="memory://prefix")
    result = run_assets([a], tmp_path, io_manager=manager, raise_on_error=False)
    assert list(tmp_path.iterdir()) == []
    if result.success:
        assert _metadata(result, "a")["dagster/uri"] == "memory://prefix/a.arrow"
    else:
        error = result.get_step_failure_events()[0].step_failure_data.error
        assert error is not None
        assert "memory://prefix" in error.to_string()


# ---------------------------------------------------------------------------------------------
# The demo definitions.


def test_demo_definitions_materialize_everything(tmp_path: Path) -> None:
    materialize_all(FastIOManager(base_path=str(tmp_path)))
    days = DAYS.get_partition_keys()
    assert days == ["2013-01-01", "2013-01-02", "2013-01-03"]
    expected = {
        "flights.arrow",
        "carrier_delays.arrow",
        "route_counts.pickle.zst",
        "late_share.pickle.zst",
        "first_days_summary.arrow",
        "busiest_day.pickle.zst",
        *(f"daily_flights/{day}.arrow" for day in days),
        *(
            f"monthly_origin_flights/{key.keys_by_dimension['month']}/"
            f"{key.keys_by_dimension['origin']}.arrow"
            for key in MONTH_AND_ORIGIN.get_partition_keys()
        ),
    }
    assert set(stored_files(tmp_path)) == expected
    assert len(expected) == 6 + 3 + 6

    def stored(name: str) -> Any:
        return read_pickle(tmp_path / f"{name}.pickle.zst")

    flights = feather.read_table(tmp_path / "flights.arrow")
    assert flights.num_rows == 336_776
    assert stored("busiest_day") in days
    assert sum(stored("route_counts").values()) == 336_776
    assert 0 < stored("late_share") < 1

    daily_rows = {
        day: feather.read_table(tmp_path / "daily_flights" / f"{day}.arrow").num_rows
        for day in days
    }
    assert stored("busiest_day") == max(daily_rows, key=daily_rows.__getitem__)
    summary = fio.read(tmp_path / "first_days_summary.arrow")
    assert sorted(summary.column("origin").to_pylist()) == ["EWR", "JFK", "LGA"]
    assert sum(summary.column("flight_count").to_pylist()) == sum(daily_rows.values())
    carrier_delays = fio.read(tmp_path / "carrier_delays.arrow").to_pandas()
    assert carrier_delays.index.name == "carrier"
    assert carrier_delays.index.is_monotonic_increasing
    january_jfk = feather.read_table(tmp_path / "monthly_origin_flights" / "1" / "JFK.arrow")
    assert set(january_jfk.column("origin").to_pylist()) == {"JFK"}
    assert set(january_jfk.column("month").to_pylist()) == {1}


# ---------------------------------------------------------------------------------------------
# Credentials never leak.


SECRET = "SECRET123"


def test_storage_options_never_appear_in_metadata_or_logs(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    @dg.asset
    def a() -> pa.Table:
        return _table()

    @dg.asset
    def b(a: pa.Table) -> dict:
        return {"rows": a.num_rows}

    @dg.asset
    def never_materialized() -> pa.Table:
        return _table()

    @dg.asset
    def needs_missing(never_materialized: pa.Table) -> int:
        return never_materialized.num_rows

    base = tmp_path / "base"
    manager = FastIOManager(base_path=str(base), storage_options={"aws_secret_access_key": SECRET})
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "instance")) as instance:
        ok = run_assets([a, b], base, instance=instance, io_manager=manager)
        failed = run_assets(
            [never_materialized, needs_missing],
            base,
            selection=[needs_missing],
            instance=instance,
            io_manager=manager,
            raise_on_error=False,
        )
        logs = [entry for result in (ok, failed) for entry in instance.all_logs(result.run_id)]
    assert not failed.success
    assert stored_files(base) == ["a.arrow", "b.pickle.zst"]
    assert logs
    for entry in logs:
        assert SECRET not in entry.user_message
        assert SECRET not in repr(entry.dagster_event)

    for result in (ok, failed):
        for event in result.get_asset_materialization_events():
            for name, value in event.materialization.metadata.items():
                assert SECRET not in f"{name}={value!r}"
        for event in result.all_events:
            assert SECRET not in repr(event)
    failure = failed.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None
    assert "never_materialized" in failure.to_string()
    assert SECRET not in failure.to_string()
    captured = capfd.readouterr()
    assert SECRET not in captured.out
    assert SECRET not in captured.err


def test_repr_and_str_show_no_storage_option_value() -> None:
    # Regression: repr(FastIOManager(...)) printed the secret key given as a storage option.
    manager = FastIOManager(
        base_path="s3://bucket/prefix",
        storage_options={"aws_secret_access_key": "hunter2-secret", "aws_region": "eu-west-1"},
    )
    for text in (repr(manager), str(manager)):
        assert "hunter2-secret" not in text
        assert "aws_secret_access_key" in text
        assert "s3://bucket/prefix" in text
