"""`fastio migrate`: what FilesystemIOManager and S3PickleIOManager stored, listed and rewritten
as FastIOManager's files, then loaded by FastIOManager as the replaced manager loaded it; on a
local disk, on s3s-fs and on fake-gcs-server, and killed in the middle."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import polars as pl
import polars.testing as plt
import pyarrow as pa
import pytest
from click.testing import CliRunner
from servers import FakeGcs, S3Server

import dagster_fastio as fio
from dagster_fastio import FastIOManager, api
from dagster_fastio.cli import main
from dagster_fastio.stored.codec_choice import choose_local_codec
from dagster_fastio.table_types import TYPE_METADATA_KEY

# ---------------------------------------------------------------------------------------------
# What an existing project stored: one asset of each kind, and a partitioned one.


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["ann", "bo", None],
            "when": pd.date_range("2024-01-01", periods=3, tz="UTC"),
        },
        index=pd.Index([10, 20, 30], name="row"),
    )


@dg.asset
def frame():
    return _frame()


@dg.asset
def pframe():
    return pl.DataFrame({"x": [1.5, None, 3.0], "s": ["p", "q", "r"]})


def _table() -> pa.Table:
    return pa.table({"n": [1, 2, 3, 4], "tag": ["a", "b", "c", "d"]})


def _settings() -> dict[str, Any]:
    return {"threshold": 0.5, "names": ["a", "b"]}


@dg.asset
def table():
    return _table()


@dg.asset
def settings():
    return _settings()


@dg.asset
def nothing():  # no annotation: stored as a pickle of None, and loaded as None
    return None


REGIONS = dg.StaticPartitionsDefinition(["east", "west"])


@dg.asset(partitions_def=REGIONS)
def sales(context: dg.AssetExecutionContext):
    return pd.DataFrame({"region": [context.partition_key] * 2, "amount": [1.0, 2.5]})


UPSTREAM = [frame, pframe, table, settings, nothing, sales]
KEYS = ["frame", "nothing", "pframe", "sales/east", "sales/west", "settings", "table"]
TYPES = {
    "frame": "pandas.DataFrame",
    "nothing": "builtins.NoneType",
    "pframe": "polars.DataFrame",
    "sales/east": "pandas.DataFrame",
    "sales/west": "pandas.DataFrame",
    "settings": "builtins.dict",
    "table": "pyarrow.Table",
}
ROWS = {"frame": 3, "pframe": 3, "sales/east": 2, "sales/west": 2, "table": 4}
NEW_FILES = {
    "frame": "frame.arrow",
    "nothing": "nothing.pickle.zst",
    "pframe": "pframe.arrow",
    "sales/east": "sales/east.arrow",
    "sales/west": "sales/west.arrow",
    "settings": "settings.pickle.zst",
    "table": "table.arrow",
}


def _materialize(io_manager: Any) -> None:
    """Every upstream asset, each partition in its own run, as a project's runs stored them."""
    resources = {"io_manager": io_manager}
    unpartitioned = [frame, pframe, table, settings, nothing]
    assert dg.materialize(unpartitioned, resources=resources).success
    for region in REGIONS.get_partition_keys():
        assert dg.materialize([sales], partition_key=region, resources=resources).success


def _load_downstream(io_manager: Any) -> dict[str, Any]:
    """What a downstream asset with unannotated inputs gets from ``io_manager``."""
    seen: dict[str, Any] = {}

    @dg.asset
    def downstream(frame, pframe, table, settings, nothing, sales) -> None:
        seen.update(
            frame=frame, pframe=pframe, table=table, settings=settings, nothing=nothing, sales=sales
        )

    result = dg.materialize(
        [*UPSTREAM, downstream], selection=[downstream], resources={"io_manager": io_manager}
    )
    assert result.success
    return seen


def _assert_same_loads(loaded: dict[str, Any], expected: dict[str, Any]) -> None:
    """FastIOManager's loads are the replaced manager's: the same types and values."""
    assert set(loaded) == set(expected)
    for name, value in expected.items():
        got = loaded[name]
        assert type(got) is type(value), name
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got, value)
        elif isinstance(value, pl.DataFrame):
            plt.assert_frame_equal(got, value)
        elif isinstance(value, pa.Table):
            assert got.equals(value), name
        elif name == "sales":
            assert sorted(got) == sorted(value) == ["east", "west"]
            for region in value:
                pd.testing.assert_frame_equal(got[region], value[region])
        else:
            assert got == value, name


def _stored(base: Path) -> dict[str, bytes]:
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["migrate", *args])
    return result.exit_code, result.output


def _run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, ["migrate", *args, "--json"])
    assert result.stdout.strip(), result.output
    return result.exit_code, json.loads(result.stdout)


def _by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in report["pickles"]}


@pytest.fixture
def filesystem_base(tmp_path: Path) -> Path:
    """A base where FilesystemIOManager stored every upstream asset, beside what Dagster's
    storage folder also holds (a compute log, a database) and a file of this package."""
    base = tmp_path / "storage"
    _materialize(dg.FilesystemIOManager(base_dir=str(base)))
    logs = base / "6a1c-run" / "compute_logs"
    logs.mkdir(parents=True)
    (logs / "step.out").write_text("2024-01-01 INFO started\n")
    (logs / "step.complete").write_bytes(b"")
    (base / "runs.db").write_bytes(b"SQLite format 3\x00" + bytes(100))
    fio.write(pa.table({"v": [1]}), base / "already.arrow")
    return base


# ---------------------------------------------------------------------------------------------
# A local disk.


def test_dry_run_lists_the_pickles_and_changes_nothing(filesystem_base: Path) -> None:
    before = _stored(filesystem_base)
    code, report = _run_json(str(filesystem_base))
    assert code == 0
    assert report["applied"] is False
    found = _by_key(report)
    # Logs, the database and this package's file are not pickles: left out, silently.
    assert sorted(found) == KEYS
    for key, item in found.items():
        assert item["status"] == "would_migrate"
        assert item["python_type"] == TYPES[key]
        assert item["rows"] == ROWS.get(key)
        assert item["stored_bytes"] == len(before[key])
        assert item["new_uri"] is None and not item["pickle_removed"]
    summary = report["summary"]
    assert summary["pickles"] == len(KEYS)
    assert summary["pickle_bytes"] == sum(len(before[key]) for key in KEYS)
    assert summary["removed_bytes"] == 0
    assert _stored(filesystem_base) == before

    code, output = _run(str(filesystem_base))
    assert code == 0
    for word in ("sales/east", "pandas.DataFrame", "polars.DataFrame", "would migrate"):
        assert word in output
    assert "Dry run" in output
    assert _stored(filesystem_base) == before


def test_apply_rewrites_each_key_and_fastiomanager_loads_what_filesystem_did(
    filesystem_base: Path,
) -> None:
    expected = _load_downstream(dg.FilesystemIOManager(base_dir=str(filesystem_base)))
    before = _stored(filesystem_base)

    code, report = _run_json(str(filesystem_base), "--apply")
    assert code == 0
    found = _by_key(report)
    assert sorted(found) == KEYS
    after = _stored(filesystem_base)
    for key, item in found.items():
        assert item["status"] == "migrated" and item["pickle_removed"]
        assert item["new_uri"] == str(filesystem_base / NEW_FILES[key])
        assert item["new_bytes"] == len(after[NEW_FILES[key]])
        assert key not in after
    summary = report["summary"]
    assert summary["statuses"] == {"migrated": len(KEYS)}
    assert summary["rewritten_bytes_before"] == summary["removed_bytes"]
    assert summary["removed_bytes"] == sum(len(before[key]) for key in KEYS)
    assert summary["rewritten_bytes_after"] == sum(len(after[NEW_FILES[k]]) for k in KEYS)
    # What is not a pickle is untouched.
    for other in ("6a1c-run/compute_logs/step.out", "runs.db", "already.arrow"):
        assert after[other] == before[other]

    # At FastIOManager's defaults: on a local disk the codec a sample of the table chooses (lz4,
    # or none where lz4 saves too little), the type recorded for unannotated loads.
    for key, python_type in TYPES.items():
        if key in ROWS:
            path = filesystem_base / NEW_FILES[key]
            chosen, _reason = choose_local_codec(fio.read(path))
            assert api.read_footer(path).compression == chosen
            assert fio.read(path).schema.metadata[TYPE_METADATA_KEY] == python_type.encode()
    assert api.read_pickle(filesystem_base / "settings.pickle.zst") == _settings()

    loaded = _load_downstream(FastIOManager(base_path=str(filesystem_base)))
    _assert_same_loads(loaded, expected)


def test_rewritten_files_are_the_files_fastiomanager_writes(
    filesystem_base: Path, tmp_path: Path
) -> None:
    assert _run_json(str(filesystem_base), "--apply")[0] == 0
    written_by_fastio = tmp_path / "fastio"
    _materialize(FastIOManager(base_path=str(written_by_fastio)))
    for key in KEYS:
        migrated = filesystem_base / NEW_FILES[key]
        stored = written_by_fastio / NEW_FILES[key]
        if key in ROWS:
            ours, theirs = api.read_footer(migrated), api.read_footer(stored)
            assert ours.schema.equals(theirs.schema, check_metadata=True), key
            assert ours.content_hash == theirs.content_hash is not None, key
            assert ours.compression == theirs.compression, key
        else:
            assert api.read_pickle_payload(migrated).equals(api.read_pickle_payload(stored))


def test_keep_keeps_the_pickles_until_a_later_apply(filesystem_base: Path) -> None:
    before = _stored(filesystem_base)
    code, report = _run_json(str(filesystem_base), "--apply", "--keep")
    assert code == 0
    assert {item["status"] for item in report["pickles"]} == {"migrated"}
    assert not any(item["pickle_removed"] for item in report["pickles"])
    assert report["summary"]["removed_bytes"] == 0
    after = _stored(filesystem_base)
    for key in KEYS:
        assert after[key] == before[key]
        assert NEW_FILES[key] in after

    # FastIOManager loads the new files (it prefers them to a pickle) ...
    loaded = _load_downstream(FastIOManager(base_path=str(filesystem_base)))
    pd.testing.assert_frame_equal(loaded["frame"], _frame())
    # ... and a later run finds the work done and only removes the pickles.
    code, report = _run_json(str(filesystem_base), "--apply")
    assert code == 0
    assert report["summary"]["statuses"] == {"already_migrated": len(KEYS)}
    assert all(item["pickle_removed"] for item in report["pickles"])
    assert _stored(filesystem_base) == {k: v for k, v in after.items() if k not in KEYS}
    code, output = _run(str(filesystem_base))
    assert code == 0 and "No pickle of a replaced I/O manager" in output


def test_format_and_compression_flags(filesystem_base: Path) -> None:
    code, report = _run_json(
        str(filesystem_base), "--apply", "--format", "parquet", "--compression", "zstd"
    )
    assert code == 0
    assert report["summary"]["statuses"] == {"migrated": len(KEYS)}
    after = _stored(filesystem_base)
    for key in ROWS:
        assert f"{key}.parquet" in after
        footer = api.read_footer(filesystem_base / f"{key}.parquet")
        assert footer.format == "parquet"
    assert "settings.pickle.zst" in after
    # FastIOManager at its default format still loads the Parquet files.
    loaded = _load_downstream(FastIOManager(base_path=str(filesystem_base)))
    pd.testing.assert_frame_equal(loaded["frame"], _frame())
    assert loaded["table"].equals(_table())

    assert _run("--compression", "snappy", "--apply", str(filesystem_base))[0] == 2
    assert _run(str(filesystem_base), "--format", "feather")[0] == 2


def test_a_pickle_that_cannot_be_unpickled_is_reported_and_left(filesystem_base: Path) -> None:
    # A class from a module this process cannot import (a project's own, not installed here).
    module = types.ModuleType("gone_project_module")

    class Model:
        pass

    Model.__module__, Model.__qualname__ = module.__name__, "Model"
    module.Model = Model  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        payload = pickle.dumps(Model(), protocol=4)
    finally:
        del sys.modules[module.__name__]
    (filesystem_base / "model").write_bytes(payload)
    damaged = pickle.dumps(list(range(1000)), protocol=4)[:50]
    (filesystem_base / "damaged").write_bytes(damaged)

    code, report = _run_json(str(filesystem_base), "--apply")
    assert code == 1
    found = _by_key(report)
    assert found["model"]["status"] == "unreadable"
    assert "gone_project_module" in found["model"]["error"]
    assert found["damaged"]["status"] == "unreadable"
    assert report["summary"]["failed"] == 2
    # The others were migrated all the same; the two are left exactly as they were.
    assert all(found[key]["status"] == "migrated" for key in KEYS)
    after = _stored(filesystem_base)
    assert after["model"] == payload and after["damaged"] == damaged
    code, output = _run(str(filesystem_base))
    assert code == 1
    assert "unreadable" in output and "gone_project_module" in output


def test_a_pickle_written_after_this_package_s_file_replaces_it(filesystem_base: Path) -> None:
    """Switched to FastIOManager, back to FilesystemIOManager, forward again: the old manager's
    pickle is the key's latest value (FastIOManager's own writes remove it), so it wins."""
    manager = FastIOManager(base_path=str(filesystem_base))
    manager.handle_output(dg.build_output_context(asset_key=dg.AssetKey("frame")), _frame())
    assert not (filesystem_base / "frame").exists()
    latest = pd.DataFrame({"id": [7, 8]})
    time.sleep(0.05)  # a later modification time than the .arrow file's, on any file system
    with open(filesystem_base / "frame", "wb") as file:
        pickle.dump(latest, file, protocol=4)

    code, report = _run_json(str(filesystem_base), "--apply")
    assert code == 0
    item = _by_key(report)["frame"]
    assert item["status"] == "migrated" and item["pickle_removed"]
    assert not (filesystem_base / "frame").exists()
    loaded = _load_downstream(FastIOManager(base_path=str(filesystem_base)))
    pd.testing.assert_frame_equal(loaded["frame"], latest)


def test_a_key_fastiomanager_has_rewritten_since_is_never_written_over(
    filesystem_base: Path,
) -> None:
    newer = pd.DataFrame({"id": [99]})
    # FastIOManager not reading the replaced pickles stores the key and leaves the pickle.
    manager = FastIOManager(base_path=str(filesystem_base), read_replaced_pickles=False)
    manager.handle_output(dg.build_output_context(asset_key=dg.AssetKey("frame")), newer)
    stored = (filesystem_base / "frame.arrow").read_bytes()

    code, report = _run_json(str(filesystem_base), "--apply")
    assert code == 0
    item = _by_key(report)["frame"]
    assert item["status"] == "superseded" and not item["pickle_removed"]
    assert (filesystem_base / "frame.arrow").read_bytes() == stored
    assert (filesystem_base / "frame").is_file()
    code, output = _run(str(filesystem_base))
    assert code == 0 and "holds other content" in output


def test_a_rewrite_that_reads_back_changed_is_removed_and_the_pickle_kept(
    filesystem_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_read = api.read

    def read_one_row_short(uri: Any, *args: Any, **kwargs: Any) -> pa.Table:
        back = real_read(uri, *args, **kwargs)
        return back.slice(1) if str(uri).endswith("frame.arrow") else back

    monkeypatch.setattr(api, "read", read_one_row_short)
    before = _stored(filesystem_base)
    code, report = _run_json(str(filesystem_base), "--apply")
    assert code == 1
    item = _by_key(report)["frame"]
    assert item["status"] == "failed" and "another content hash" in item["error"]
    after = _stored(filesystem_base)
    assert "frame.arrow" not in after
    assert after["frame"] == before["frame"]
    assert _by_key(report)["table"]["status"] == "migrated"


def test_a_base_that_is_not_a_folder_fails_in_one_line(tmp_path: Path) -> None:
    code, output = _run(str(tmp_path / "absent"))
    assert code == 1
    assert "is not a folder" in output and "Traceback" not in output


# ---------------------------------------------------------------------------------------------
# S3 (s3s-fs), where S3PickleIOManager stored under s3://<bucket>/dagster.


# dagster-aws 0.29's S3PickleIOManager asks its init context for `dagster_run`, which Dagster
# 1.13 deprecates; the manager is the subject here, so its own warning is let through.
S3_PICKLE_WARNING = pytest.mark.filterwarnings(
    "ignore:InitResourceContext.dagster_run is deprecated:DeprecationWarning"
)


def _flags(options: dict[str, str]) -> list[str]:
    return [f"-o{key}={value}" for key, value in options.items()]


@S3_PICKLE_WARNING
def test_s3_pickles_are_listed_rewritten_and_loaded(s3s_server: S3Server, s3s_bucket: str) -> None:
    replaced = s3s_server.pickle_io_manager(s3s_bucket)
    _materialize(replaced)
    expected = _load_downstream(replaced)
    base = f"s3://{s3s_bucket}/dagster"
    options = s3s_server.options()
    before = {key: len(_s3_object(s3s_server, s3s_bucket, key)) for key in KEYS}

    code, report = _run_json(base, *_flags(options))
    assert code == 0
    found = _by_key(report)
    assert sorted(found) == KEYS
    assert {key: item["python_type"] for key, item in found.items()} == TYPES
    assert {key: item["stored_bytes"] for key, item in found.items()} == before

    code, output = _run(base, "--apply", *_flags(options))
    assert code == 0, output
    assert s3s_server.secret_key not in output
    keys = s3s_server.keys(s3s_bucket)
    assert keys == sorted(f"dagster/{NEW_FILES[key]}" for key in KEYS)
    # On a store FastIOManager writes zstd: the bytes are the cost there.
    assert api.read_footer(f"{base}/frame.arrow", options).compression == "zstd"

    fast = FastIOManager(base_path=base, storage_options=options)
    _assert_same_loads(_load_downstream(fast), expected)


def _s3_object(server: S3Server, bucket: str, key: str) -> bytes:
    return server.client().get_object(Bucket=bucket, Key=f"dagster/{key}")["Body"].read()


def test_store_errors_name_no_secret(s3s_server: S3Server) -> None:
    options = s3s_server.options()
    code, output = _run("s3://no-such-bucket-for-migrate/dagster", *_flags(options))
    assert code == 1
    assert "does not exist" in output
    assert s3s_server.secret_key not in output and s3s_server.access_key not in output
    wrong = s3s_server.options(aws_secret_access_key="a-wrong-secret-that-must-not-show")
    code, output = _run("s3://no-such-bucket-for-migrate/dagster", *_flags(wrong))
    assert code == 1 and "a-wrong-secret-that-must-not-show" not in output


# ---------------------------------------------------------------------------------------------
# GCS (fake-gcs-server), where GCSPickleIOManager stores under gs://<bucket>/dagster.

GCS_BUCKET = "fastio-migrate"


@pytest.fixture(scope="module")
def gcs(gcs_server: FakeGcs) -> FakeGcs:
    gcs_server.create_bucket(GCS_BUCKET)
    return gcs_server


def test_gcs_pickles_are_listed_and_a_refused_write_leaves_them_loadable(gcs: FakeGcs) -> None:
    # As GCSPickleIOManager stores them: Dagster's pickle protocol at <prefix>/<key path>.
    values = {"frame": _frame(), "settings": _settings()}
    for key, value in values.items():
        gcs.upload(GCS_BUCKET, f"dagster/{key}", pickle.dumps(value, protocol=4))
    gcs.upload(GCS_BUCKET, "dagster/logs/step.out", b"not a pickle")
    base = f"gs://{GCS_BUCKET}/dagster"
    options = gcs.options()

    code, report = _run_json(base, *_flags(options))
    assert code == 0
    found = _by_key(report)
    assert sorted(found) == ["frame", "settings"]
    assert found["frame"]["python_type"] == "pandas.DataFrame" and found["frame"]["rows"] == 3

    # fake-gcs-server answers object_store's XML-API uploads with 400: every rewrite fails,
    # each is reported, and nothing a load needs is touched.
    code, report = _run_json(base, "--apply", *_flags(options))
    assert code == 1
    for item in report["pickles"]:
        assert item["status"] == "failed" and "StoreError" in item["error"]
        assert options["google_service_account_key"] not in item["error"]
    manager = FastIOManager(base_path=base, storage_options=options)
    for key, value in values.items():
        context = dg.build_input_context(asset_key=dg.AssetKey(key))
        loaded = manager.load_input(context)
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(loaded, value)
        else:
            assert loaded == value


# ---------------------------------------------------------------------------------------------
# Killed in the middle: every key still loads, and a second run finishes the job.


def _numbered(i: int) -> pd.DataFrame:
    rng = np.random.default_rng(i)
    return pd.DataFrame({"i": np.full(20_000, i), "x": rng.random(20_000)})


def _many(count: int) -> dg.AssetsDefinition:
    """One run storing ``count`` frames, one asset each: ``k000``, ``k001``, ..."""

    @dg.multi_asset(outs={f"k{i:03d}": dg.AssetOut() for i in range(count)})
    def many():
        for i in range(count):
            yield dg.Output(_numbered(i), output_name=f"k{i:03d}")

    return many


def _kill_partway(args: list[str], migrated: Callable[[], int]) -> None:
    """Runs `fastio migrate` in a process and SIGKILLs it once a few keys are migrated."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster_fastio.cli", "migrate", *args, "--apply", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while migrated() < 5:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "no key was migrated in 120 s"
            time.sleep(0.005)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        if process.stderr:
            process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def _assert_every_key_loads(manager: FastIOManager, count: int) -> None:
    for i in range(count):
        context = dg.build_input_context(asset_key=dg.AssetKey(f"k{i:03d}"))
        pd.testing.assert_frame_equal(manager.load_input(context), _numbered(i))


def test_killed_in_the_middle_on_a_local_disk(tmp_path: Path) -> None:
    count, base = 120, tmp_path / "storage"
    assert dg.materialize(
        [_many(count)], resources={"io_manager": dg.FilesystemIOManager(base_dir=str(base))}
    ).success
    _kill_partway([str(base)], lambda: len(list(base.glob("*.arrow"))))
    pickles = [p for p in base.iterdir() if p.is_file() and "." not in p.name]
    assert 0 < len(pickles) < count, "the kill did not land in the middle"

    _assert_every_key_loads(FastIOManager(base_path=str(base)), count)
    code, report = _run_json(str(base), "--apply")
    assert code == 0
    assert set(report["summary"]["statuses"]) <= {"migrated", "already_migrated"}
    assert sorted(p.name for p in base.glob("k*")) == [f"k{i:03d}.arrow" for i in range(count)]
    _assert_every_key_loads(FastIOManager(base_path=str(base)), count)


@S3_PICKLE_WARNING
def test_killed_in_the_middle_on_s3(s3s_server: S3Server, s3s_bucket: str) -> None:
    # Fewer keys than on a local disk: each costs a few requests, so the kill still lands.
    count, replaced = 40, s3s_server.pickle_io_manager(s3s_bucket)
    assert dg.materialize([_many(count)], resources={"io_manager": replaced}).success
    base, options = f"s3://{s3s_bucket}/dagster", s3s_server.options()

    def migrated() -> int:
        return sum(key.endswith(".arrow") for key in s3s_server.keys(s3s_bucket))

    _kill_partway([base, *_flags(options)], migrated)
    left = [key for key in s3s_server.keys(s3s_bucket) if "." not in key.rsplit("/", 1)[-1]]
    assert 0 < len(left) < count, "the kill did not land in the middle"

    manager = FastIOManager(base_path=base, storage_options=options)
    _assert_every_key_loads(manager, count)
    code, report = _run_json(base, "--apply", *_flags(options))
    assert code == 0
    assert set(report["summary"]["statuses"]) <= {"migrated", "already_migrated"}
    assert s3s_server.keys(s3s_bucket) == [f"dagster/k{i:03d}.arrow" for i in range(count)]
    _assert_every_key_loads(manager, count)


def test_a_migrated_key_keeps_its_rows_when_appends_begin(tmp_path: Path) -> None:
    """README, Append's limits: `fastio migrate` before switching an asset to `append` keeps
    what FilesystemIOManager stored as the first part; without it the parts start anew and the
    pickle stays."""
    first = pd.DataFrame({"id": [1, 2, 3]})
    later = pd.DataFrame({"id": [4, 5]})

    def materialize(value: pd.DataFrame, io_manager: Any) -> None:
        @dg.asset(name="events")
        def events() -> pd.DataFrame:
            return value

        assert dg.materialize([events], resources={"io_manager": io_manager}).success

    def load(base: Path) -> list[int]:
        frame = FastIOManager(base_path=str(base)).load_input(
            dg.build_input_context(
                asset_key=dg.AssetKey("events"),
                dagster_type=dg.PythonObjectDagsterType(pd.DataFrame),
            )
        )
        return frame["id"].tolist()

    appends = {"write_mode": "append"}
    migrated, not_migrated = tmp_path / "migrated", tmp_path / "not_migrated"
    for base in (migrated, not_migrated):
        materialize(first, dg.FilesystemIOManager(base_dir=str(base)))
    code, _report = _run_json(str(migrated), "--apply")
    assert code == 0
    for base in (migrated, not_migrated):
        materialize(later, FastIOManager(base_path=str(base), **appends))
    assert load(migrated) == [1, 2, 3, 4, 5]
    assert load(not_migrated) == [4, 5]
    assert (not_migrated / "events").is_file(), "an append deletes no pickle it did not fold"
