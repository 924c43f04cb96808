"""`fastio report` against real Dagster instances: the default SQLite one and a Postgres-backed
one (dagster-postgres, a PostgreSQL server this module starts on 127.0.0.1), after real runs
in-process and under the multiprocess executor. Its figures are checked against what was
materialized: runs, rows, the files on disk, the loads."""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import report_jobs
from click.testing import CliRunner
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from postgres_server import PostgresServer
from servers import S3Server

from dagster_fastio import FastIOManager
from dagster_fastio.cli import main
from dagster_fastio.cli.report import parse_when
from dagster_fastio.cli.report.figures import PICKLE_PROFILES
from dagster_fastio.cli.report.held import base_of, list_held
from dagster_fastio.keys import WRITE_STORED_BYTES_KEY

TESTS_FOLDER = str(Path(__file__).resolve().parent)
PASSWORD_VARIABLE = "FASTIO_TEST_PG_PASSWORD"
NO_COMPUTE_LOGS = (
    "compute_logs:\n"
    "  module: dagster._core.storage.noop_compute_log_manager\n"
    "  class: NoOpComputeLogManager\n"
)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def instance_dir(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A Dagster instance's folder: its dagster.yaml names SQLite (the default) or Postgres,
    whose password comes from the environment, as a deployment keeps it."""
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    config = "telemetry:\n  enabled: false\n" + NO_COMPUTE_LOGS
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres")
        database = server.database(f"dagster_{os.getpid()}_{time.time_ns()}")
        monkeypatch.setenv(PASSWORD_VARIABLE, server.password)
        config += (
            "storage:\n"
            "  postgres:\n"
            "    postgres_db:\n"
            f"      username: {server.user}\n"
            "      password:\n"
            f"        env: {PASSWORD_VARIABLE}\n"
            "      hostname: 127.0.0.1\n"
            f"      db_name: {database}\n"
            f"      port: {server.port}\n"
            # SQLAlchemy 2.1 takes a bare postgresql:// to mean psycopg 3; dagster-postgres
            # brings psycopg2, which this names.
            "      scheme: postgresql+psycopg2\n"
        )
    (folder / "dagster.yaml").write_text(config)
    return folder


def _report(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["report", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _by_asset(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["asset"]: row for row in report["assets"]}


def _materialize_in_process(instance: dg.DagsterInstance, base: Path, rounds: int) -> list[Any]:
    resources = {"io_manager": FastIOManager(base_path=str(base))}
    events = []
    for _ in range(rounds):
        result = dg.materialize(
            [report_jobs.source, report_jobs.derived], instance=instance, resources=resources
        )
        assert result.success
        events += result.get_asset_materialization_events()
    for partition in report_jobs.PARTITION_ROWS:
        result = dg.materialize(
            [report_jobs.regional],
            partition_key=partition,
            instance=instance,
            resources=resources,
        )
        assert result.success
        events += result.get_asset_materialization_events()
    return events


def _materialize_multiprocess(instance: dg.DagsterInstance, base: Path, rounds: int) -> list[Any]:
    job = dg.build_reconstructable_job(
        "report_jobs", "multiprocess_job", reconstructor_working_directory=TESTS_FOLDER
    )
    # spawn: each step process takes the environment as it is now (the Postgres password's
    # variable); a forkserver started by an earlier test would hand on its own.
    run_config = {
        "execution": {"config": {"max_concurrent": 2, "start_method": {"spawn": {}}}},
        "resources": {"io_manager": {"config": {"base_path": str(base)}}},
    }
    events = []
    for _ in range(rounds):
        with dg.execute_job(job, instance=instance, run_config=run_config) as result:
            assert result.success
            events += result.get_asset_materialization_events()
            pids = {e.pid for e in result.all_events if e.event_type_value == "STEP_START"}
            assert os.getpid() not in pids, "the steps ran in other processes"
    return events


def _stored(events: list[Any], asset: str) -> list[int]:
    return [
        e.materialization.metadata[WRITE_STORED_BYTES_KEY].value
        for e in events
        if e.asset_key.to_user_string() == asset
    ]


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_report_counts_what_was_materialized(
    instance_dir: Path, tmp_path: Path, executor: str
) -> None:
    base = tmp_path / "store"
    # Spawned step processes take seconds each: fewer rounds there.
    rounds = 3 if executor == "in_process" else 2
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        if executor == "in_process":
            events = _materialize_in_process(instance, base, rounds)
        else:
            events = _materialize_multiprocess(instance, base, rounds)

    result = CliRunner().invoke(main, ["report", "--instance", str(instance_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert PostgresServer.password not in result.output
    report = json.loads(result.output)
    storage = report["instance"]["storage"]
    expected_storage = (
        "Postgres" if "postgres" in instance_dir.joinpath("dagster.yaml").read_text() else "Sqlite"
    )
    assert storage.startswith(expected_storage), storage
    assets = _by_asset(report)

    source, derived = assets["source"], assets["derived"]
    assert source["materializations"] == derived["materializations"] == rounds
    assert source["unchanged"] == 0
    assert source["rows_written"] == rounds * report_jobs.ROWS
    assert derived["rows_written"] == rounds * report_jobs.DERIVED_ROWS
    assert source["latest_rows"] == report_jobs.ROWS
    assert source["stored_bytes_written"] == sum(_stored(events, "source"))
    assert source["raw_bytes_written"] > source["stored_bytes_written"] > 0
    # What is held now: the one file of each unpartitioned asset, as it is on disk.
    on_disk = (base / "source.arrow").stat().st_size
    assert source["latest_stored_bytes"] == on_disk
    assert (source["held_files"], source["held_bytes"]) == (1, on_disk)
    assert derived["held_bytes"] == (base / "derived.arrow").stat().st_size
    assert report["bases"] == [str(base)]
    # derived loaded source once a run: the loads are source's, in full.
    assert source["loads"] == rounds
    assert source["load_rows"] == rounds * report_jobs.ROWS
    assert source["load_bytes"] == sum(_stored(events, "source"))
    assert source["load_mb_per_s"] > 0 and source["write_mb_per_s"] > 0
    assert derived["loads"] == 0
    # At pickle's measured cost for a local disk (FilesystemIOManager's figures).
    assert source["pickle"]["manager"] == "FilesystemIOManager"
    assert source["pickle"]["stored_bytes_written"] == source["raw_bytes_written"]
    write_ratio, load_ratio = PICKLE_PROFILES["local"].ratios("lz4")  # the default codec
    assert source["pickle"]["write_seconds"] == pytest.approx(
        source["write_seconds"] * write_ratio, abs=1e-3
    )
    assert source["pickle"]["load_seconds"] == pytest.approx(
        source["load_seconds"] * load_ratio, abs=1e-3
    )
    totals = report["totals"]
    assert totals["materializations"] == sum(row["materializations"] for row in assets.values())
    assert totals["held_bytes"] == sum(p.stat().st_size for p in base.rglob("*") if p.is_file())

    if executor == "in_process":
        regional = assets["regional"]
        assert regional["materializations"] == 2
        assert regional["rows_written"] == sum(report_jobs.PARTITION_ROWS.values())
        partitions = _report("--instance", str(instance_dir), "--partitions")["partitions"]
        by_key = {row["partition"]: row for row in partitions if row["asset"] == "regional"}
        assert set(by_key) == set(report_jobs.PARTITION_ROWS)
        for key, rows in report_jobs.PARTITION_ROWS.items():
            assert by_key[key]["rows_written"] == rows
            assert by_key[key]["held_bytes"] == (base / "regional" / f"{key}.arrow").stat().st_size


def test_held_now_comes_from_one_listing_of_the_store(
    s3s_server: S3Server, s3s_bucket: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n" + NO_COMPUTE_LOGS)
    base = f"s3://{s3s_bucket}/dagster"
    options = s3s_server.options()
    manager = FastIOManager(base_path=base, storage_options=options, compression="zstd")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for _ in range(2):
            assert dg.materialize(
                [report_jobs.source, report_jobs.derived],
                instance=instance,
                resources={"io_manager": manager},
            ).success
        for key in report_jobs.PARTITION_ROWS:
            assert dg.materialize(
                [report_jobs.regional],
                partition_key=key,
                instance=instance,
                resources={"io_manager": manager},
            ).success
    listing = s3s_server.client().list_objects_v2(Bucket=s3s_bucket)["Contents"]
    sizes = {item["Key"]: item["Size"] for item in listing}
    arguments = ["report", "--instance", str(home), "--json", "--partitions"]
    for key, value in options.items():
        arguments += ["-o", f"{key}={value}"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert s3s_server.secret_key not in result.output
    report = json.loads(result.output)
    assert report["bases"] == [base]
    assets = _by_asset(report)
    assert assets["source"]["held_bytes"] == sizes["dagster/source.arrow"]
    assert assets["regional"]["held_files"] == 2
    assert assets["regional"]["held_bytes"] == sum(
        size for name, size in sizes.items() if name.startswith("dagster/regional/")
    )
    partitions = {row["partition"]: row for row in report["partitions"]}
    assert partitions["east"]["held_bytes"] == sizes["dagster/regional/east.arrow"]
    # An asset in a store is compared with S3PickleIOManager's measured cost, for zstd.
    source = assets["source"]
    assert source["pickle"]["manager"] == "S3PickleIOManager"
    write_ratio, load_ratio = PICKLE_PROFILES["store"].ratios("zstd")
    assert source["pickle"]["write_seconds"] == pytest.approx(
        source["write_seconds"] * write_ratio, abs=1e-3
    )
    assert source["pickle"]["load_seconds"] == pytest.approx(
        source["load_seconds"] * load_ratio, abs=1e-3
    )
    assert source["loads"] == 2 and source["load_bytes"] > 0
    # Without the store's settings the listing fails in one line, and says nothing secret.
    refused = CliRunner().invoke(main, ["report", "--instance", str(home)])
    assert refused.exit_code == 1 and "Traceback" not in refused.output


def test_a_range_write_counts_once_and_shares_out_by_partition(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n" + NO_COMPUTE_LOGS)
    base = tmp_path / "store"
    # What the backfill daemon puts on the one run of a single-run backfill.
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: "east",
        ASSET_PARTITION_RANGE_END_TAG: "west",
    }
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize(
            [report_jobs.regional_range],
            instance=instance,
            tags=tags,
            resources={"io_manager": FastIOManager(base_path=str(base))},
        )
        assert result.success
        recorded = result.get_asset_materialization_events()
    # Dagster records one materialization per partition, each with the whole write's figures.
    assert len(recorded) == 2
    stored = recorded[0].materialization.metadata[WRITE_STORED_BYTES_KEY].value
    report = _report("--instance", str(home), "--partitions")
    (asset,) = report["assets"]
    assert asset["materializations"] == 1
    assert asset["rows_written"] == sum(report_jobs.PARTITION_ROWS.values())
    assert asset["stored_bytes_written"] == stored
    assert asset["held_bytes"] == sum(p.stat().st_size for p in (base / "regional_range").iterdir())
    by_key = {row["partition"]: row for row in report["partitions"]}
    for key, rows in report_jobs.PARTITION_ROWS.items():
        assert by_key[key]["rows_written"] == rows
        assert by_key[key]["stored_bytes_written"] == pytest.approx(stored * rows / 10_000, abs=1)
        assert (
            by_key[key]["held_bytes"] == (base / "regional_range" / f"{key}.arrow").stat().st_size
        )


def test_since_and_until_choose_the_window(instance_dir: Path, tmp_path: Path) -> None:
    base = tmp_path / "store"
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        _materialize_in_process(instance, base, rounds=2)
        between = time.time()
        # The event log's clock is the machine's: the second batch starts strictly later.
        while time.time() <= between:
            time.sleep(0.001)
        _materialize_in_process(instance, base, rounds=1)
    everything = _by_asset(_report("--instance", str(instance_dir)))
    assert everything["source"]["materializations"] == 3
    since = dt.datetime.fromtimestamp(between, dt.timezone.utc).isoformat()
    later = dt.datetime.fromtimestamp(between + 3600, dt.timezone.utc).isoformat()
    # The window from `between` to an hour on: the last batch; the window before it (an hour
    # back) holds the first two, which the trend compares with.
    recent = _by_asset(_report("--instance", str(instance_dir), "--since", since, "--until", later))
    assert recent["source"]["materializations"] == 1
    assert recent["source"]["previous_materializations"] == 2
    assert recent["source"]["loads"] == 1 and recent["source"]["previous_loads"] == 2
    assert recent["source"]["write_trend"] is not None and recent["source"]["write_trend"] > 0
    early = _by_asset(_report("--instance", str(instance_dir), "--until", since))
    assert early["source"]["materializations"] == 2
    assert (
        _report("--instance", str(instance_dir), "--since", later, "--until", "2100-01-01")[
            "assets"
        ]
        == []
    )


def test_chart_is_a_png_matplotlib_drew(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n" + NO_COMPUTE_LOGS)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        _materialize_in_process(instance, tmp_path / "store", rounds=3)
    chart = tmp_path / "out" / "dashboard.png"
    result = CliRunner().invoke(main, ["report", "--instance", str(home), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (1300, 1100)
    assert len(data) > 50_000, "six panels of lines and bars, not an empty canvas"
    assert b"matplotlib" in data, "matplotlib names itself in the PNG's Software chunk"


def test_chart_without_matplotlib_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n" + NO_COMPUTE_LOGS)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        _materialize_in_process(instance, tmp_path / "store", rounds=1)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    chart = tmp_path / "dashboard.png"
    result = CliRunner().invoke(main, ["report", "--instance", str(home), "--chart", str(chart)])
    assert result.exit_code == 1
    assert "dagster-fastio[bench]" in result.output
    assert not chart.exists()


def test_an_instance_that_is_not_there_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(main, ["report", "--instance", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "no Dagster instance" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "missing").exists()
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    result = CliRunner().invoke(main, ["report"])
    assert result.exit_code == 1
    assert "DAGSTER_HOME" in result.output
    result = CliRunner().invoke(main, ["report", "--instance", str(tmp_path), "--since", "soon"])
    assert result.exit_code == 2
    assert "not a time" in result.output


def test_a_refused_database_is_one_line_without_the_password(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    wrong = "not-the-password-and-not-to-be-printed"
    (tmp_path / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      username: {postgres.user}\n      password: {wrong}\n"
        f"      hostname: 127.0.0.1\n      port: {postgres.port}\n      db_name: postgres\n"
        "      scheme: postgresql+psycopg2\n"
    )
    result = CliRunner().invoke(main, ["report", "--instance", str(tmp_path)])
    assert result.exit_code == 1
    assert "Error: " in result.output and "Traceback" not in result.output
    assert wrong not in result.output


def test_parse_when() -> None:
    now = 1_800_000_000.0
    assert parse_when("7d", now) == now - 7 * 86400
    assert parse_when("12h", now) == now - 12 * 3600
    assert parse_when("2w", now) == now - 14 * 86400
    assert (
        parse_when("2026-12-01", now)
        == dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc).timestamp()
    )
    assert (
        parse_when("2026-12-01T08:00+02:00", now)
        == dt.datetime(2026, 12, 1, 6, tzinfo=dt.timezone.utc).timestamp()
    )
    with pytest.raises(ValueError, match="not a time"):
        parse_when("yesterday", now)


def test_base_of_a_recorded_path() -> None:
    assert base_of(("flights",), None, "/data/flights/flights.arrow") == "/data/flights"
    assert base_of(("a", "b"), None, "s3://bucket/pre/a/b.parquet") == "s3://bucket/pre"
    assert base_of(("daily",), "2026-12-01", "/d/daily/2026-12-01.arrow") == "/d"
    assert base_of(("m",), "x|y", "/d/m/x/y.arrow") == "/d"
    # A range write records the asset's folder.
    assert base_of(("daily",), None, "/d/daily") == "/d"
    # Another manager's path, or an op output's: no base.
    assert base_of(("flights",), None, "/data/other.arrow") is None


def test_held_files_go_to_the_longest_asset_key(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "p1.arrow").write_bytes(b"1" * 10)  # partition p1 of a
    (tmp_path / "a" / "b.arrow").write_bytes(b"2" * 20)  # asset a/b, not a partition of a
    (tmp_path / "a" / "b" / "c.arrow").write_bytes(b"3" * 40)  # asset a/b/c
    (tmp_path / "run-1").mkdir()
    (tmp_path / "run-1" / "out.pickle.zst").write_bytes(b"4" * 80)  # an op output
    held = list_held(
        [str(tmp_path)],
        {"a": ("a",), "a/b": ("a", "b")},
        {"a": ["p1"]},
        None,
    )
    assert held.assets == {"a": (1, 10), "a/b": (2, 60)}
    assert held.partitions == {("a", "p1"): (1, 10)}
    assert held.others == (1, 80)


def test_appended_parts_are_held_by_their_asset_and_partition(tmp_path: Path) -> None:
    """An appended key's parts (``<stem>.parts/<name>``) count as its asset's, and as its
    partition's: the report finds the base from the parts folder the materialization records."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n" + NO_COMPUTE_LOGS)
    base = tmp_path / "store"
    resources = {"io_manager": FastIOManager(base_path=str(base), write_mode="append")}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for _ in range(2):
            result = dg.materialize(
                [report_jobs.appended],
                instance=instance,
                partition_key="east",
                resources=resources,
            )
            assert result.success
    parts = sorted((base / "appended" / "east.parts").iterdir())
    assert len(parts) == 2
    report = _report("--instance", str(home), "--partitions")
    (asset,) = report["assets"]
    assert asset["materializations"] == 2
    assert asset["held_files"] == 2
    assert asset["held_bytes"] == sum(p.stat().st_size for p in parts)
    (partition,) = report["partitions"]
    assert partition["partition"] == "east"
    assert partition["held_bytes"] == asset["held_bytes"]
    assert report["held_elsewhere"] == {"files": 0, "bytes": 0}
