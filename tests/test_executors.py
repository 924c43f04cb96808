"""FastIOManager under Dagster's celery and dask executors, through S3 (s3s-fs).

A job of 20 assets (executor_jobs.py) runs on two celery workers (prefork pool, two processes
each, redis-server as the broker) and on a dask.distributed cluster of four worker processes.
Every step checks its inputs against what its upstream must have written; every handoff
crosses from one worker to the other; the test then checks every stored object too.

Then load: 64 writers of a 20 MiB table and 64 readers on the celery workers through one
s3s-fs, with and without a proxy dropping connections and answering 503 bursts. The figures
(throughput, peak memory per worker process) are printed, never asserted; `benches/
bench_executors.py` measures them for benches/RESULTS.md.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import engines
import pytest
from dagster_helpers import instance_without_compute_logs
from engines import CeleryWorker, DaskCluster, celery_run_config
from executor_jobs import (
    JOB_ASSETS,
    LANES,
    LOAD_STEPS,
    PARTITIONED,
    PARTITIONS,
    celery_job,
    celery_load_job,
    check_input,
    dask_job,
    expected_keys,
    expected_object,
    expected_pickle,
    expected_table,
    load_table,
    reconstructable,
    same_pickle,
    same_table,
)
from load_run import FaultBursts, LoadOutcome, peak_rss_of, run_load
from servers import FaultProxy, RedisServer, S3Server

import dagster_fastio as fio
from dagster_fastio.io_manager import read_pickle

pytestmark = [
    pytest.mark.slow,
    # dagster-celery registers its step task again for every step it submits; celery warns.
    pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning"),
]

WARM_UP_VARIABLE = "FASTIO_WARM_UP_URI"
_prefixes = itertools.count()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def store_environment(
    monkeypatch: pytest.MonkeyPatch, server: S3Server, base: str, endpoint: str | None = None
) -> dict[str, str]:
    """What FastIOManager reads through dg.EnvVar, for the workers and for this process, which
    resolves the run's configuration when it launches the run."""
    env = engines.store_environment(server, base, endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def celery_lanes(
    redis_server: RedisServer, tmp_path: Path
) -> Iterator[Callable[..., dict[str, CeleryWorker]]]:
    """Starts one celery worker per lane with the given environment; stops them afterwards."""
    started: list[CeleryWorker] = []
    # Each test its own databases, so no task or result of an earlier test is left to them.
    database = next(_prefixes) % 8 * 2

    def start(env: dict[str, str], concurrency: int = 2) -> dict[str, CeleryWorker]:
        workers = {}
        for lane in LANES:
            worker = CeleryWorker(
                tmp_path / f"celery-{lane}",
                broker=redis_server.url(database),
                backend=redis_server.url(database + 1),
                queue=lane,
                env=env,
                concurrency=concurrency,
            )
            started.append(worker)
            workers[lane] = worker.start()
        return workers

    yield start
    for worker in started:
        worker.stop()


def run_job(
    job: Any, instance: dg.DagsterInstance, run_config: dict[str, Any]
) -> list[dg.JobExecutionResult]:
    """The partitioned assets once per partition, then every other asset, as four runs."""
    results = []
    partitioned = [dg.AssetKey(name) for name in PARTITIONED]
    for key in PARTITIONS.get_partition_keys():
        results.append(
            dg.execute_job(
                job,
                instance=instance,
                run_config=run_config,
                tags={"dagster/partition": key},
                asset_selection=partitioned,
            )
        )
    rest = [spec.key for spec in JOB_ASSETS if spec.key not in partitioned]
    results.append(
        dg.execute_job(job, instance=instance, run_config=run_config, asset_selection=rest)
    )
    for result in results:
        failures = [e for e in result.all_events if e.is_step_failure]
        assert result.success, [str(e.event_specific_data)[:2000] for e in failures]
    return results


def step_pids(results: list[dg.JobExecutionResult]) -> dict[tuple[str, str | None], int]:
    """The process each step (asset, partition) ran in."""
    pids = {}
    for result, key in zip(results, [*PARTITIONS.get_partition_keys(), None], strict=True):
        for event in result.all_events:
            if event.event_type == dg.DagsterEventType.STEP_START:
                pids[(event.step_key, key)] = event.pid
    return pids


def lane_of(step_key: str) -> str:
    (spec,) = [s for s in JOB_ASSETS if s.key.to_user_string() == step_key]
    return spec.op.tags["fastio/lane"]


def check_stored_objects(server: S3Server, bucket: str, prefix: str) -> None:
    options = server.options()
    for key in expected_keys(prefix):
        name, partition = expected_object(key)
        uri = f"s3://{bucket}/{key}"
        if key.endswith(".pickle.zst"):
            assert same_pickle(read_pickle(uri, options), expected_pickle(name, partition)), key
        else:
            stored = fio.read(uri, storage_options=options)
            assert same_table(stored, expected_table(name, partition)), key
    assert server.pending_uploads(bucket) == []


def check_no_secret_stored(
    instance: dg.DagsterInstance, results: list[dg.JobExecutionResult], secret: str
) -> None:
    for result in results:
        assert secret not in repr(result.all_events)
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and secret not in repr(run.run_config)


def test_the_steps_checks_tell_another_output_apart() -> None:
    # What every step of the job relies on to prove its input: a near miss is caught.
    written = expected_table("events", "p1")
    assert same_table(written, expected_table("events", "p1"))
    assert not same_table(written, expected_table("events", "p2"))
    changed = written.to_pandas()
    changed.loc[7, "label"] = "other"
    assert same_table(written.to_pandas(), written)
    assert not same_table(changed, written)
    assert not same_table(written.slice(1), written)
    assert same_pickle(expected_pickle("report"), expected_pickle("report"))
    assert not same_pickle(expected_pickle("report"), expected_pickle("final"))
    with pytest.raises(AssertionError, match="differs from what it wrote"):
        check_input("final", expected_pickle("final"), "report")


def test_celery_workers_hand_every_output_to_the_other_worker(
    s3s_server: S3Server,
    s3s_bucket: str,
    celery_lanes: Callable[..., dict[str, CeleryWorker]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = store_environment(monkeypatch, s3s_server, f"s3://{s3s_bucket}/celery")
    env[WARM_UP_VARIABLE] = f"s3://{s3s_bucket}/warm-up"
    workers = celery_lanes(env)
    redis = workers[LANES[0]]
    with instance_without_compute_logs(tmp_path) as instance:
        results = run_job(
            reconstructable(celery_job), instance, celery_run_config(redis.broker, redis.backend)
        )
        check_no_secret_stored(instance, results, s3s_server.secret_key)

    warmed = {w.pid for w in workers.values()}
    assert s3s_server.keys(s3s_bucket) == sorted(
        expected_keys("celery") + [f"warm-up/{pid}.arrow" for pid in warmed]
    )
    check_stored_objects(s3s_server, s3s_bucket, "celery")
    # Every step ran in a pool process of its lane's worker, forked after that worker's main
    # process had used the worker pool and the I/O runtime (the warm-up objects above).
    pool = {lane: worker.pool_pids() for lane, worker in workers.items()}
    pids = step_pids(results)
    assert len(pids) == len(JOB_ASSETS) + 2 * len(PARTITIONED)
    for (step, partition), pid in pids.items():
        assert pid in pool[lane_of(step)], (step, partition, pid, pool)
    assert all(len({pid for pid in pids.values() if pid in pool[lane]}) > 0 for lane in LANES)
    assert os.getpid() not in pids.values()


def test_dask_workers_hand_every_output_to_the_other_worker(
    s3s_server: S3Server, s3s_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = store_environment(monkeypatch, s3s_server, f"s3://{s3s_bucket}/dask")
    cluster = DaskCluster(env).start()
    try:
        # Whatever this process inherited, the steps' processes can be terminated.
        assert cluster.sigterm_dispositions() == {signal.SIG_DFL}
        lanes = cluster.lane_pids()
        with instance_without_compute_logs(tmp_path) as instance:
            results = run_job(reconstructable(dask_job), instance, cluster.run_config())
            check_no_secret_stored(instance, results, s3s_server.secret_key)
    finally:
        cluster.stop()
    assert s3s_server.keys(s3s_bucket) == expected_keys("dask")
    check_stored_objects(s3s_server, s3s_bucket, "dask")
    assert all(len(pids) == 2 for pids in lanes.values())
    pids = step_pids(results)
    assert len(pids) == len(JOB_ASSETS) + 2 * len(PARTITIONED)
    for (step, partition), pid in pids.items():
        assert pid in lanes[lane_of(step)], (step, partition, pid, lanes)
    assert os.getpid() not in pids.values()


# ---------------------------------------------------------------------------------------------
# Load: LOAD_STEPS writers and as many readers, all submitted at once; each celery worker runs
# LOAD_CONCURRENCY of them at a time.

LOAD_CONCURRENCY = 2


def report_load(outcome: LoadOutcome, workers: dict[str, CeleryWorker], label: str) -> None:
    lines = [f"{label}: {outcome.summary()}"]
    for lane, worker in workers.items():
        pool = sorted(worker.pool_pids())
        peaks = ", ".join(f"{peak_rss_of(pid) / 1e6:,.0f}" for pid in pool)
        steps = ", ".join(str(outcome.steps_per_pid.get(pid, 0)) for pid in pool)
        lines.append(
            f"  worker {lane}: main process peak {peak_rss_of(worker.pid) / 1e6:,.0f} MB; "
            f"pool processes peak {peaks} MB, steps {steps}"
        )
    print("\n".join(lines))


def check_load(outcome: LoadOutcome) -> None:
    assert outcome.failed_steps == 0, outcome.errors
    assert outcome.partial_objects == []
    assert outcome.wrong_objects == []
    assert outcome.mixed_reads == 0
    assert outcome.unequal_reads == 0
    assert outcome.same_process_handoffs == 0
    assert outcome.raw_bytes_written == LOAD_STEPS * load_table(0).nbytes
    assert sum(outcome.steps_per_pid.values()) == 2 * LOAD_STEPS


def test_celery_load_through_one_s3_server(
    s3s_server: S3Server,
    s3s_bucket: str,
    celery_lanes: Callable[..., dict[str, CeleryWorker]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = store_environment(monkeypatch, s3s_server, f"s3://{s3s_bucket}/load")
    workers = celery_lanes(env, concurrency=LOAD_CONCURRENCY)
    any_worker = workers[LANES[0]]
    run_config = celery_run_config(any_worker.broker, any_worker.backend)
    with instance_without_compute_logs(tmp_path) as instance:
        outcome = run_load(
            reconstructable(celery_load_job), instance, run_config, s3s_server, s3s_bucket, "load"
        )
    report_load(outcome, workers, "celery load")
    check_load(outcome)


def test_celery_load_survives_dropped_connections_and_503_bursts(
    s3s_server: S3Server,
    s3s_bucket: str,
    celery_lanes: Callable[..., dict[str, CeleryWorker]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = FaultProxy(s3s_server.port).start()
    try:
        env = store_environment(
            monkeypatch, s3s_server, f"s3://{s3s_bucket}/faults", endpoint=proxy.endpoint
        )
        workers = celery_lanes(env, concurrency=LOAD_CONCURRENCY)
        any_worker = workers[LANES[0]]
        run_config = celery_run_config(any_worker.broker, any_worker.backend)
        with instance_without_compute_logs(tmp_path) as instance, FaultBursts(proxy) as faults:
            outcome = run_load(
                reconstructable(celery_load_job),
                instance,
                run_config,
                s3s_server,
                s3s_bucket,
                "faults",
            )
    finally:
        proxy.stop()
    report_load(outcome, workers, f"celery load with faults ({faults.served()})")
    check_load(outcome)
    # The faults happened: requests were answered 503 or cut, and were retried.
    assert proxy.faults_served["status 503"] > 0
    assert proxy.faults_served["drop"] > 0
