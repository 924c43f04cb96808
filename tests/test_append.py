"""write_mode="append" (issue 25): where parts go, what loads return (eager, lazy, datasets,
references), partitions and range outputs, the schema check, the skipped unchanged append,
overwrites of appended keys and the precedence of the three settings, in real Dagster runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

import dagster_fastio as fio
from dagster_fastio import FastIOManager, SchemaMismatchError, StoredTable

# backfill_policy is a beta parameter: its warning is not this suite's subject.
pytestmark = pytest.mark.filterwarnings("ignore:Parameter `backfill_policy`")

COUNTER = {"n": 0}


def _batch(n: int, rows: int = 4) -> pa.Table:
    return pa.table({"id": [n * 100 + i for i in range(rows)], "name": [f"r{n}"] * rows})


def _parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _metadata(result: dg.ExecuteInProcessResult, key: str = "events") -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        if event.asset_key == dg.AssetKey(key):
            return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    raise AssertionError(f"no materialization of {key}")


def _events_asset(**metadata: Any) -> dg.AssetsDefinition:
    @dg.asset(name="events", metadata=metadata or None)
    def events() -> pa.Table:
        COUNTER["n"] += 1
        return _batch(COUNTER["n"])

    return events


def _load(manager: FastIOManager, events: dg.AssetsDefinition, annotation: Any) -> Any:
    """What an input of ``annotation`` receives from ``events`` in a real run."""
    captured: dict[str, Any] = {}

    def reader(events):  # type: ignore[no-untyped-def]
        captured["value"] = events

    reader.__annotations__ = {"events": annotation, "return": None}
    dg.materialize(
        [events, dg.asset(reader)], resources={"io_manager": manager}, selection=["reader"]
    )
    return captured["value"]


@pytest.mark.parametrize("format", ["ipc", "parquet"])
def test_appends_store_parts_in_order_and_loads_return_them_all(
    tmp_path: Path, format: str
) -> None:
    manager = FastIOManager(base_path=str(tmp_path), format=format, write_mode="append")
    events = _events_asset()
    start = COUNTER["n"]
    hashes = []
    for round_ in range(3):
        metadata = _metadata(dg.materialize([events], resources={"io_manager": manager}))
        assert metadata["write_mode"] == "append"
        assert metadata["appended_rows"] == 4
        assert metadata["key_parts"] == round_ + 1
        assert metadata["dagster/row_count"] == metadata["key_rows"] == 4 * (round_ + 1)
        hashes.append(metadata["key_content_hash"])
    assert len(set(hashes)) == 3
    suffix = ".parquet" if format == "parquet" else ".arrow"
    names = _parts(tmp_path / "events.parts")
    assert len(names) == 3 and all(name.endswith(suffix) for name in names)
    assert not (tmp_path / f"events{suffix}").exists()
    expected = pa.concat_tables([_batch(start + i) for i in (1, 2, 3)])
    assert _load(manager, events, pa.Table).select(["id", "name"]).equals(expected)
    frame = _load(manager, events, pd.DataFrame)
    assert frame["id"].tolist() == expected.column("id").to_pylist()
    polars = _load(manager, events, pl.DataFrame)
    assert polars["id"].to_list() == expected.column("id").to_pylist()
    unannotated = _load(manager, events, Any)
    assert isinstance(unannotated, pa.Table) and unannotated.num_rows == 12


def test_lazy_loads_scan_the_parts_without_reading_them(tmp_path: Path) -> None:
    manager = FastIOManager(base_path=str(tmp_path), write_mode="append")
    events = _events_asset()
    start = COUNTER["n"]
    for _ in range(3):
        dg.materialize([events], resources={"io_manager": manager})
    ids = pa.concat_tables([_batch(start + i) for i in (1, 2, 3)]).column("id").to_pylist()
    lazy = _load(manager, events, pl.LazyFrame)
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect()["id"].to_list() == ids
    stored = _load(manager, events, StoredTable)
    assert isinstance(stored, StoredTable) and len(stored.files) == 3
    assert all(".parts/" in uri for uri in stored.uris)
    assert stored.num_rows == 12
    assert sorted(stored.to_duckdb().to_arrow_table().column("id").to_pylist()) == ids
    dataset = _load(manager, events, ds.Dataset)
    assert dataset.to_table().column("id").to_pylist() == ids
    relation = _load(manager, events, duckdb.DuckDBPyRelation)
    assert relation.count("*").fetchall()[0][0] == 12


def test_a_changed_schema_fails_before_anything_is_written(tmp_path: Path) -> None:
    manager = FastIOManager(base_path=str(tmp_path), write_mode="append")
    dg.materialize([_events_asset()], resources={"io_manager": manager})

    @dg.asset(name="events")
    def wider() -> pa.Table:
        return _batch(1).append_column("extra", pa.array([1.0] * 4)).drop_columns(["name"])

    result = dg.materialize([wider], resources={"io_manager": manager}, raise_on_error=False)
    assert not result.success
    error = str(result.get_step_failure_events()[0].event_specific_data.error)
    assert "SchemaMismatchError" in error
    assert "added ['extra']" in error and "missing ['name']" in error
    assert len(_parts(tmp_path / "events.parts")) == 1

    @dg.asset(name="events")
    def retyped() -> pa.Table:
        return pa.table({"id": ["a"], "name": ["b"]})

    result = dg.materialize([retyped], resources={"io_manager": manager}, raise_on_error=False)
    error = str(result.get_step_failure_events()[0].event_specific_data.error)
    assert "retyped ['id (int64 -> string)']" in error
    assert len(_parts(tmp_path / "events.parts")) == 1
    with pytest.raises(SchemaMismatchError):
        from dagster_fastio.stored.appends import check_columns

        check_columns(_batch(1).schema, pa.schema([("id", pa.int32())]), "here")


def test_an_append_of_the_last_parts_content_is_skipped(tmp_path: Path) -> None:
    manager = FastIOManager(base_path=str(tmp_path), write_mode="append")

    @dg.asset(name="events")
    def same() -> pd.DataFrame:
        return pd.DataFrame({"id": [1, 2, 3]})

    first = _metadata(dg.materialize([same], resources={"io_manager": manager}))
    second = _metadata(dg.materialize([same], resources={"io_manager": manager}))
    assert first["unchanged"] is False and second["unchanged"] is True
    assert second["appended_rows"] == 0 and second["key_parts"] == 1
    assert second["key_content_hash"] == first["key_content_hash"]
    assert second["part_uri"] == first["part_uri"]
    assert len(_parts(tmp_path / "events.parts")) == 1
    # Not the last part's content: appended again, even if an earlier part holds it.
    other = pd.DataFrame({"id": [9]})
    fio.write(other, str(tmp_path / "scratch.arrow"))

    @dg.asset(name="events")
    def different() -> pd.DataFrame:
        return other

    dg.materialize([different], resources={"io_manager": manager})
    third = _metadata(dg.materialize([same], resources={"io_manager": manager}))
    assert third["unchanged"] is False and third["key_parts"] == 3


def test_overwrite_replaces_the_parts_and_append_folds_the_file_in(tmp_path: Path) -> None:
    appending = FastIOManager(base_path=str(tmp_path), write_mode="append")
    overwriting = FastIOManager(base_path=str(tmp_path))
    events = _events_asset()
    start = COUNTER["n"]
    dg.materialize([events], resources={"io_manager": overwriting})
    assert (tmp_path / "events.arrow").exists()
    # The first append moves the overwrite's file into the parts, as their first part.
    metadata = _metadata(dg.materialize([events], resources={"io_manager": appending}))
    assert metadata["key_parts"] == 2 and metadata["key_rows"] == 8
    assert not (tmp_path / "events.arrow").exists()
    names = _parts(tmp_path / "events.parts")
    assert names[0].startswith("0" * 20) and names[0].endswith(".compacted.arrow")
    ids = _load(appending, events, pa.Table).column("id").to_pylist()
    expected = pa.concat_tables([_batch(start + 1), _batch(start + 2)]).column("id").to_pylist()
    assert ids == expected
    # An overwrite replaces every part.
    dg.materialize([events], resources={"io_manager": overwriting})
    assert _parts(tmp_path / "events.parts") == []
    assert _load(overwriting, events, pa.Table).column("id").to_pylist() == (
        _batch(start + 3).column("id").to_pylist()
    )


def test_run_time_output_metadata_wins_over_definition_metadata_over_the_manager(
    tmp_path: Path,
) -> None:
    def rows_after(manager: FastIOManager, asset: dg.AssetsDefinition, runs: int = 2) -> int:
        for _ in range(runs):
            last = _metadata(dg.materialize([asset], resources={"io_manager": manager}))
        return int(last["dagster/row_count"])

    def base(name: str) -> str:
        return str(tmp_path / name)

    # The manager's setting alone.
    assert rows_after(FastIOManager(base_path=base("m"), write_mode="append"), _events_asset()) == 8
    assert rows_after(FastIOManager(base_path=base("o")), _events_asset()) == 4
    # Definition metadata over the manager, both ways.
    appending_definition = _events_asset(**{"fastio/write_mode": "append"})
    assert rows_after(FastIOManager(base_path=base("d1")), appending_definition) == 8
    overwriting_definition = _events_asset(**{"fastio/write_mode": "overwrite"})
    manager = FastIOManager(base_path=base("d2"), write_mode="append")
    assert rows_after(manager, overwriting_definition) == 4

    # Run-time output metadata over both: through context.add_output_metadata ...
    @dg.asset(name="events", metadata={"fastio/write_mode": "append"})
    def overwrite_at_run_time(context) -> pa.Table:
        context.add_output_metadata({"fastio/write_mode": "overwrite"})
        return _batch(1)

    manager = FastIOManager(base_path=base("r1"), write_mode="append")
    assert rows_after(manager, overwrite_at_run_time) == 4

    # ... and through Output(value, metadata=...).
    @dg.asset(name="events", metadata={"fastio/write_mode": "overwrite"})
    def append_at_run_time() -> dg.Output[pa.Table]:
        COUNTER["n"] += 1
        return dg.Output(_batch(COUNTER["n"]), metadata={"fastio/write_mode": "append"})

    assert rows_after(FastIOManager(base_path=base("r2")), append_at_run_time, 3) == 12
    assert len(_parts(tmp_path / "r2" / "events.parts")) == 3


def test_a_bad_write_mode_is_refused(tmp_path: Path) -> None:
    result = dg.materialize(
        [_events_asset(**{"fastio/write_mode": "upsert"})],
        resources={"io_manager": FastIOManager(base_path=str(tmp_path))},
        raise_on_error=False,
    )
    error = str(result.get_step_failure_events()[0].event_specific_data.error)
    assert "['overwrite', 'append']" in error and "'upsert'" in error
    with pytest.raises(dg.DagsterResourceFunctionError) as refused:
        dg.materialize(
            [_events_asset()],
            resources={"io_manager": FastIOManager(base_path=str(tmp_path), write_mode="merge")},
        )
    assert "write_mode must be one of ['overwrite', 'append']" in str(refused.value.__cause__)


DAYS = dg.StaticPartitionsDefinition(["a", "b", "c"])


def test_partitions_append_each_under_its_own_key(tmp_path: Path) -> None:
    manager = FastIOManager(base_path=str(tmp_path), write_mode="append")

    @dg.asset(name="events", partitions_def=DAYS)
    def events(context) -> pa.Table:
        COUNTER["n"] += 1
        return pa.table({"key": [context.partition_key] * 2, "n": [COUNTER["n"]] * 2})

    for key in ("a", "a", "b"):
        metadata = _metadata(
            dg.materialize([events], partition_key=key, resources={"io_manager": manager})
        )
    assert metadata["dagster/partition_row_count"] == 2 and metadata["key_parts"] == 1
    assert len(_parts(tmp_path / "events" / "a.parts")) == 2

    @dg.asset(ins={"events": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def combined(events: pa.Table) -> pa.Table:
        return events

    @dg.asset(
        ins={
            "events": dg.AssetIn(
                partition_mapping=dg.AllPartitionMapping(),
                metadata={"allow_missing_partitions": True},
            )
        }
    )
    def by_key(events: dict[str, pa.Table]) -> dict[str, int]:
        return {key: table.num_rows for key, table in events.items()}

    @dg.asset(ins={"events": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def lazily(events: pl.LazyFrame) -> int:
        return events.collect().height

    result = dg.materialize(
        [events, combined, by_key, lazily],
        resources={"io_manager": manager},
        selection=[combined, by_key, lazily],
        raise_on_error=False,
    )
    # c was never materialized: the combined input fails, the dict skips it.
    assert result.output_for_node("by_key") == {"a": 4, "b": 2}

    @dg.asset(name="events", partitions_def=DAYS)
    def events_c(context) -> pa.Table:
        return pa.table({"key": ["c"], "n": [0]})

    dg.materialize([events_c], partition_key="c", resources={"io_manager": manager})
    result = dg.materialize(
        [events, combined, lazily], resources={"io_manager": manager}, selection=[combined, lazily]
    )
    table = result.output_for_node("combined")
    assert table.column("key").to_pylist() == ["a"] * 4 + ["b"] * 2 + ["c"]
    assert result.output_for_node("lazily") == 7


def test_a_range_output_appends_a_part_to_each_partition(tmp_path: Path) -> None:
    manager = FastIOManager(base_path=str(tmp_path), write_mode="append")

    @dg.asset(
        name="events",
        partitions_def=DAYS,
        metadata={"partition_expr": "key"},
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def events(context) -> pa.Table:
        keys = context.partition_keys
        return pa.table({"key": keys * 2, "n": list(range(len(keys) * 2))})

    tags = {ASSET_PARTITION_RANGE_START_TAG: "a", ASSET_PARTITION_RANGE_END_TAG: "c"}
    for _ in range(2):
        result = dg.materialize([events], resources={"io_manager": manager}, tags=tags)
        assert result.success
        metadata = _metadata(result)
        assert metadata["write_mode"] == "append" and metadata["partitions"] == 3
    for key in "abc":
        assert len(_parts(tmp_path / "events" / f"{key}.parts")) == 2
        assert not (tmp_path / "events" / f"{key}.arrow").exists()

    @dg.asset(ins={"events": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def combined(events: pa.Table) -> pa.Table:
        return events

    result = dg.materialize(
        [events, combined], resources={"io_manager": manager}, selection=[combined]
    )
    assert result.output_for_node("combined").column("key").to_pylist() == sorted("abc" * 4)


def test_append_refuses_objects_that_are_not_tables(tmp_path: Path) -> None:
    # Asked of the manager, append applies to tables; other outputs are stored as ever.
    @dg.asset(name="settings")
    def settings() -> dict:
        return {"a": 1}

    manager = FastIOManager(base_path=str(tmp_path), write_mode="append")
    for _ in range(2):
        assert _metadata(dg.materialize([settings], resources={"io_manager": manager}), "settings")
    assert (tmp_path / "settings.pickle.zst").exists()
    assert not (tmp_path / "settings.parts").exists()

    # Asked of the asset, it is an error.
    @dg.asset(name="events", metadata={"fastio/write_mode": "append"})
    def events() -> dict:
        return {"a": 1}

    result = dg.materialize(
        [events],
        resources={"io_manager": FastIOManager(base_path=str(tmp_path))},
        raise_on_error=False,
    )
    error = str(result.get_step_failure_events()[0].event_specific_data.error)
    assert "write_mode 'append' stores tables" in error
    assert not os.path.exists(tmp_path / "events.parts")


def test_an_append_after_a_pickled_output_replaces_the_pickle(tmp_path: Path) -> None:
    manager = FastIOManager(base_path=str(tmp_path))

    @dg.asset(name="events")
    def settings() -> dict:
        return {"not": "a table"}

    dg.materialize([settings], resources={"io_manager": manager})
    assert (tmp_path / "events.pickle.zst").exists()
    events = _events_asset(**{"fastio/write_mode": "append"})
    dg.materialize([events], resources={"io_manager": manager})
    assert not (tmp_path / "events.pickle.zst").exists()
    loaded = _load(manager, events, Any)
    assert isinstance(loaded, pa.Table) and loaded.num_rows == 4
