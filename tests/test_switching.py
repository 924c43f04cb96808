"""Switching a project from the pickle managers FastIOManager replaces, and back.

What FilesystemIOManager, S3PickleIOManager and GCSPickleIOManager stored loads through
FastIOManager at the same base, converted to the input's annotation; partitions may mix old
pickles and new files; each such load is logged; the next write of a key stores it in this
package's format; and nothing another manager stored is deleted where Dagster's own
UPathIOManager would not delete it.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from dagster_helpers import stored_files
from servers import FakeGcs, S3Server

from dagster_fastio import FastIOManager, StoreError
from dagster_fastio.api import read_pickle

TESTS_FOLDER = str(Path(__file__).parent)


def frame(start: int, rows: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"n": range(start, start + rows), "s": [f"v{i}" for i in range(rows)]})


def materialize(
    assets: list[Any],
    manager: Any,
    *,
    selection: Any = None,
    partition_key: str | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    instance = instance or dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        assets,
        selection=selection,
        partition_key=partition_key,
        instance=instance,
        resources={"io_manager": manager},
    )
    assert result.success
    _instances[result.run_id] = instance
    return result


# The instance of each run, whose event log holds the messages the manager logged.
_instances: dict[str, dg.DagsterInstance] = {}


def logged(result: dg.ExecuteInProcessResult, text: str) -> list[str]:
    entries = _instances[result.run_id].all_logs(result.run_id)
    return [entry.user_message for entry in entries if text in entry.user_message]


# ---------------------------------------------------------------------------------------------
# Unpartitioned assets on a local disk.


@dg.asset
def table() -> pd.DataFrame:
    return frame(0)


@dg.asset
def settings() -> dict[str, int]:
    return {"retries": 3}


@dg.asset
def nothing() -> Any:
    return None


seen: dict[str, Any] = {}


@dg.asset(deps=[])
def consumer(
    table: pd.DataFrame, settings: dict[str, int], nothing: Any
) -> dict[str, Any]:  # pragma: no cover - run by Dagster
    seen.update(pandas=table, settings=settings, nothing=nothing)
    return {"rows": len(table)}


@dg.asset(ins={"table": dg.AssetIn("table")})
def as_polars(table: pl.DataFrame) -> int:
    seen["polars"] = table
    return table.height


@dg.asset(ins={"table": dg.AssetIn("table")})
def as_arrow(table: pa.Table) -> int:
    seen["arrow"] = table
    return table.num_rows


@dg.asset(ins={"table": dg.AssetIn("table", metadata={"columns": ["n"]})})
def as_projected(table: pa.Table) -> int:
    seen["projected"] = table
    return table.num_rows


@dg.asset(ins={"table": dg.AssetIn("table")})
def as_stored(table):  # type: ignore[no-untyped-def]
    seen["stored"] = table
    return 1


UPSTREAM = [table, settings, nothing]
DOWNSTREAM = [consumer, as_polars, as_arrow, as_projected, as_stored]


def test_what_filesystem_io_manager_stored_loads_in_every_annotation(tmp_path: Path) -> None:
    materialize(UPSTREAM, dg.FilesystemIOManager(base_dir=str(tmp_path)))
    assert stored_files(tmp_path) == ["nothing", "settings", "table"]
    seen.clear()
    result = materialize(
        UPSTREAM + DOWNSTREAM, FastIOManager(base_path=str(tmp_path)), selection=DOWNSTREAM
    )
    pd.testing.assert_frame_equal(seen["pandas"], frame(0))
    assert seen["settings"] == {"retries": 3}
    assert seen["nothing"] is None
    assert seen["polars"].equals(pl.from_pandas(frame(0)))
    assert seen["arrow"].equals(pa.Table.from_pandas(frame(0)))
    assert seen["projected"].column_names == ["n"]
    assert seen["projected"].column("n").to_pylist() == [0, 1, 2]
    pd.testing.assert_frame_equal(seen["stored"], frame(0))  # the type that was stored
    # Each such load says which file it read; the upstream pickles are left as they are.
    loads = logged(result, "a pickle the replaced I/O manager stored")
    assert len(loads) == 7
    assert any(str(tmp_path / "settings") in message for message in loads)
    assert {"nothing", "settings", "table"} <= set(stored_files(tmp_path))


def test_the_next_write_stores_the_key_in_this_format_and_replaces_the_pickle(
    tmp_path: Path,
) -> None:
    materialize(UPSTREAM, dg.FilesystemIOManager(base_dir=str(tmp_path)))
    result = materialize([table, settings], FastIOManager(base_path=str(tmp_path)))
    assert stored_files(tmp_path) == ["nothing", "settings.pickle.zst", "table.arrow"]
    assert len(logged(result, "this key's pickle from the replaced I/O manager")) == 2
    seen.clear()
    result = materialize(
        UPSTREAM + DOWNSTREAM, FastIOManager(base_path=str(tmp_path)), selection=[consumer]
    )
    pd.testing.assert_frame_equal(seen["pandas"], frame(0))
    assert seen["settings"] == {"retries": 3}
    # Only the key still held by the old manager is read from its pickle.
    assert len(logged(result, "a pickle the replaced I/O manager stored")) == 1


def test_reading_the_replaced_pickles_can_be_turned_off(tmp_path: Path) -> None:
    materialize(UPSTREAM, dg.FilesystemIOManager(base_dir=str(tmp_path)))
    result = dg.materialize(
        UPSTREAM + DOWNSTREAM,
        selection=[as_arrow],
        resources={
            "io_manager": FastIOManager(base_path=str(tmp_path), read_replaced_pickles=False)
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    assert "FileNotFoundError" in str(failure.event_specific_data.error)
    # Writing does not touch what the old manager stored when reading it is off.
    materialize([table], FastIOManager(base_path=str(tmp_path), read_replaced_pickles=False))
    assert stored_files(tmp_path) == ["nothing", "settings", "table", "table.arrow"]


def test_switching_back_to_filesystem_io_manager(tmp_path: Path) -> None:
    """FastIOManager, then FilesystemIOManager again: the old manager re-materializes and
    loads everything beside this package's files, which are left as they are."""
    materialize(UPSTREAM, FastIOManager(base_path=str(tmp_path)))
    before = stored_files(tmp_path)
    assert before == ["nothing.pickle.zst", "settings.pickle.zst", "table.arrow"]
    seen.clear()
    materialize([*UPSTREAM, consumer], dg.FilesystemIOManager(base_dir=str(tmp_path)))
    pd.testing.assert_frame_equal(seen["pandas"], frame(0))
    assert set(before) <= set(stored_files(tmp_path))

    # Forward again: what the old manager wrote since is newer than this package's files
    # (each write here removes the key's pickle), so it is what loads.
    @dg.asset(name="table")
    def newer_table() -> pd.DataFrame:
        return frame(100)

    materialize([newer_table], dg.FilesystemIOManager(base_dir=str(tmp_path)))
    seen.clear()
    result = materialize(
        [newer_table, settings, nothing, as_polars],
        FastIOManager(base_path=str(tmp_path)),
        selection=[as_polars],
    )
    assert seen["polars"].equals(pl.from_pandas(frame(100)))
    assert logged(result, "a pickle the replaced I/O manager stored")


# ---------------------------------------------------------------------------------------------
# Partitions: static, time, multi and dynamic, old pickles and new files mixed.

KEYS = ["a", "b", "c"]
STATIC = dg.StaticPartitionsDefinition(KEYS)
DAILY = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-04")
MULTI = dg.MultiPartitionsDefinition(
    {"region": dg.StaticPartitionsDefinition(["eu"]), "kind": STATIC}
)
DYNAMIC = dg.DynamicPartitionsDefinition(name="tenants")


def partitions_case(kind: str) -> tuple[dg.PartitionsDefinition, list[str]]:
    if kind == "static":
        return STATIC, KEYS
    if kind == "time":
        return DAILY, ["2026-01-01", "2026-01-02", "2026-01-03"]
    if kind == "multi":
        return MULTI, ["a|eu", "b|eu", "c|eu"]
    return DYNAMIC, ["t1", "t2", "t3"]


@pytest.mark.parametrize("kind", ["static", "time", "multi", "dynamic"])
def test_partitions_mix_old_pickles_and_new_files(kind: str, tmp_path: Path) -> None:
    partitions_def, keys = partitions_case(kind)
    instance = dg.DagsterInstance.ephemeral()
    if kind == "dynamic":
        instance.add_dynamic_partitions("tenants", keys)

    @dg.asset(partitions_def=partitions_def)
    def parts(context) -> pd.DataFrame:
        return frame(10 * keys.index(context.partition_key))

    @dg.asset(ins={"parts": dg.AssetIn("parts", partition_mapping=dg.AllPartitionMapping())})
    def combined(parts: pd.DataFrame) -> int:
        seen["combined"] = parts
        return len(parts)

    @dg.asset(ins={"parts": dg.AssetIn("parts", partition_mapping=dg.AllPartitionMapping())})
    def each(parts: dict[str, pl.DataFrame]) -> int:
        seen["each"] = parts
        return len(parts)

    @dg.asset(ins={"parts": dg.AssetIn("parts", partition_mapping=dg.AllPartitionMapping())})
    def lazy(parts: pl.LazyFrame) -> int:
        seen["lazy"] = parts.collect()
        return 1

    old = dg.FilesystemIOManager(base_dir=str(tmp_path))
    new = FastIOManager(base_path=str(tmp_path))
    for key in keys[:2]:
        materialize([parts], old, partition_key=key, instance=instance)
    materialize([parts], new, partition_key=keys[2], instance=instance)
    seen.clear()
    result = materialize(
        [parts, combined, each, lazy], new, selection=[combined, each, lazy], instance=instance
    )
    expected = pd.concat([frame(0), frame(10), frame(20)], ignore_index=True)
    pd.testing.assert_frame_equal(seen["combined"].reset_index(drop=True), expected)
    assert sorted(seen["each"]) == sorted(keys)
    for index, key in enumerate(keys):
        assert seen["each"][key].equals(pl.from_pandas(frame(10 * index)))
    assert seen["lazy"].equals(pl.from_pandas(expected))
    # Two old partitions for each of the three inputs.
    assert len(logged(result, "a pickle the replaced I/O manager stored")) == 6


def test_a_partitioned_input_of_one_old_partition_converts_it(tmp_path: Path) -> None:
    @dg.asset(partitions_def=STATIC)
    def parts(context) -> pd.DataFrame:
        return frame(10 * KEYS.index(context.partition_key))

    @dg.asset(partitions_def=STATIC)
    def after(parts: pa.Table) -> int:
        seen["after"] = parts
        return parts.num_rows

    materialize([parts], dg.FilesystemIOManager(base_dir=str(tmp_path)), partition_key="b")
    materialize(
        [parts, after], FastIOManager(base_path=str(tmp_path)), selection=[after], partition_key="b"
    )
    assert seen["after"].equals(pa.Table.from_pandas(frame(10)))


# ---------------------------------------------------------------------------------------------
# Op outputs: a run of the old manager re-executed from its failure with FastIOManager.


def test_op_outputs_of_an_old_run_load_when_it_is_reexecuted(tmp_path: Path) -> None:
    pipeline = failing_pipeline(dg.FilesystemIOManager(base_dir=str(tmp_path)))
    reexecute_with_fast_io_manager(
        pipeline, {"base_path": str(tmp_path)}, lambda run_id: stored_files(tmp_path)
    )


def failing_pipeline(manager: Any) -> dg.JobDefinition:
    """A job whose second op fails, so that its first op's output waits in the old manager."""

    @dg.op
    def produce() -> pd.DataFrame:
        return frame(5)

    @dg.op
    def consume(produced: pd.DataFrame) -> int:
        raise RuntimeError("the first run fails here")

    @dg.job(resource_defs={"io_manager": manager})
    def pipeline() -> None:
        consume(produce())

    return pipeline


def reexecute_with_fast_io_manager(
    pipeline: dg.JobDefinition, config: dict[str, Any], stored: Any, layout: str = "{run_id}"
) -> None:
    """Runs ``pipeline`` (its second step fails), checks the old manager stored the first
    step's output at ``layout``/produce/result, then re-executes the failed step with
    FastIOManager (``config``) in a fresh process: its input is that op output."""
    # A persistent instance: the re-execution runs its step in a fresh process, as Dagster's
    # default executor does.
    with dg.instance_for_test() as instance:
        first = pipeline.execute_in_process(instance=instance, raise_on_error=False)
        assert not first.success
        assert stored(first.run_id) == [f"{layout.format(run_id=first.run_id)}/produce/result"]
        with dg.execute_job(
            # Importable by the child: Dagster imports the module from this working directory.
            dg.build_reconstructable_job(
                __name__, "_reexecuted_job", reconstructor_working_directory=TESTS_FOLDER
            ),
            instance=instance,
            reexecution_options=dg.ReexecutionOptions.from_failure(first.run_id, instance),
            run_config={"resources": {"io_manager": {"config": config}}},
        ) as again:
            assert again.success
            assert [event.step_key for event in again.get_step_success_events()] == ["consume"]
            assert again.output_for_node("consume") == 3


# dagster-aws's S3PickleIOManager reads a deprecated property of its own context.
@pytest.mark.filterwarnings("ignore:InitResourceContext.dagster_run is deprecated")
def test_s3_pickle_op_outputs_load_when_the_run_is_reexecuted(
    s3s_server: S3Server, s3s_bucket: str
) -> None:
    # S3PickleIOManager's own layout for op outputs, which is not FilesystemIOManager's.
    reexecute_with_fast_io_manager(
        failing_pipeline(s3s_server.pickle_io_manager(s3s_bucket)),
        {"base_path": f"s3://{s3s_bucket}/dagster", "storage_options": s3s_server.options()},
        lambda run_id: s3s_server.keys(s3s_bucket),
        layout="dagster/storage/{run_id}",
    )


def _reexecuted_job() -> dg.JobDefinition:
    @dg.op
    def produce() -> pd.DataFrame:
        return frame(5)

    @dg.op
    def consume(produced: pd.DataFrame) -> int:
        assert produced.equals(frame(5))
        return len(produced)

    @dg.job(resource_defs={"io_manager": FastIOManager.configure_at_launch()})
    def pipeline() -> None:
        consume(produce())

    return pipeline


# ---------------------------------------------------------------------------------------------
# Partitioning added and removed: nothing a flip back would load is removed (more in
# test_partition_flip.py).


# UPathIOManager warns of the removal with a deprecated logger method.
@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated")
def test_adding_partitions_moves_the_old_file_aside_where_upath_io_manager_deletes_it(
    tmp_path: Path,
) -> None:
    @dg.asset(name="grows")
    def unpartitioned() -> pd.DataFrame:
        return frame(0)

    @dg.asset(name="grows", partitions_def=STATIC)
    def partitioned() -> pd.DataFrame:
        return frame(1)

    materialize([unpartitioned], dg.FilesystemIOManager(base_dir=str(tmp_path)))
    assert stored_files(tmp_path) == ["grows"]
    result = materialize([partitioned], FastIOManager(base_path=str(tmp_path)), partition_key="a")
    # The pickle is where the partition's folder goes: its bytes are kept as this package's
    # file of the unpartitioned key, with a warning, where UPathIOManager deletes it.
    assert stored_files(tmp_path) == ["grows.pickle.zst", "grows/a.arrow"]
    assert logged(result, "left by a non-partitioned version of grows")
    pd.testing.assert_frame_equal(read_pickle(tmp_path / "grows.pickle.zst"), frame(0))
    # The control: FilesystemIOManager itself does the same.
    control = tmp_path / "control"
    materialize([unpartitioned], dg.FilesystemIOManager(base_dir=str(control)))
    materialize([partitioned], dg.FilesystemIOManager(base_dir=str(control)), partition_key="a")
    assert stored_files(control) == ["grows/a"]


def test_removing_partitions_deletes_nothing(tmp_path: Path) -> None:
    @dg.asset(name="shrinks", partitions_def=STATIC)
    def partitioned() -> pd.DataFrame:
        return frame(1)

    @dg.asset(name="shrinks")
    def unpartitioned() -> pd.DataFrame:
        return frame(0)

    for key in ["a", "b"]:
        materialize(
            [partitioned], dg.FilesystemIOManager(base_dir=str(tmp_path)), partition_key=key
        )
    materialize([unpartitioned], FastIOManager(base_path=str(tmp_path)))
    assert stored_files(tmp_path) == ["shrinks.arrow", "shrinks/a", "shrinks/b"]
    with open(tmp_path / "shrinks" / "a", "rb") as file:
        pd.testing.assert_frame_equal(pickle.load(file), frame(1))


# ---------------------------------------------------------------------------------------------
# Object stores.


@dg.asset(partitions_def=STATIC)
def s3_parts(context) -> pd.DataFrame:
    return frame(10 * KEYS.index(context.partition_key))


@dg.asset(ins={"s3_parts": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
def s3_combined(s3_parts: pl.DataFrame) -> int:
    seen["s3_combined"] = s3_parts
    return s3_parts.height


# dagster-aws's S3PickleIOManager reads a deprecated property of its own context.
@pytest.mark.filterwarnings("ignore:InitResourceContext.dagster_run is deprecated")
def test_s3_pickle_io_manager_to_fast_io_manager_and_back(
    s3s_server: S3Server, s3s_bucket: str
) -> None:
    old = s3s_server.pickle_io_manager(s3s_bucket)
    # S3PickleIOManager's default prefix is "dagster": the same base in FastIOManager's terms.
    new = FastIOManager(
        base_path=f"s3://{s3s_bucket}/dagster", storage_options=s3s_server.options()
    )
    assets = [table, settings, nothing, consumer, s3_parts, s3_combined]
    materialize(assets, old, selection=[table, settings, nothing])
    for key in KEYS[:2]:
        materialize(assets, old, selection=[s3_parts], partition_key=key)
    assert s3s_server.keys(s3s_bucket) == [
        "dagster/nothing",
        "dagster/s3_parts/a",
        "dagster/s3_parts/b",
        "dagster/settings",
        "dagster/table",
    ]
    materialize(assets, new, selection=[s3_parts], partition_key="c")
    seen.clear()
    result = materialize(assets, new, selection=[consumer, s3_combined])
    pd.testing.assert_frame_equal(seen["pandas"], frame(0))
    assert seen["settings"] == {"retries": 3} and seen["nothing"] is None
    expected = pd.concat([frame(0), frame(10), frame(20)], ignore_index=True)
    assert seen["s3_combined"].equals(pl.from_pandas(expected))
    assert len(logged(result, "a pickle the replaced I/O manager stored")) == 5
    # Written again by FastIOManager: its files replace the old manager's pickles.
    materialize(assets, new, selection=[table])
    keys = s3s_server.keys(s3s_bucket)
    assert "dagster/table.arrow" in keys and "dagster/table" not in keys
    # And back: the old manager writes and reads its own pickles beside these files.
    materialize(assets, old, selection=[table])
    seen.clear()
    materialize(assets, old, selection=[consumer])
    pd.testing.assert_frame_equal(seen["pandas"], frame(0))


def test_gcs_pickle_io_manager_outputs_load(gcs_server: FakeGcs) -> None:
    """What GCSPickleIOManager stores: ``gs://<bucket>/<prefix>/<asset path>``, a pickle of
    protocol 4, placed here through the emulator's JSON API (its XML API takes no writes)."""
    bucket = "switching"
    gcs_server.create_bucket(bucket)
    gcs_server.upload(bucket, "dagster/table", pickle.dumps(frame(0), protocol=4))
    gcs_server.upload(bucket, "dagster/settings", pickle.dumps({"retries": 3}, protocol=4))
    gcs_server.upload(bucket, "dagster/nothing", pickle.dumps(None, protocol=4))
    manager = FastIOManager(
        base_path=f"gs://{bucket}/dagster", storage_options=gcs_server.options()
    )
    seen.clear()

    @dg.asset(ins={"table": dg.AssetIn("table")}, io_manager_key="memory")
    def reads(table: pl.DataFrame, settings: dict[str, int], nothing: Any) -> int:
        seen.update(polars=table, settings=settings, nothing=nothing)
        return table.height

    result = dg.materialize(
        [table, settings, nothing, reads],
        selection=[reads],
        resources={"io_manager": manager, "memory": dg.InMemoryIOManager()},
    )
    assert result.success
    assert seen["polars"].equals(pl.from_pandas(frame(0)))
    assert seen["settings"] == {"retries": 3} and seen["nothing"] is None


def test_a_write_to_a_missing_bucket_says_the_bucket_does_not_exist(moto_server: S3Server) -> None:
    """moto answers NoSuchBucket as S3 does (s3s-fs makes the bucket's folder on a PUT)."""
    import numpy as np

    import dagster_fastio as fio

    options = moto_server.options()
    large = pa.table({"x": np.random.default_rng(0).random(2_000_000)})  # multipart at 5 MiB
    for data, uri, part_size in [
        (pa.table({"n": [1]}), "s3://no-such-bucket/x.arrow", None),
        (pa.table({"n": [1]}), "s3://no-such-bucket/x.parquet", None),
        (large, "s3://no-such-bucket/large.arrow", 5 << 20),
    ]:
        with pytest.raises(StoreError, match="bucket or container does not exist"):
            fio.write(data, uri, storage_options=options, part_size=part_size)
    with pytest.raises(StoreError, match="bucket or container does not exist"):
        fio.api.write_pickle({"a": 1}, "s3://no-such-bucket/x.pickle.zst", storage_options=options)
    with pytest.raises(StoreError, match="bucket or container does not exist"):
        fio.api.list_objects("s3://no-such-bucket/dagster", options)
