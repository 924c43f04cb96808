"""Dagster's tests of UPathIOManager (``storage_tests/test_upath_io_manager.py``) and of
path-based I/O managers under dynamic partitions (``test_dynamic_partitions.py``,
``test_partitioned_assets.py``), rewritten against the finished managers: each test runs over
FastIOManager and over FilesystemIOManager (a UPathIOManager pickle manager), the control.

Where a test looks at files, each manager's expectation is written out: FilesystemIOManager
stores ``<base>/<asset key>[/<partition>]`` with no suffix; FastIOManager stores the same path
plus ``.arrow`` for a table or ``.pickle.zst`` for any other object.

Left out, because they test UPathIOManager's hooks for subclasses, which a finished manager
does not offer (each behaviour they carry that any manager must have is rewritten below):

- ``test_upath_io_manager_with_json``: the ``extension = ".json"`` attribute, a ``json``
  ``dump_to_path`` / ``load_from_path`` pair and the private ``_get_path``. The round trip of
  the same values through Dagster's testing contexts is rewritten
  (``test_values_round_trip_through_testing_contexts``).
- ``test_upath_io_manager_with_non_any_type_annotation``: the same hooks with a ``list``
  DagsterType; the typed round trip is rewritten (``test_a_typed_list_round_trips``).
- ``test_upath_io_manager_with_extension_static_partitions_with_dot``: the ``extension``
  attribute; that a suffix is appended after a dotted partition key rather than replacing its
  last "extension" is rewritten (``test_a_table_suffix_follows_a_dotted_partition_key``).
- ``test_upath_io_manager_custom_metadata``: the ``get_metadata`` hook. What the managers
  themselves report, ``path`` naming the stored file, is rewritten
  (``test_path_metadata_names_the_stored_file``).
- ``test_upath_io_manager_async_load_from_path``, ``..._async_multiple_time_partitions``,
  ``..._async_fail_on_missing_partitions``, ``..._async_allow_missing_partitions``: an async
  ``load_from_path`` over fsspec's async file systems (``get_async_filesystem``, morefs), and
  the ``RuntimeError`` only the async gathering raises. Their behaviours, a round trip of
  unpartitioned and partitioned values, a time-window fan-in, a missing upstream partition
  failing the run and ``allow_missing_partitions``, are rewritten with each manager's own
  loading (``test_unpartitioned_and_partitioned_values_round_trip``,
  ``test_time_window_mapping_loads_the_previous_day_too``,
  ``test_a_missing_upstream_partition_fails_the_run``,
  ``test_allow_missing_partitions_skips_the_missing_day``).
- The ``DummyIOManager`` of the multi-partition tests returns paths instead of values and so
  needs no upstream run; the rewrites materialize the upstream partitions first and check the
  loaded values as well as the keys.

Tests from older Dagster versions of the file, rewritten to what Dagster 1.13 does:
``test_multiple_partition_output`` (UPathIOManager now refuses one output for several
partitions: ``test_one_output_for_several_partitions_is_refused_unless_a_table_can_be_split``)
and ``test_user_forgot_dict_type_annotation_for_multiple_partitions`` (the dict now reaches
Dagster's type check: ``test_a_str_input_over_several_partitions_fails_its_type_check``).
"""

# No `from __future__ import annotations`: Dagster reads the annotations of the asset
# functions below when they are defined.
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster_helpers import run_assets, stored_files

from dagster_fastio.layout import PICKLE_SUFFIX, TABLE_SUFFIX

MakeIOManager = Callable[..., Any]

JSON_LIKE_VALUES = [0, 0.0, [0, 1, 2], {"a": 0}, [{"a": 0}, {"b": 1}, {"c": 2}]]

# Bounded windows: the tests are about the mappings, and a definition that grows every hour
# would make each write's cost depend on the day the suite runs.
HOURS = dg.HourlyPartitionsDefinition(start_date="2022-01-01-00:00", end_date="2022-01-03-00:00")
DAYS = dg.DailyPartitionsDefinition(start_date="2022-01-01", end_date="2022-01-06")
FIRST_DAY = "2022-01-01"
FIRST_DAY_HOURS = [f"{FIRST_DAY}-{hour:02d}:00" for hour in range(24)]


# ---------------------------------------------------------------------------------------------
# Helpers.


def stored_file(kind: str, base: Path, *parts: str, table: bool = False) -> Path:
    """Where each manager keeps the output at ``base/parts``."""
    bare = base.joinpath(*parts)
    if kind == "filesystem":
        return bare  # UPathIOManager's path, no extension
    assert kind == "fast"
    return bare.with_name(bare.name + (TABLE_SUFFIX if table else PICKLE_SUFFIX))


def stored_names(kind: str, *relative: str, table: bool = False) -> list[str]:
    """``stored_files`` as each manager leaves it for outputs at these relative paths."""
    if kind == "filesystem":
        return sorted(relative)
    return sorted(path + (TABLE_SUFFIX if table else PICKLE_SUFFIX) for path in relative)


@contextmanager
def started(resource: Any) -> Iterator[dg.IOManager]:
    """The manager a run would use, started outside a run (for Dagster's testing contexts)."""
    with dg.build_resources({"io_manager": resource}) as resources:
        yield resources.io_manager


def metadata_of(result: dg.ExecuteInProcessResult, key: str) -> list[dict[str, Any]]:
    """The metadata of each materialization of ``key`` in ``result``, in order."""
    return [
        dict(event.materialization.metadata)
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(key)
    ]


@dg.asset(partitions_def=HOURS)
def hour_key(context: dg.AssetExecutionContext) -> str:
    return context.partition_key


@pytest.fixture(scope="module")
def hourly_bases() -> dict[str, Path]:
    """Bases already holding the first day's hours, by manager kind (filled on first use)."""
    return {}


@pytest.fixture
def hourly_base(
    manager_kind: str,
    make_io_manager: MakeIOManager,
    hourly_bases: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A base where the manager under test stored the 24 hours of the first day, one run each."""
    if manager_kind not in hourly_bases:
        base = tmp_path_factory.mktemp(f"hours-{manager_kind}")
        for key in FIRST_DAY_HOURS:
            run_assets([hour_key], base, partition_key=key, io_manager=make_io_manager(base))
        hourly_bases[manager_kind] = base
    return hourly_bases[manager_kind]


# ---------------------------------------------------------------------------------------------
# Values through Dagster's testing contexts (no run).

ANY_TYPE = dg.DagsterType(type_check_fn=lambda _, value: True, name="any", typing_type=Any)
LIST_TYPE = dg.DagsterType(
    type_check_fn=lambda _, value: isinstance(value, list), name="List", typing_type=list
)


@pytest.mark.parametrize("value", JSON_LIKE_VALUES, ids=repr)
def test_values_round_trip_through_testing_contexts(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path, value: Any
) -> None:
    output = dg.build_output_context(name="abc", step_key="123", dagster_type=ANY_TYPE)
    with started(make_io_manager(tmp_path)) as manager:
        manager.handle_output(output, value)
        loaded = manager.load_input(
            dg.build_input_context(name="abc", upstream_output=output, dagster_type=ANY_TYPE)
        )
    assert loaded == value
    assert type(loaded) is type(value)
    run_folder = tmp_path / output.run_id
    assert stored_file(manager_kind, run_folder, "123", "abc").is_file()
    assert stored_files(tmp_path) == [
        f"{output.run_id}/{name}" for name in stored_names(manager_kind, "123/abc")
    ]


def test_a_typed_list_round_trips(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    data = [0, 1, "a", "b"]
    output = dg.build_output_context(name="abc", step_key="123", dagster_type=LIST_TYPE)
    with started(make_io_manager(tmp_path)) as manager:
        manager.handle_output(output, data)
        assert stored_file(manager_kind, tmp_path / output.run_id, "123", "abc").is_file()
        loaded = manager.load_input(
            dg.build_input_context(name="abc", upstream_output=output, dagster_type=LIST_TYPE)
        )
    assert loaded == data


# ---------------------------------------------------------------------------------------------
# Several upstream partitions into one input.


def test_hourly_partitions_load_into_a_daily_dict(
    make_io_manager: MakeIOManager, hourly_base: Path
) -> None:
    @dg.asset(partitions_def=DAYS)
    def day_of_hours(hour_key: dict[str, str]) -> dict[str, str]:
        return hour_key

    result = run_assets(
        [hour_key, day_of_hours],
        hourly_base,
        selection=[day_of_hours],
        partition_key=FIRST_DAY,
        io_manager=make_io_manager(hourly_base),
    )
    loaded = result.output_for_node("day_of_hours")
    assert len(loaded) == 24, "a day maps to its 24 upstream hours"
    assert loaded == {key: key for key in FIRST_DAY_HOURS}


def test_all_partition_mapping_loads_every_static_partition(
    make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    letters = dg.StaticPartitionsDefinition(["A", "B"])

    @dg.asset(partitions_def=letters)
    def letter(context: dg.AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset(ins={"letter": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def all_letters(letter: dict[str, str]) -> dict[str, str]:
        return letter

    run_assets([letter], tmp_path, partition_key="B", io_manager=make_io_manager(tmp_path))
    # One run writes partition A and reads it back with B, stored by the earlier run.
    result = run_assets(
        [letter, all_letters], tmp_path, partition_key="A", io_manager=make_io_manager(tmp_path)
    )
    assert result.output_for_node("all_letters") == {"A": "A", "B": "B"}


def test_an_unannotated_input_over_multi_partitions_is_a_dict(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    grid = dg.MultiPartitionsDefinition(
        {"a": dg.StaticPartitionsDefinition(["a", "b"]), "1": dg.StaticPartitionsDefinition(["1"])}
    )

    @dg.asset(partitions_def=grid)
    def cell(context: dg.AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset
    def every_cell(cell):
        return cell

    for letter in ("a", "b"):
        run_assets(
            [cell],
            tmp_path,
            partition_key=dg.MultiPartitionKey({"a": letter, "1": "1"}),
            io_manager=make_io_manager(tmp_path),
        )
    # One folder per dimension, dimensions sorted by name ("1" before "a").
    assert stored_files(tmp_path) == stored_names(manager_kind, "cell/1/a", "cell/1/b")

    result = run_assets(
        [cell, every_cell], tmp_path, selection=[every_cell], io_manager=make_io_manager(tmp_path)
    )
    loaded = result.output_for_node("every_cell")
    assert set(loaded) == {"1|a", "1|b"}
    assert loaded == {"1|a": "1|a", "1|b": "1|b"}


def test_every_partition_loads_in_a_run_without_a_partition(
    make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    letters = dg.StaticPartitionsDefinition(["A", "B"])

    @dg.asset(partitions_def=letters)
    def letter(context: dg.AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset(ins={"letter": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def all_letters(letter: dict[str, str]) -> dict[str, str]:
        return letter

    for key in ("A", "B"):
        run_assets([letter], tmp_path, partition_key=key, io_manager=make_io_manager(tmp_path))
    # The run has no partition key: only the downstream asset's mapping names the partitions.
    result = run_assets(
        [letter, all_letters],
        tmp_path,
        selection=[all_letters],
        io_manager=make_io_manager(tmp_path),
    )
    assert set(result.output_for_node("all_letters")) == {"A", "B"}


def test_an_unannotated_input_over_several_partitions_is_a_dict(
    make_io_manager: MakeIOManager, hourly_base: Path
) -> None:
    @dg.asset(partitions_def=DAYS)
    def untyped_day(hour_key):
        return hour_key

    result = run_assets(
        [hour_key, untyped_day],
        hourly_base,
        selection=[untyped_day],
        partition_key=FIRST_DAY,
        io_manager=make_io_manager(hourly_base),
    )
    loaded = result.output_for_node("untyped_day")
    assert isinstance(loaded, dict)
    assert sorted(loaded) == FIRST_DAY_HOURS


def test_an_any_input_over_several_partitions_is_a_dict(
    make_io_manager: MakeIOManager, hourly_base: Path
) -> None:
    @dg.asset(partitions_def=DAYS)
    def any_day(hour_key: Any):
        return hour_key

    result = run_assets(
        [hour_key, any_day],
        hourly_base,
        selection=[any_day],
        partition_key=FIRST_DAY,
        io_manager=make_io_manager(hourly_base),
    )
    loaded = result.output_for_node("any_day")
    assert isinstance(loaded, dict)
    assert loaded == {key: key for key in FIRST_DAY_HOURS}


def test_a_str_input_over_several_partitions_fails_its_type_check(
    make_io_manager: MakeIOManager, hourly_base: Path
) -> None:
    @dg.asset(partitions_def=DAYS)
    def str_day(hour_key: str) -> str:
        return hour_key

    # Both managers hand over a dict of the 24 hours; Dagster's check of `str` refuses it.
    with pytest.raises(dg.DagsterTypeCheckDidNotPass, match="hour_key"):
        run_assets(
            [hour_key, str_day],
            hourly_base,
            selection=[str_day],
            partition_key=FIRST_DAY,
            io_manager=make_io_manager(hourly_base),
        )


def test_identity_mapping_loads_one_partition_not_a_dict(
    make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    @dg.asset(partitions_def=DAYS)
    def answer():
        return 42

    @dg.asset(partitions_def=DAYS)
    def same_day(answer: int):
        return answer

    result = run_assets(
        [answer, same_day],
        tmp_path,
        partition_key=FIRST_DAY,
        io_manager=make_io_manager(tmp_path),
    )
    assert result.output_for_node("same_day") == 42


# ---------------------------------------------------------------------------------------------
# Partition keys in file names.

DOTTED = dg.StaticPartitionsDefinition(["0.0-to-1.0", "1.0-to-2.0"])


def test_a_dotted_partition_key_is_one_whole_file_name(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    @dg.asset(partitions_def=DOTTED)
    def dotted(context: dg.AssetExecutionContext) -> str:
        return context.partition_key

    result = run_assets(
        [dotted], tmp_path, partition_key="0.0-to-1.0", io_manager=make_io_manager(tmp_path)
    )
    assert stored_files(tmp_path) == stored_names(manager_kind, "dotted/0.0-to-1.0")
    written = stored_file(manager_kind, tmp_path, "dotted", "0.0-to-1.0")
    if manager_kind == "filesystem":
        assert written.name == "0.0-to-1.0"
    else:
        assert written.name == "0.0-to-1.0.pickle.zst"
    assert result.output_for_node("dotted") == "0.0-to-1.0"


def test_a_table_suffix_follows_a_dotted_partition_key(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    @dg.asset(partitions_def=DOTTED)
    def dotted_table(context: dg.AssetExecutionContext) -> pa.Table:
        return pa.table({"key": [context.partition_key]})

    result = run_assets(
        [dotted_table], tmp_path, partition_key="0.0-to-1.0", io_manager=make_io_manager(tmp_path)
    )
    written = stored_file(manager_kind, tmp_path, "dotted_table", "0.0-to-1.0", table=True)
    assert stored_files(tmp_path) == [written.relative_to(tmp_path).as_posix()]
    if manager_kind == "filesystem":
        # A pickled table, at the bare path: no extension to add.
        assert (written.name, written.suffix) == ("0.0-to-1.0", ".0")
    else:
        # The suffix is appended: the key's own ".0" stays part of the name.
        assert (written.name, written.suffix) == ("0.0-to-1.0.arrow", ".arrow")
    assert result.output_for_node("dotted_table").equals(pa.table({"key": ["0.0-to-1.0"]}))


# ---------------------------------------------------------------------------------------------
# Output metadata.


@pytest.mark.parametrize("value", JSON_LIKE_VALUES, ids=repr)
def test_path_metadata_names_the_stored_file(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path, value: Any
) -> None:
    @dg.asset
    def my_asset() -> Any:
        return value

    result = run_assets([my_asset], tmp_path, io_manager=make_io_manager(tmp_path))
    expected = dg.MetadataValue.path(str(stored_file(manager_kind, tmp_path, "my_asset")))
    handled = [event for event in result.all_node_events if event.is_handled_output]
    assert len(handled) == 1
    assert handled[0].event_specific_data.metadata["path"] == expected
    [materialization] = metadata_of(result, "my_asset")
    assert materialization["path"] == expected


# ---------------------------------------------------------------------------------------------
# None outputs, as UPathIOManager handles them.


def test_an_unannotated_none_output_is_stored_and_loads_as_none(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    @dg.asset
    def nothing_here():
        return None

    @dg.asset
    def reads_nothing(nothing_here) -> str:
        return repr(nothing_here)

    stored = run_assets([nothing_here], tmp_path, io_manager=make_io_manager(tmp_path))
    assert stored_file(manager_kind, tmp_path, "nothing_here").is_file()
    # UPathIOManager leaves out `path` for a None value, often not meant for a manager at all.
    [materialization] = metadata_of(stored, "nothing_here")
    assert "path" not in materialization

    # A later run, so the value comes from the stored file, not from memory.
    result = run_assets(
        [nothing_here, reads_nothing],
        tmp_path,
        selection=[reads_nothing],
        io_manager=make_io_manager(tmp_path),
    )
    assert result.output_for_node("reads_nothing") == "None"


def test_none_partitions_are_left_out_of_a_dict(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    letters = dg.StaticPartitionsDefinition(["A", "B"])

    @dg.asset(partitions_def=letters)
    def maybe_letter(context: dg.AssetExecutionContext):
        return None if context.partition_key == "A" else context.partition_key.lower()

    @dg.asset(ins={"maybe_letter": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def present_letters(maybe_letter: dict[str, Any]) -> dict[str, Any]:
        return maybe_letter

    for key in ("A", "B"):
        run_assets(
            [maybe_letter], tmp_path, partition_key=key, io_manager=make_io_manager(tmp_path)
        )
    assert stored_files(tmp_path) == stored_names(manager_kind, "maybe_letter/A", "maybe_letter/B")

    result = run_assets(
        [maybe_letter, present_letters],
        tmp_path,
        selection=[present_letters],
        io_manager=make_io_manager(tmp_path),
    )
    # UPathIOManager's load_partitions drops a partition whose stored value is None.
    assert result.output_for_node("present_letters") == {"B": "b"}


# ---------------------------------------------------------------------------------------------
# Round trips, time windows and missing partitions (the async tests, with each manager's own
# loading).


@pytest.mark.parametrize("value", JSON_LIKE_VALUES, ids=repr)
def test_unpartitioned_and_partitioned_values_round_trip(
    make_io_manager: MakeIOManager, tmp_path: Path, value: Any
) -> None:
    @dg.asset
    def plain():
        return value

    result = run_assets([plain], tmp_path, io_manager=make_io_manager(tmp_path))
    assert result.output_for_node("plain") == value

    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["a", "b"]))
    def keyed(context: dg.AssetExecutionContext):
        return context.partition_key

    result = run_assets([keyed], tmp_path, partition_key="a", io_manager=make_io_manager(tmp_path))
    assert result.output_for_node("keyed") == "a"


@dg.asset(partitions_def=DAYS)
def day_key(context: dg.AssetExecutionContext) -> str:
    return context.partition_key


def _two_days(allow_missing: bool = False) -> dg.AssetsDefinition:
    metadata = {"allow_missing_partitions": True} if allow_missing else None

    @dg.asset(
        partitions_def=DAYS,
        ins={
            "day_key": dg.AssetIn(
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1),
                metadata=metadata,
            )
        },
    )
    def two_days(day_key: dict[str, str]):
        return day_key

    return two_days


def test_time_window_mapping_loads_the_previous_day_too(
    make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    for key in ("2022-01-01", "2022-01-02"):
        run_assets([day_key], tmp_path, partition_key=key, io_manager=make_io_manager(tmp_path))
    two_days = _two_days()
    result = run_assets(
        [day_key, two_days],
        tmp_path,
        selection=[two_days],
        partition_key="2022-01-02",
        io_manager=make_io_manager(tmp_path),
    )
    loaded = result.output_for_node("two_days")
    assert len(loaded) == 2, "a day maps to itself and the day before"
    assert loaded == {"2022-01-01": "2022-01-01", "2022-01-02": "2022-01-02"}


def test_a_missing_upstream_partition_fails_the_run(
    make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    run_assets([day_key], tmp_path, partition_key=FIRST_DAY, io_manager=make_io_manager(tmp_path))
    two_days = _two_days()
    # Neither 2022-01-04 nor 2022-01-05 is stored; materialize re-raises the manager's error.
    with pytest.raises(FileNotFoundError):
        run_assets(
            [day_key, two_days],
            tmp_path,
            selection=[two_days],
            partition_key="2022-01-05",
            io_manager=make_io_manager(tmp_path),
        )
    assert not any("two_days" in name for name in stored_files(tmp_path))


def test_allow_missing_partitions_skips_the_missing_day(
    make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    run_assets([day_key], tmp_path, partition_key=FIRST_DAY, io_manager=make_io_manager(tmp_path))
    two_days = _two_days(allow_missing=True)
    result = run_assets(
        [day_key, two_days],
        tmp_path,
        selection=[two_days],
        partition_key="2022-01-02",
        io_manager=make_io_manager(tmp_path),
    )
    assert result.output_for_node("two_days") == {FIRST_DAY: FIRST_DAY}, "one day is missing"


# ---------------------------------------------------------------------------------------------
# One output for several partitions (a single-run backfill).


def test_one_output_for_several_partitions_is_refused_unless_a_table_can_be_split(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    @dg.asset(partitions_def=DAYS)
    def two_day_output():
        return {"2022-01-01": "ok", "2022-01-02": "ok"}

    range_tags = {
        ASSET_PARTITION_RANGE_START_TAG: "2022-01-01",
        ASSET_PARTITION_RANGE_END_TAG: "2022-01-02",
    }
    result = dg.materialize(
        [two_day_output],
        tags=range_tags,
        resources={"io_manager": make_io_manager(tmp_path)},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    if manager_kind == "filesystem":
        # UPathIOManager persists one partition per output and says so.
        assert "does not support persisting an output associated with multiple partitions" in (
            error.to_string()
        )
    else:
        # FastIOManager splits a table by its partition column; a dict it cannot split.
        assert "must be a table to be split" in error.to_string()
    assert stored_files(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# From unpartitioned to partitioned, and back.

PERIODS = dg.StaticPartitionsDefinition(["p1", "p2"])

# UPathIOManager announces the removal of an unpartitioned file through the deprecated
# `Logger.warn` (Dagster 1.13), which the suite's filterwarnings=error would turn into a
# failure of the control.
UPATH_LOG_WARN = "ignore:The 'warn' method is deprecated:DeprecationWarning"


@dg.asset(name="shifting")
def shifting_unpartitioned():
    return "all time"


@dg.asset(name="shifting", partitions_def=PERIODS)
def shifting_partitioned(context: dg.AssetExecutionContext):
    return context.partition_key


@dg.asset
def shifting_reader(shifting):
    return shifting


@pytest.mark.filterwarnings(UPATH_LOG_WARN)
def test_unpartitioned_then_partitioned(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    run_assets([shifting_unpartitioned], tmp_path, io_manager=make_io_manager(tmp_path))
    assert stored_files(tmp_path) == stored_names(manager_kind, "shifting")

    result = run_assets(
        [shifting_partitioned], tmp_path, partition_key="p1", io_manager=make_io_manager(tmp_path)
    )
    assert result.success
    assert result.output_for_node("shifting") == "p1"
    if manager_kind == "filesystem":
        # The unpartitioned file stood where the partitions' folder goes: UPathIOManager
        # removed it.
        assert stored_files(tmp_path) == ["shifting/p1"]
    else:
        # Its own unpartitioned file (shifting.pickle.zst) is beside the folder, not in its way.
        assert stored_file(manager_kind, tmp_path, "shifting", "p1").is_file()
        assert not (tmp_path / "shifting").is_file()


@pytest.mark.filterwarnings(UPATH_LOG_WARN)
def test_a_filesystem_io_manager_file_in_the_partitions_way_is_replaced(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    # The replaced manager stored the unpartitioned version first.
    run_assets(
        [shifting_unpartitioned],
        tmp_path,
        io_manager=dg.FilesystemIOManager(base_dir=str(tmp_path)),
    )
    assert stored_files(tmp_path) == ["shifting"]
    assert (tmp_path / "shifting").is_file()

    result = run_assets(
        [shifting_partitioned], tmp_path, partition_key="p2", io_manager=make_io_manager(tmp_path)
    )
    assert result.output_for_node("shifting") == "p2"
    # UPathIOManager deletes that file, and only that one. FastIOManager moves it out of the
    # way instead, into its own file of the unpartitioned key, which loads if the asset is
    # unpartitioned again (test_partition_flip.py).
    kept = ["shifting.pickle.zst"] if manager_kind == "fast" else []
    assert stored_files(tmp_path) == sorted([*kept, *stored_names(manager_kind, "shifting/p2")])


def test_partitioned_then_unpartitioned_keeps_the_partitions(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    for key in ("p1", "p2"):
        run_assets(
            [shifting_partitioned],
            tmp_path,
            partition_key=key,
            io_manager=make_io_manager(tmp_path),
        )
    partitions = stored_names(manager_kind, "shifting/p1", "shifting/p2")
    assert stored_files(tmp_path) == partitions

    if manager_kind == "filesystem":
        # UPathIOManager writes the unpartitioned file where the partitions' folder is: the
        # write fails, and nothing is deleted to make room.
        with pytest.raises(IsADirectoryError):
            run_assets([shifting_unpartitioned], tmp_path, io_manager=make_io_manager(tmp_path))
        assert stored_files(tmp_path) == partitions
    else:
        # The suffixed file goes beside the folder; the partitions stay.
        run_assets([shifting_unpartitioned], tmp_path, io_manager=make_io_manager(tmp_path))
        assert stored_files(tmp_path) == sorted([*partitions, "shifting" + PICKLE_SUFFIX])
        result = run_assets(
            [shifting_unpartitioned, shifting_reader],
            tmp_path,
            selection=[shifting_reader],
            io_manager=make_io_manager(tmp_path),
        )
        assert result.output_for_node("shifting_reader") == "all time"


def test_filesystem_io_manager_partitions_stay_when_the_asset_becomes_unpartitioned(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    # The replaced manager stored the partitions first.
    for key in ("p1", "p2"):
        run_assets(
            [shifting_partitioned],
            tmp_path,
            partition_key=key,
            io_manager=dg.FilesystemIOManager(base_dir=str(tmp_path)),
        )
    assert stored_files(tmp_path) == ["shifting/p1", "shifting/p2"]

    if manager_kind == "filesystem":
        with pytest.raises(IsADirectoryError):
            run_assets([shifting_unpartitioned], tmp_path, io_manager=make_io_manager(tmp_path))
        assert stored_files(tmp_path) == ["shifting/p1", "shifting/p2"]
    else:
        # UPathIOManager never deletes a partitions' folder: nor does FastIOManager.
        run_assets([shifting_unpartitioned], tmp_path, io_manager=make_io_manager(tmp_path))
        assert stored_files(tmp_path) == ["shifting" + PICKLE_SUFFIX, "shifting/p1", "shifting/p2"]


# ---------------------------------------------------------------------------------------------
# Dynamic partitions (Dagster's test_dynamic_partitions.py and test_partitioned_assets.py run
# them through the default FilesystemIOManager).


def test_a_dynamic_partition_materializes_once_added(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    fruits = dg.DynamicPartitionsDefinition(name="fruits")

    @dg.asset(partitions_def=fruits)
    def fruit_value():
        return 1

    base = tmp_path / "base"
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "instance")) as instance:
        with pytest.raises(dg.DagsterUnknownPartitionError):
            run_assets(
                [fruit_value],
                base,
                partition_key="a",
                instance=instance,
                io_manager=make_io_manager(base),
            )
        assert not base.exists() or stored_files(base) == []

        instance.add_dynamic_partitions("fruits", ["a"])
        assert fruits.get_partition_keys(dynamic_partitions_store=instance) == ["a"]
        result = run_assets(
            [fruit_value],
            base,
            partition_key="a",
            instance=instance,
            io_manager=make_io_manager(base),
        )
        latest = instance.get_latest_materialization_event(dg.AssetKey("fruit_value"))
        assert latest is not None
        assert latest.dagster_event is not None
        assert latest.dagster_event.partition == "a"
    assert result.output_for_node("fruit_value") == 1
    assert stored_files(base) == stored_names(manager_kind, "fruit_value/a")


def test_dynamic_partitions_map_to_the_same_key_and_to_an_unpartitioned_asset(
    make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    fruits = dg.DynamicPartitionsDefinition(name="fruits")

    @dg.asset(partitions_def=fruits)
    def first(context: dg.AssetExecutionContext):
        assert context.partition_key == "apple"
        return 1

    @dg.asset(partitions_def=fruits)
    def second(context: dg.AssetExecutionContext, first):
        assert context.asset_partition_keys_for_input("first") == ["apple"]
        assert context.partition_key == "apple"
        return first + 1

    @dg.asset
    def overall(context: dg.AssetExecutionContext, first):
        assert context.asset_partition_keys_for_input("first") == ["apple"]
        return first + 10

    base = tmp_path / "base"
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "instance")) as instance:
        instance.add_dynamic_partitions("fruits", ["apple"])
        result = run_assets(
            [first, second, overall],
            base,
            partition_key="apple",
            instance=instance,
            io_manager=make_io_manager(base),
        )
    # One upstream partition loads as its value, not as a dict.
    assert result.output_for_node("second") == 2
    assert result.output_for_node("overall") == 11


def test_an_unpartitioned_asset_reads_every_dynamic_partition(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    names = ["apple", "banana", "cantaloupe"]
    fruits = dg.DynamicPartitionsDefinition(name="fruits")

    @dg.asset(partitions_def=fruits)
    def fruit_length(context: dg.AssetExecutionContext):
        return len(context.partition_key)

    @dg.asset
    def lengths(context: dg.AssetExecutionContext, fruit_length):
        assert set(context.asset_partition_keys_for_input("fruit_length")) == set(names)
        return fruit_length

    base = tmp_path / "base"
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "instance")) as instance:
        instance.add_dynamic_partitions("fruits", names)
        for name in names[:-1]:
            run_assets(
                [fruit_length],
                base,
                partition_key=name,
                instance=instance,
                io_manager=make_io_manager(base),
            )
        # The last partition is materialized in the run that reads them all.
        result = run_assets(
            [lengths, fruit_length],
            base,
            partition_key=names[-1],
            instance=instance,
            io_manager=make_io_manager(base),
        )
    assert result.output_for_node("lengths") == {"apple": 5, "banana": 6, "cantaloupe": 10}
    assert stored_files(base) == sorted(
        [
            *stored_names(manager_kind, *(f"fruit_length/{name}" for name in names)),
            *stored_names(manager_kind, "lengths"),
        ]
    )


def test_dynamic_partition_deps_with_none_outputs(
    manager_kind: str, make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    fruits = dg.DynamicPartitionsDefinition(name="fruits")

    @dg.asset(partitions_def=fruits)
    def upstream():
        return

    @dg.asset(
        partitions_def=fruits,
        deps=[
            dg.AssetDep(
                upstream, partition_mapping=dg.SpecificPartitionsPartitionMapping(["apple"])
            )
        ],
    )
    def downstream(context: dg.AssetExecutionContext):
        assert context.asset_partition_key_for_input("upstream") == "apple"
        assert context.partition_key == "orange"

    spec_1 = dg.AssetSpec(key="asset_1")
    spec_2 = dg.AssetSpec(
        key="asset_2",
        deps=[
            dg.AssetDep(
                asset=spec_1, partition_mapping=dg.SpecificPartitionsPartitionMapping(["apple"])
            )
        ],
    )

    @dg.multi_asset(specs=[spec_1], partitions_def=fruits)
    def asset_1_multi_asset():
        return

    @dg.multi_asset(specs=[spec_2], partitions_def=fruits)
    def asset_2_multi_asset(context: dg.AssetExecutionContext):
        assert context.asset_partition_key_for_input("asset_1") == "apple"
        assert context.partition_key == "orange"

    base = tmp_path / "base"
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "instance")) as instance:
        instance.add_dynamic_partitions("fruits", ["apple"])
        run_assets(
            [upstream],
            base,
            partition_key="apple",
            instance=instance,
            io_manager=make_io_manager(base),
        )
        instance.add_dynamic_partitions("fruits", ["orange"])
        run_assets(
            [upstream, downstream],
            base,
            partition_key="orange",
            instance=instance,
            io_manager=make_io_manager(base),
        )
    # The unannotated assets return None: each manager stores it, as UPathIOManager does.
    assert stored_files(base) == stored_names(
        manager_kind, "downstream/orange", "upstream/apple", "upstream/orange"
    )

    multi_base = tmp_path / "multi_base"
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "multi_instance")) as instance:
        instance.add_dynamic_partitions("fruits", ["apple"])
        run_assets(
            [asset_1_multi_asset],
            multi_base,
            partition_key="apple",
            instance=instance,
            io_manager=make_io_manager(multi_base),
        )
        instance.add_dynamic_partitions("fruits", ["orange"])
        run_assets(
            [asset_1_multi_asset, asset_2_multi_asset],
            multi_base,
            partition_key="orange",
            instance=instance,
            io_manager=make_io_manager(multi_base),
        )
    # A multi_asset of specs without a return annotation yields nothing to store.
    assert stored_files(multi_base) == []
