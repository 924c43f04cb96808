"""Jobs that the celery and dask executor tests run in worker processes.

The workers rebuild a job from this module (``dg.build_reconstructable_job``), so the assets
and the job factories live here at module level. Every output is a pure function of its asset's
name and partition (``expected_table`` / ``expected_pickle``), so a downstream step, in another
worker, checks what it loaded against what its upstream must have written, and the test checks
every stored object the same way afterwards.

Each asset has a lane: assets at an even depth of the graph run in lane A, at an odd depth in
lane B, and every edge joins neighbouring depths, so every handoff crosses from one worker to
the other. The celery workers each serve one lane's queue; the dask workers each hold one
lane's resource.
"""

# No `from __future__ import annotations`: Dagster reads the annotations of the assets below.
import json
import os
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

import dagster_fastio as fio
from dagster_fastio import FastIOManager
from dagster_fastio.errors import ObjectChangedError

TESTS_FOLDER = str(Path(__file__).resolve().parent)
LANES = ("lane-a", "lane-b")
PARTITIONS = dg.StaticPartitionsDefinition(["p1", "p2", "p3"])
JOB_ROWS = 20_000

# Where the steps' FastIOManager writes, and with which credentials: the workers' environment,
# read by each step when its resources start (never stored in the run's config).
BASE_VARIABLE = "FASTIO_EXECUTORS_BASE"
ENDPOINT_VARIABLE = "FASTIO_EXECUTORS_ENDPOINT"
KEY_ID_VARIABLE = "FASTIO_EXECUTORS_KEY_ID"
SECRET_VARIABLE = "FASTIO_EXECUTORS_SECRET"
REGION = "us-east-1"


def lane_tags(depth: int) -> dict[str, str]:
    """Op tags that put a step in the lane of its depth, for both executors."""
    lane = LANES[depth % 2]
    return {
        "dagster-celery/queue": lane,
        "dagster-dask/resource_requirements": json.dumps({lane: 1}),
        "fastio/lane": lane,
    }


def _seed(name: str, partition: str | None) -> int:
    return zlib.crc32(f"{name}/{partition or ''}".encode())


def expected_table(name: str, partition: str | None = None, rows: int = JOB_ROWS) -> pa.Table:
    """What asset `name` (at `partition`) writes: ints, doubles with nulls, strings, a date."""
    rng = np.random.default_rng(_seed(name, partition))
    values = rng.normal(size=rows)
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "value": pa.array(values, mask=rng.random(rows) < 0.05),
            "label": pa.array([f"{name}-{v}" for v in rng.integers(0, 500, rows)]),
            "day": pa.array(rng.integers(19_000, 19_400, rows).astype("int32")).cast(pa.date32()),
            "partition": pa.array([partition or "-"] * rows),
        }
    )


def expected_pickle(name: str, partition: str | None = None) -> dict[str, Any]:
    """What a pickled asset writes: nested Python values and a numpy array."""
    rng = np.random.default_rng(_seed(name, partition))
    return {
        "asset": name,
        "partition": partition,
        "numbers": [int(v) for v in rng.integers(-(10**12), 10**12, 64)],
        "weights": rng.random(32),
        "nested": {"tags": ("a", "b", name), "ratio": float(rng.random())},
    }


def as_frame(kind: str, table: pa.Table) -> Any:
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        return pl.from_arrow(table)
    return table


def same_table(received: Any, expected: pa.Table) -> bool:
    """Whether a loaded input holds exactly `expected`, in the type it was loaded as."""
    if isinstance(received, pl.LazyFrame):
        received = received.collect()
    if isinstance(received, pl.DataFrame):
        return received.equals(pl.from_arrow(expected))
    if isinstance(received, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(received, expected.to_pandas())
        except AssertionError:
            return False
        return True
    if isinstance(received, pa.Table):
        # Tables polars wrote hold string_view columns; the values must still match.
        received = received.replace_schema_metadata(None)
        if received.column_names != expected.column_names:
            return False
        return received.cast(expected.schema).equals(expected)
    return False


def same_pickle(received: Any, expected: dict[str, Any]) -> bool:
    if not isinstance(received, dict) or received.keys() != expected.keys():
        return False
    return all(
        np.array_equal(received[k], expected[k])
        if isinstance(expected[k], np.ndarray)
        else received[k] == expected[k]
        for k in expected
    )


def check_input(asset: str, received: Any, upstream: str, partition: str | None = None) -> None:
    """Fails the step unless the input equals what `upstream` wrote."""
    if isinstance(received, dict) and not isinstance(received.get("asset"), str):
        raise AssertionError(f"{asset}: {upstream} loaded as {type(received).__name__}")
    if isinstance(received, dict):
        ok = same_pickle(received, expected_pickle(upstream, partition))
    else:
        ok = same_table(received, expected_table(upstream, partition))
    if not ok:
        raise AssertionError(f"{asset}: {upstream}[{partition}] differs from what it wrote")


# ---------------------------------------------------------------------------------------------
# The job: 20 assets, tables (pyarrow, pandas, polars) and pickles, partitioned and not, with
# fan-out from `source` and fan-in into `shards_combined`, `report` and `final`.

SHARD_KINDS = ("arrow", "pandas", "polars", "polars")
SHARDS = tuple(f"shard_{i}" for i in range(len(SHARD_KINDS)))
STATS = tuple(f"shard_stats_{i}" for i in range(len(SHARD_KINDS)))


@dg.asset(op_tags=lane_tags(0))
def source() -> pa.Table:
    return expected_table("source")


@dg.asset(op_tags=lane_tags(0), partitions_def=PARTITIONS)
def events(context: dg.AssetExecutionContext) -> pd.DataFrame:
    return expected_table("events", context.partition_key).to_pandas()


def _shard(index: int, kind: str) -> dg.AssetsDefinition:
    name = SHARDS[index]

    if index == 3:
        # Loaded lazily: nothing is read until the step collects it.
        @dg.asset(name=name, op_tags=lane_tags(1))
        def lazy_shard(source: pl.LazyFrame) -> pl.DataFrame:
            check_input(name, source, "source")
            return as_frame(kind, expected_table(name))

        return lazy_shard

    @dg.asset(name=name, op_tags=lane_tags(1))
    def shard(source: pa.Table) -> Any:
        check_input(name, source, "source")
        return as_frame(kind, expected_table(name))

    return shard


def _stats(index: int) -> dg.AssetsDefinition:
    name, upstream, kind = STATS[index], SHARDS[index], SHARD_KINDS[index]

    def checked(shard: Any) -> dict:
        check_input(name, shard, upstream)
        return expected_pickle(name)

    # The annotation picks the type FastIOManager loads: the one the shard was stored as.
    if kind == "pandas":

        def stats(shard: pd.DataFrame) -> dict:
            return checked(shard)

    elif kind == "polars":

        def stats(shard: pl.DataFrame) -> dict:
            return checked(shard)

    else:

        def stats(shard: pa.Table) -> dict:
            return checked(shard)

    return dg.asset(name=name, op_tags=lane_tags(2), ins={"shard": dg.AssetIn(key=upstream)})(stats)


@dg.asset(op_tags=lane_tags(1), ins={"source": dg.AssetIn(metadata={"columns": ["id", "label"]})})
def source_profile(source: pa.Table) -> dict:
    if source.column_names != ["id", "label"]:
        raise AssertionError(f"source_profile: columns {source.column_names}")
    if not source.equals(expected_table("source").select(["id", "label"])):
        raise AssertionError("source_profile: the projected columns differ from what was written")
    return expected_pickle("source_profile")


@dg.asset(op_tags=lane_tags(1), partitions_def=PARTITIONS)
def events_clean(context: dg.AssetExecutionContext, events: pd.DataFrame) -> pl.DataFrame:
    check_input("events_clean", events, "events", context.partition_key)
    return pl.from_arrow(expected_table("events_clean", context.partition_key))


@dg.asset(op_tags=lane_tags(2))
def profile_check(source_profile: dict) -> dict:
    check_input("profile_check", source_profile, "source_profile")
    return expected_pickle("profile_check")


@dg.asset(op_tags=lane_tags(2))
def shards_combined(
    shard_0: pa.Table, shard_1: pd.DataFrame, shard_2: pl.DataFrame, shard_3: pa.Table
) -> pa.Table:
    for name, received in zip(SHARDS, (shard_0, shard_1, shard_2, shard_3), strict=True):
        check_input("shards_combined", received, name)
    return expected_table("shards_combined")


@dg.asset(op_tags=lane_tags(2), partitions_def=PARTITIONS)
def events_model(context: dg.AssetExecutionContext, events_clean: pl.DataFrame) -> dict:
    check_input("events_model", events_clean, "events_clean", context.partition_key)
    return expected_pickle("events_model", context.partition_key)


@dg.asset(op_tags=lane_tags(2), ins={"events_clean": dg.AssetIn(key="events_clean")})
def events_all(events_clean: pa.Table) -> pa.Table:
    # Every partition in one table, concatenated in the order of the partition keys.
    expected = pa.concat_tables(
        [expected_table("events_clean", key) for key in PARTITIONS.get_partition_keys()]
    )
    received = events_clean.replace_schema_metadata(None).cast(expected.schema)
    if not received.sort_by([("partition", "ascending"), ("id", "ascending")]).equals(
        expected.sort_by([("partition", "ascending"), ("id", "ascending")])
    ):
        raise AssertionError("events_all: the partitions differ from what was written")
    return expected_table("events_all")


@dg.asset(op_tags=lane_tags(3))
def report(
    shard_stats_0: dict,
    shard_stats_1: dict,
    shard_stats_2: dict,
    shard_stats_3: dict,
    shards_combined: pa.Table,
    events_all: pa.Table,
    profile_check: dict,
) -> dict:
    stats = (shard_stats_0, shard_stats_1, shard_stats_2, shard_stats_3)
    for name, received in zip(STATS, stats, strict=True):
        check_input("report", received, name)
    check_input("report", shards_combined, "shards_combined")
    check_input("report", events_all, "events_all")
    check_input("report", profile_check, "profile_check")
    return expected_pickle("report")


@dg.asset(op_tags=lane_tags(3))
def events_models(events_model: dict[str, dict]) -> dict:
    if sorted(events_model) != PARTITIONS.get_partition_keys():
        raise AssertionError(f"events_models: partitions {sorted(events_model)}")
    for key, received in events_model.items():
        check_input("events_models", received, "events_model", key)
    return expected_pickle("events_models")


@dg.asset(op_tags=lane_tags(3))
def combined_polars(shards_combined: pl.DataFrame) -> pl.DataFrame:
    check_input("combined_polars", shards_combined, "shards_combined")
    return pl.from_arrow(expected_table("combined_polars"))


@dg.asset(op_tags=lane_tags(4))
def final(report: dict, events_models: dict, combined_polars: pl.DataFrame) -> dict:
    check_input("final", report, "report")
    check_input("final", events_models, "events_models")
    check_input("final", combined_polars, "combined_polars")
    return expected_pickle("final")


JOB_ASSETS = [
    source,
    events,
    *(_shard(i, kind) for i, kind in enumerate(SHARD_KINDS)),
    source_profile,
    events_clean,
    *(_stats(i) for i in range(len(SHARD_KINDS))),
    profile_check,
    shards_combined,
    events_model,
    events_all,
    report,
    events_models,
    combined_polars,
    final,
]
PARTITIONED = ("events", "events_clean", "events_model")
PICKLED = (
    *STATS,
    "source_profile",
    "profile_check",
    "events_model",
    "report",
    "events_models",
    "final",
)


def expected_keys(prefix: str) -> list[str]:
    """Every object the job stores under `prefix`."""
    keys = []
    for spec in JOB_ASSETS:
        name = spec.key.to_user_string()
        suffix = ".pickle.zst" if name in PICKLED else ".arrow"
        if name in PARTITIONED:
            keys += [f"{prefix}/{name}/{p}{suffix}" for p in PARTITIONS.get_partition_keys()]
        else:
            keys.append(f"{prefix}/{name}{suffix}")
    return sorted(keys)


def expected_object(key: str) -> tuple[str, str | None]:
    """The asset and partition a stored key belongs to."""
    parts = key.removesuffix(".arrow").removesuffix(".pickle.zst").split("/")
    if parts[-2] in PARTITIONED:
        return parts[-2], parts[-1]
    return parts[-1], None


def fast_io_manager(**config: Any) -> FastIOManager:
    """Base path, endpoint and credentials from the workers' environment, through EnvVar."""
    return FastIOManager(
        base_path=dg.EnvVar(BASE_VARIABLE),
        storage_options={
            "aws_endpoint": dg.EnvVar(ENDPOINT_VARIABLE),
            "aws_access_key_id": dg.EnvVar(KEY_ID_VARIABLE),
            "aws_secret_access_key": dg.EnvVar(SECRET_VARIABLE),
            "aws_region": REGION,
        },
        **config,
    )


def _job(assets: Sequence[Any], executor: dg.ExecutorDefinition, name: str) -> dg.JobDefinition:
    definitions = dg.Definitions(
        assets=assets,
        jobs=[dg.define_asset_job(name, executor_def=executor)],
        resources={"io_manager": fast_io_manager(part_size_mb=5)},
    )
    return definitions.resolve_job_def(name)


def celery_job() -> dg.JobDefinition:
    from dagster_celery import celery_executor

    return _job(JOB_ASSETS, celery_executor, "executors")


def dask_job() -> dg.JobDefinition:
    from dagster_dask import dask_executor

    return _job(JOB_ASSETS, dask_executor, "executors")


def reconstructable(factory: Callable[[], dg.JobDefinition]) -> Any:
    """The job as the workers rebuild it: by module and factory, from this folder."""
    return dg.build_reconstructable_job(
        __name__, factory.__name__, reconstructor_working_directory=TESTS_FOLDER
    )


# ---------------------------------------------------------------------------------------------
# The load job: LOAD_STEPS writers, each writing its own LOAD_ROWS-row table (about 20 MB of
# Arrow data) through FastIOManager, and as many readers, each in the other lane, loading one
# writer's table and comparing it with what that writer must have written. Each writer also
# replaces one shared object (HOT_KEY) with a smaller table of its own while readers read it:
# a read must return exactly one writer's table, never batches of two.

LOAD_STEPS = int(os.environ.get("FASTIO_LOAD_STEPS", "64"))
LOAD_ROWS = int(os.environ.get("FASTIO_LOAD_ROWS", "1310720"))  # 16 bytes a row: 20 MiB
HOT_ROWS = 200_000
HOT_KEY = "hot.arrow"
HOT_READ_ATTEMPTS = 10


def load_table(index: int, rows: int = LOAD_ROWS) -> pa.Table:
    rng = np.random.default_rng(1_000 + index)
    return pa.table(
        {"row": np.arange(rows, dtype=np.int64) + index * rows, "value": rng.random(rows)}
    )


def hot_table(writer: int) -> pa.Table:
    rng = np.random.default_rng(5_000 + writer)
    return pa.table(
        {"writer": np.full(HOT_ROWS, writer, dtype=np.int32), "value": rng.random(HOT_ROWS)}
    )


def step_options() -> dict[str, str]:
    """The store settings of this worker, for the steps' direct use of the API."""
    return {
        "aws_endpoint": os.environ[ENDPOINT_VARIABLE],
        "aws_access_key_id": os.environ[KEY_ID_VARIABLE],
        "aws_secret_access_key": os.environ[SECRET_VARIABLE],
        "aws_region": REGION,
    }


def peak_rss() -> int:
    """This process's peak resident memory so far, in bytes (VmHWM)."""
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmHWM")


def _hot_uri() -> str:
    return f"{os.environ[BASE_VARIABLE]}/{HOT_KEY}"


def _writer(index: int) -> dg.AssetsDefinition:
    @dg.asset(name=f"load_{index:02d}", op_tags=lane_tags(index))
    def writer() -> pa.Table:
        hot = hot_table(index)
        fio.write(hot, _hot_uri(), storage_options=step_options(), chunk_rows=HOT_ROWS // 4)
        return load_table(index)

    return writer


def _reader(index: int) -> dg.AssetsDefinition:
    upstream = f"load_{index:02d}"

    @dg.asset(
        name=f"check_{index:02d}",
        op_tags=lane_tags(index + 1),
        ins={"table": dg.AssetIn(key=upstream)},
    )
    def reader(table: pa.Table) -> dict:
        equal = table.equals(load_table(index))
        changes, hot_writer, hot_whole = 0, None, False
        for _ in range(HOT_READ_ATTEMPTS):
            try:
                hot = fio.read(_hot_uri(), storage_options=step_options())
            except ObjectChangedError:
                changes += 1  # replaced more often than a read can restart: read it again
                continue
            writers = set(hot.column("writer").to_pylist())
            if len(writers) == 1:
                hot_writer = writers.pop()
                hot_whole = hot.equals(hot_table(hot_writer))
            break
        return {
            "index": index,
            "equal": equal,
            "rows": table.num_rows,
            "hot_writer": hot_writer,
            "hot_whole": hot_whole,
            "hot_changes": changes,
            "pid": os.getpid(),
            "peak_rss": peak_rss(),
        }

    return reader


LOAD_ASSETS = [
    *(_writer(i) for i in range(LOAD_STEPS)),
    *(_reader(i) for i in range(LOAD_STEPS)),
]


def _load_job(executor: dg.ExecutorDefinition) -> dg.JobDefinition:
    definitions = dg.Definitions(
        assets=LOAD_ASSETS,
        jobs=[dg.define_asset_job("load", executor_def=executor)],
        resources={"io_manager": fast_io_manager(compression="lz4")},
    )
    return definitions.resolve_job_def("load")


def celery_load_job() -> dg.JobDefinition:
    from dagster_celery import celery_executor

    return _load_job(celery_executor)


def dask_load_job() -> dg.JobDefinition:
    from dagster_dask import dask_executor

    return _load_job(dask_executor)
