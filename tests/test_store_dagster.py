"""FastIOManager with an s3:// base path on s3s-fs: tables, pickles, partitions loaded
concurrently, lazy polars inputs, and a multiprocess job whose steps hand tables over
through the store."""

# No `from __future__ import annotations`: Dagster reads the annotations of the assets below.
import os
from typing import Any

import dagster as dg
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from servers import S3Server
from test_multiprocess import TESTS_FOLDER, numbers, squares, summary

import dagster_fastio as fio
from dagster_fastio import FastIOManager
from dagster_fastio.io_manager import read_pickle

PARTITIONS = dg.StaticPartitionsDefinition(["p1", "p2", "p3"])


@dg.asset
def frame() -> pd.DataFrame:
    return pd.DataFrame({"k": [1, 2, 3], "v": ["a", "b", "c"]}).set_index("k")


@dg.asset
def lazy_total(frame: pd.DataFrame) -> dict:
    assert list(frame.index) == [1, 2, 3] and frame.index.name == "k"
    return {"rows": len(frame), "sum": int(sum(frame.index))}


@dg.asset
def as_polars(frame: pd.DataFrame) -> pl.DataFrame:
    return pl.from_pandas(frame.reset_index()).select(pl.col("k").repeat_by(100_000).explode())


@dg.asset
def scanned(as_polars: pl.LazyFrame) -> int:
    assert isinstance(as_polars, pl.LazyFrame)
    return int(as_polars.select(pl.col("k").sum()).collect().item())


@dg.asset(partitions_def=PARTITIONS)
def parts(context: dg.AssetExecutionContext) -> pa.Table:
    key = context.partition_key
    return pa.table({"part": [key] * 3, "n": [1, 2, 3]})


@dg.asset(ins={"parts": dg.AssetIn(metadata={"allow_missing_partitions": True})})
def all_parts(parts: dict[str, pa.Table]) -> dict:
    return {key: table.num_rows for key, table in parts.items()}


@dg.asset(ins={"parts": dg.AssetIn(key="parts")})
def concatenated(parts: pa.Table) -> pa.Table:
    return parts


def _manager(server: S3Server, bucket: str, **config: Any) -> FastIOManager:
    options = server.options()
    return FastIOManager(base_path=f"s3://{bucket}/dagster", storage_options=options, **config)


def test_assets_hand_over_through_s3(s3s_server: S3Server, s3s_bucket: str) -> None:
    manager = _manager(s3s_server, s3s_bucket, compression="lz4")
    result = dg.materialize(
        [frame, lazy_total, as_polars, scanned], resources={"io_manager": manager}
    )
    assert result.success
    assert result.output_for_node("lazy_total") == {"rows": 3, "sum": 6}
    assert result.output_for_node("scanned") == 600_000
    assert s3s_server.keys(s3s_bucket) == [
        "dagster/as_polars.arrow",
        "dagster/frame.arrow",
        "dagster/lazy_total.pickle.zst",
        "dagster/scanned.pickle.zst",
    ]
    metadata = result.asset_materializations_for_node("frame")[0].metadata
    assert metadata["dagster/uri"].value == f"s3://{s3s_bucket}/dagster/frame.arrow"
    assert metadata["parts"].value == 1
    assert metadata["compression"].value == "lz4"
    rendered = repr(result.all_events)
    assert s3s_server.secret_key not in rendered
    options = s3s_server.options()
    stored = fio.read(f"s3://{s3s_bucket}/dagster/frame.arrow", storage_options=options)
    assert stored.column("v").to_pylist() == ["a", "b", "c"]
    loaded = read_pickle(f"s3://{s3s_bucket}/dagster/lazy_total.pickle.zst", options)
    assert loaded == {"rows": 3, "sum": 6}


def test_partitions_load_concurrently_from_s3(s3s_server: S3Server, s3s_bucket: str) -> None:
    manager = _manager(s3s_server, s3s_bucket, max_concurrency=3)
    with dg.instance_for_test() as instance:
        for key in ("p1", "p3"):
            assert dg.materialize(
                [parts], partition_key=key, instance=instance, resources={"io_manager": manager}
            ).success
        result = dg.materialize(
            [parts, all_parts, concatenated],
            selection=[all_parts, concatenated],
            instance=instance,
            resources={"io_manager": manager},
            raise_on_error=False,
        )
    assert result.output_for_node("all_parts") == {"p1": 3, "p3": 3}
    # The concatenating input does not allow missing partitions: p2 is reported missing.
    failure = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert len(failure) == 1 and "p2" in str(failure[0].event_specific_data)
    assert s3s_server.keys(s3s_bucket) == [
        "dagster/all_parts.pickle.zst",
        "dagster/parts/p1.arrow",
        "dagster/parts/p3.arrow",
    ]


def store_job() -> dg.JobDefinition:
    """The multiprocess handoff of test_multiprocess, with the base path from run config."""
    definitions = dg.Definitions(
        assets=[numbers, squares, summary],
        jobs=[dg.define_asset_job("handoff", executor_def=dg.multiprocess_executor)],
        resources={"io_manager": FastIOManager.configure_at_launch()},
    )
    return definitions.resolve_job_def("handoff")


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_multiprocess_job_exchanges_tables_through_s3s(
    s3s_server: S3Server, s3s_bucket: str, start_method: str
) -> None:
    options = s3s_server.options()
    config = {
        "base_path": f"s3://{s3s_bucket}/runs",
        "storage_options": options,
        "part_size_mb": 5,
    }
    run_config = {
        "execution": {"config": {"max_concurrent": 2, "start_method": {start_method: {}}}},
        "resources": {"io_manager": {"config": config}},
    }
    job = dg.build_reconstructable_job(
        __name__, store_job.__name__, reconstructor_working_directory=TESTS_FOLDER
    )
    with dg.instance_for_test() as instance:
        result = dg.execute_job(job, instance=instance, run_config=run_config)
    assert result.success
    assert s3s_server.keys(s3s_bucket) == [
        "runs/numbers.arrow",
        "runs/squares.arrow",
        "runs/summary.pickle.zst",
    ]
    values = read_pickle(f"s3://{s3s_bucket}/runs/summary.pickle.zst", options)
    assert values["pid"] != os.getpid()
    assert values["sum_of_squares"] == sum(n * n for n in range(1000))
    step_pids = {
        event.pid
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_START
    }
    assert len(step_pids) == 3 and os.getpid() not in step_pids


def test_memory_base_path_keeps_outputs_for_the_process() -> None:
    manager = FastIOManager(base_path="memory://dagster-tests")
    result = dg.materialize(
        [frame, lazy_total, as_polars, scanned], resources={"io_manager": manager}
    )
    assert result.success
    assert result.output_for_node("scanned") == 600_000
    stored = fio.read("memory://dagster-tests/as_polars.arrow")
    assert stored.num_rows == 300_000


def test_storage_options_resolve_env_vars(
    s3s_server: S3Server, s3s_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTIO_TEST_SECRET", s3s_server.secret_key)
    options = {**s3s_server.options(), "aws_secret_access_key": dg.EnvVar("FASTIO_TEST_SECRET")}
    manager = FastIOManager(base_path=f"s3://{s3s_bucket}/env", storage_options=options)
    result = dg.materialize([frame, lazy_total], resources={"io_manager": manager})
    assert result.success
    assert result.output_for_node("lazy_total") == {"rows": 3, "sum": 6}
    assert s3s_server.keys(s3s_bucket) == ["env/frame.arrow", "env/lazy_total.pickle.zst"]
