"""Content versions, unchanged outputs, schema changes, column statistics and provenance, as
FastIOManager records them in Dagster runs, on the local disk and on S3."""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions at definition time.
import json
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from click.testing import CliRunner

import dagster_fastio as fio
from dagster_fastio import FastIOManager, api
from dagster_fastio.cli import main
from tests.dagster_helpers import run_assets
from tests.servers import FaultProxy, S3Server


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict[str, Any]:
    (event,) = result.asset_materializations_for_node(key)
    return {name: getattr(value, "value", value) for name, value in event.metadata.items()}


def _frame(n: int, extra: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame({"id": range(n), "name": [f"n{i}" for i in range(n)]})
    if extra:
        frame["score"] = [i / 2 for i in range(n)]
    return frame


def test_an_unchanged_output_is_not_rewritten(tmp_path: Path) -> None:
    version = {"n": 100}

    @dg.asset
    def frame() -> pd.DataFrame:
        return _frame(version["n"])

    first = _metadata(run_assets([frame], tmp_path), "frame")
    path = tmp_path / "frame.arrow"
    stat = path.stat()
    assert first["unchanged"] is False
    assert first["content_hash"] == api.read_footer(path).content_hash
    second = _metadata(run_assets([frame], tmp_path), "frame")
    assert second["unchanged"] is True and second["content_hash"] == first["content_hash"]
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    assert second["dagster/row_count"] == 100 and second["stored_bytes"] == stat.st_size
    assert second["dagster/storage_kind"] == "filesystem"
    assert "throughput_mb_s" not in second  # nothing was written to measure
    version["n"] = 101
    third = _metadata(run_assets([frame], tmp_path), "frame")
    assert third["unchanged"] is False and third["content_hash"] != first["content_hash"]
    assert path.stat().st_ino != stat.st_ino
    assert pd.read_feather(path).shape == (101, 2)


def test_an_unchanged_output_is_not_uploaded_again(s3s_server: S3Server, s3s_bucket: str) -> None:
    proxy = FaultProxy(s3s_server.port).start()
    try:
        manager = FastIOManager(
            base_path=f"s3://{s3s_bucket}/versions",
            storage_options=s3s_server.options(endpoint=proxy.endpoint),
        )

        @dg.asset
        def table() -> pa.Table:
            return pa.table({"x": list(range(10_000))})

        def requests() -> list[str]:
            # Leaves out the removal of a stale pickle of the same name, which every write makes,
            # and the HEAD asking whether the replaced manager's pickle of the key is there.
            return [
                r.method
                for r in proxy.requests
                if not r.target.endswith("?delete") and not r.target.endswith("/versions/table")
            ]

        first = _metadata(run_assets([table], Path(), io_manager=manager), "table")
        assert "PUT" in requests() and first["unchanged"] is False
        proxy.requests.clear()
        second = _metadata(run_assets([table], Path(), io_manager=manager), "table")
        assert second["unchanged"] is True and second["dagster/storage_kind"] == "s3"
        # The footer was all that was read (no GET of the batches), and nothing was uploaded.
        assert requests() == ["HEAD", "GET"]
    finally:
        proxy.stop()


def test_data_version_is_the_stored_hash(tmp_path: Path) -> None:
    frame = _frame(50)

    @dg.asset
    def versioned() -> dg.MaterializeResult:
        return dg.MaterializeResult(value=frame, data_version=fio.data_version(frame))

    result = run_assets([versioned], tmp_path)
    stored = api.read_footer(tmp_path / "versioned.arrow").content_hash
    assert fio.data_version(frame).value == stored == _metadata(result, "versioned")["content_hash"]
    (event,) = result.asset_materializations_for_node("versioned")
    assert event.tags["dagster/data_version"] == stored
    # The same values as polars are another stored type, so another version.
    assert fio.data_version(pl.from_pandas(frame)).value != stored
    with pytest.raises(TypeError, match="table held in memory"):
        fio.data_version(pl.from_pandas(frame).lazy())
    with pytest.raises(TypeError, match="table held in memory"):
        fio.data_version({"a": 1})


@pytest.mark.filterwarnings("ignore:Function `observable_source_asset` is currently in beta")
@pytest.mark.filterwarnings("ignore:Property `OpDefinition.version` is deprecated")
def test_an_observable_source_reads_the_version_from_the_footer(tmp_path: Path) -> None:
    fio.write(pa.table({"x": [1, 2, 3]}), tmp_path / "raw" / "events.arrow", content_hash=True)

    @dg.observable_source_asset(key=["raw", "events"], required_resource_keys={"io_manager"})
    def events(context: dg.OpExecutionContext) -> dg.DataVersion:
        found = context.resources.io_manager.stored_data_version(["raw", "events"])
        assert found is not None
        return found

    defs = dg.Definitions(
        assets=[events], resources={"io_manager": FastIOManager(base_path=str(tmp_path))}
    )
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance).success
        record = instance.get_latest_data_version_record(dg.AssetKey(["raw", "events"]))
    expected = api.content_hash(pa.table({"x": [1, 2, 3]}))
    assert record is not None
    assert record.asset_observation.data_version == expected
    missing = FastIOManager(base_path=str(tmp_path)).stored_data_version("nothing")
    assert missing is None


def test_schema_changes_are_reported_against_the_previous_file(tmp_path: Path) -> None:
    shape = {"extra": False, "retype": False}

    @dg.asset
    def frame() -> pd.DataFrame:
        result = _frame(10, extra=shape["extra"])
        if shape["retype"]:
            result["id"] = result["id"].astype("float64")
            result = result.drop(columns=["name"])
        return result

    assert "schema_changes" not in _metadata(run_assets([frame], tmp_path), "frame")
    assert "schema_changes" not in _metadata(run_assets([frame], tmp_path), "frame")
    shape["extra"] = True
    changes = _metadata(run_assets([frame], tmp_path), "frame")["schema_changes"]
    assert changes == {"added": ["score"], "removed": [], "retyped": []}
    shape["retype"] = True
    changes = _metadata(run_assets([frame], tmp_path), "frame")["schema_changes"]
    assert changes == {
        "added": [],
        "removed": ["name"],
        "retyped": [{"column": "id", "from": "int64", "to": "double"}],
    }


def test_column_statistics_are_a_table_in_the_metadata(tmp_path: Path) -> None:
    @dg.asset
    def frame() -> pd.DataFrame:
        return pd.DataFrame({"n": [3, None, 9], "s": ["b", "a", None]})

    manager = FastIOManager(base_path=str(tmp_path), column_stats=True)
    stats = _metadata(run_assets([frame], tmp_path, io_manager=manager), "frame")["column_stats"]
    rows = {record.data["column"]: record.data for record in stats.records}
    assert set(rows) == {"n", "s"}  # the pandas index is not one of the frame's columns
    assert rows["n"] == {"column": "n", "null_count": 1, "min": "3.0", "max": "9.0"}
    assert rows["s"] == {"column": "s", "null_count": 1, "min": "a", "max": "b"}


def test_column_stats_are_asked_for_and_the_hash_is_always_there(tmp_path: Path) -> None:
    @dg.asset
    def frame() -> pd.DataFrame:
        return _frame(5)

    meta = _metadata(run_assets([frame], tmp_path), "frame")
    assert "column_stats" not in meta and meta["content_hash"].startswith("xxh3-128:")
    assert api.read_footer(tmp_path / "frame.arrow").column_stats == ()


def test_provenance_is_in_the_footer_and_inspect_shows_it(tmp_path: Path) -> None:
    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["east", "west"]), code_version="v7")
    def regions(context: dg.AssetExecutionContext) -> pa.Table:
        return pa.table({"region": [context.partition_key]})

    manager = FastIOManager(base_path=str(tmp_path), column_stats=True)
    result = run_assets([regions], tmp_path, partition_key="west", io_manager=manager)
    path = tmp_path / "regions" / "west.arrow"
    footer = api.read_footer(path).metadata
    assert footer["dagster/run_id"] == result.run_id
    assert footer["dagster/asset_key"] == "regions"
    assert footer["dagster/partition_key"] == "west"
    assert footer["dagster/code_version"] == "v7"
    shown = CliRunner().invoke(main, ["inspect", str(path), "--json"])
    summary = json.loads(shown.output)
    assert summary["provenance"]["dagster/run_id"] == result.run_id
    assert summary["content_hash"] == api.read_footer(path).content_hash
    assert summary["schema"][0]["min"] == "west"
    text = CliRunner().invoke(main, ["inspect", str(path)]).output
    assert result.run_id in text and "v7" in text and "nulls" in text
