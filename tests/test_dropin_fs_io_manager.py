"""Dagster's tests of FilesystemIOManager (dagster_tests/storage_tests/test_fs_io_manager.py),
rewritten to run against FastIOManager with FilesystemIOManager beside it as the control.

Each test runs once per ``manager_kind``: "fast" (FastIOManager) and "filesystem"
(FilesystemIOManager). Where Dagster's test asserts a stored file's exact path, the expected
path is written out for each manager: FilesystemIOManager's pickle has no suffix, FastIOManager
stores the same path plus ``.pickle.zst`` (a zstd pickle; ``.arrow`` would be a table).

Left out of Dagster's file:

- ``test_fs_io_manager_memoization`` (older Dagster releases): it tests op memoization through a
  ``VersionStrategy``, which Dagster has removed; no I/O manager is involved.
- Dagster's version builds its managers with ``fs_io_manager.configured({"base_dir": ...})``;
  here both come from the ``make_io_manager`` fixture, so the function-style ``fs_io_manager``
  is not run a second time beside ``FilesystemIOManager`` (the same class underneath).
"""

# No `from __future__ import annotations`: Dagster reads the annotations of the assets and ops
# defined inside the tests below.
import os
import pickle
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from dagster_fastio.api import read_pickle
from dagster_fastio.layout import PICKLE_SUFFIX

MakeManager = Callable[..., Any]


# ---------------------------------------------------------------------------------------------
# Helpers.


def _unpickle(path: str | os.PathLike[str]) -> Any:
    """The object stored at ``path``: a zstd pickle (FastIOManager) or a plain one."""
    text = os.fspath(path)
    if text.endswith(PICKLE_SUFFIX):
        return read_pickle(text)
    with open(text, "rb") as file:
        return pickle.load(file)


def _handled_outputs(result: dg.ExecuteInProcessResult) -> list[dg.DagsterEvent]:
    return [event for event in result.all_node_events if event.is_handled_output]


def _loaded_inputs(result: dg.ExecuteInProcessResult) -> list[dg.DagsterEvent]:
    return [event for event in result.all_node_events if event.is_loaded_input]


def _stored_files(base: Path) -> list[str]:
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())


def _op_job(io_manager: Any) -> dg.JobDefinition:
    """Two ops, the second reading the first's list through the I/O manager."""

    @dg.op
    def op_a():
        return [1, 2, 3]

    @dg.op
    def op_b(_values):
        return 1

    @dg.job(resource_defs={"io_manager": io_manager})
    def two_ops():
        op_b(op_a())

    return two_ops


def _prefixed_assets_job(io_manager: Any, partitions_def: Any = None) -> dg.JobDefinition:
    """asset1 under one/two/three and asset2 under four/five, which extends asset1's list."""

    @dg.asset(key_prefix=["one", "two", "three"], partitions_def=partitions_def)
    def asset1():
        return [1, 2, 3]

    @dg.asset(
        key_prefix=["four", "five"],
        ins={"asset1": dg.AssetIn(key_prefix=["one", "two", "three"])},
        partitions_def=partitions_def,
    )
    def asset2(asset1):
        return [*asset1, 4]

    defs = dg.Definitions(assets=[asset1, asset2], resources={"io_manager": io_manager})
    return defs.resolve_implicit_global_asset_job_def()


# ---------------------------------------------------------------------------------------------
# Op outputs.


def test_op_outputs_are_stored_under_run_step_and_output(
    manager_kind: str, make_io_manager: MakeManager, tmp_path: Path
) -> None:
    result = _op_job(make_io_manager(tmp_path)).execute_in_process()
    assert result.success

    handled = _handled_outputs(result)
    assert len(handled) == 2
    by_step = {event.step_key: event for event in handled}
    run_folder = tmp_path / result.run_id
    expected = {
        "fast": {
            "op_a": run_folder / "op_a" / "result.pickle.zst",
            "op_b": run_folder / "op_b" / "result.pickle.zst",
        },
        "filesystem": {
            "op_a": run_folder / "op_a" / "result",
            "op_b": run_folder / "op_b" / "result",
        },
    }[manager_kind]
    for step_key, value in (("op_a", [1, 2, 3]), ("op_b", 1)):
        path = expected[step_key]
        metadata = by_step[step_key].event_specific_data.metadata
        assert metadata["path"] == dg.MetadataValue.path(str(path))
        assert path.is_file()
        assert _unpickle(path) == value

    loaded = _loaded_inputs(result)
    assert len(loaded) == 1
    assert loaded[0].event_specific_data.upstream_step_key == "op_a"


def test_default_base_is_the_instance_storage_folder(
    manager_kind: str, make_io_manager: MakeManager, tmp_path: Path
) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = _op_job(make_io_manager(None)).execute_in_process(instance=instance)
        assert result.success
        assert result.output_for_node("op_a") == [1, 2, 3]

        step_folder = Path(instance.storage_directory()) / result.run_id / "op_a"
        expected = {
            "fast": step_folder / "result.pickle.zst",
            "filesystem": step_folder / "result",
        }[manager_kind]
        assert _unpickle(expected) == [1, 2, 3]


# Module level, so that pickle looks it up by name and fails: a lambda's name is "<lambda>".
square = lambda x: x * x  # noqa: E731


def test_unpicklable_outputs_raise_invariant_violation(
    manager_kind: str, make_io_manager: MakeManager, tmp_path: Path
) -> None:
    @dg.op
    def local_function_output():
        # A function defined in another function cannot be pickled (AttributeError).
        def inner():
            return 1

        return inner

    @dg.op
    def lambda_output():
        return square

    @dg.op
    def too_deep_output():
        # 2,000 nested lists exceed the recursion limit of 1,000 (RecursionError).
        nested: list = []
        for _ in range(2000):
            nested = [nested]
        return nested

    @dg.op
    def consumer(_value):
        return 1

    @dg.graph
    def local_function_graph():
        consumer(local_function_output())

    @dg.graph
    def lambda_graph():
        consumer(lambda_output())

    @dg.graph
    def too_deep_graph():
        consumer(too_deep_output())

    cases = [
        (local_function_graph, "local_function_output", "function"),
        (lambda_graph, "lambda_output", "function"),
        (too_deep_graph, "too_deep_output", "list"),
    ]
    resources = {"io_manager": make_io_manager(tmp_path)}
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        for graph_def, step_key, type_name in cases:
            job_def = graph_def.to_job(resource_defs=resources)
            with pytest.raises(dg.DagsterInvariantViolationError) as raised:
                job_def.execute_in_process(instance=instance)
            message = str(raised.value)
            assert "is not picklable" in message
            if manager_kind == "fast":
                # The contract: the message names the output and the object's type.
                assert step_key in message
                assert type_name in message
            elif step_key == "too_deep_output":
                # FilesystemIOManager's message for an object too deep to even print.
                assert "exceeds recursion limit and is not picklable" in message
            else:
                assert message.startswith("Object ")


# ---------------------------------------------------------------------------------------------
# Assets.


def test_assets_are_stored_at_their_key_paths(
    manager_kind: str, make_io_manager: MakeManager, tmp_path: Path
) -> None:
    result = _prefixed_assets_job(make_io_manager(tmp_path)).execute_in_process()
    assert result.success
    assert len(_handled_outputs(result)) == 2

    expected = {
        "fast": (
            tmp_path / "one" / "two" / "three" / "asset1.pickle.zst",
            tmp_path / "four" / "five" / "asset2.pickle.zst",
        ),
        "filesystem": (
            tmp_path / "one" / "two" / "three" / "asset1",
            tmp_path / "four" / "five" / "asset2",
        ),
    }[manager_kind]
    assert expected[0].is_file()
    assert _unpickle(expected[0]) == [1, 2, 3]

    loaded = _loaded_inputs(result)
    assert len(loaded) == 1
    assert loaded[0].event_specific_data.upstream_step_key.endswith("asset1")

    assert expected[1].is_file()
    assert _unpickle(expected[1]) == [1, 2, 3, 4]


def test_partitioned_assets_are_stored_in_a_folder_per_asset(
    manager_kind: str, make_io_manager: MakeManager, tmp_path: Path
) -> None:
    daily = dg.DailyPartitionsDefinition(start_date="2020-02-01")
    job_def = _prefixed_assets_job(make_io_manager(tmp_path), partitions_def=daily)
    result = job_def.execute_in_process(partition_key="2020-05-03")
    assert result.success
    assert len(_handled_outputs(result)) == 2

    expected = {
        "fast": (
            tmp_path / "one" / "two" / "three" / "asset1" / "2020-05-03.pickle.zst",
            tmp_path / "four" / "five" / "asset2" / "2020-05-03.pickle.zst",
        ),
        "filesystem": (
            tmp_path / "one" / "two" / "three" / "asset1" / "2020-05-03",
            tmp_path / "four" / "five" / "asset2" / "2020-05-03",
        ),
    }[manager_kind]
    assert expected[0].is_file()
    assert _unpickle(expected[0]) == [1, 2, 3]

    loaded = _loaded_inputs(result)
    assert len(loaded) == 1
    assert loaded[0].event_specific_data.upstream_step_key.endswith("asset1")

    assert expected[1].is_file()
    assert _unpickle(expected[1]) == [1, 2, 3, 4]


class _NoUpstreamPartitions(dg.PartitionMapping):
    """Maps every downstream partition to no upstream partition at all."""

    def get_upstream_mapped_partitions_result_for_partitions(
        self,
        downstream_partitions_subset: Any,
        downstream_partitions_def: Any,
        upstream_partitions_def: Any,
        current_time: datetime | None = None,
        dynamic_partitions_store: Any = None,
    ) -> Any:
        from dagster._core.definitions.partitions.mapping.partition_mapping import (
            UpstreamPartitionsResult,
        )

        return UpstreamPartitionsResult(
            partitions_subset=upstream_partitions_def.empty_subset(),
            required_but_nonexistent_subset=upstream_partitions_def.empty_subset(),
        )

    def get_downstream_partitions_for_partitions(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError()

    def validate_partition_mapping(self, *args: Any, **kwargs: Any) -> None:
        return None

    @property
    def description(self) -> str:
        return "no upstream partitions"


# Dagster warns that a PartitionMapping of one's own is deprecated; its test defines one too.
@pytest.mark.filterwarnings("ignore:Non-built-in PartitionMappings:DeprecationWarning")
def test_an_input_mapped_to_no_partitions_loads_none(
    make_io_manager: MakeManager, tmp_path: Path
) -> None:
    daily = dg.DailyPartitionsDefinition(start_date="2020-02-01")
    seen = []

    @dg.asset(partitions_def=daily)
    def asset1(): ...

    @dg.asset(
        partitions_def=daily,
        ins={"asset1": dg.AssetIn(partition_mapping=_NoUpstreamPartitions())},
    )
    def asset2(asset1):
        seen.append(asset1)

    result = dg.materialize(
        [asset1, asset2],
        selection=[asset2],
        partition_key="2020-02-01",
        resources={"io_manager": make_io_manager(tmp_path)},
    )
    assert result.success
    assert seen == [None]


def test_partitioned_multi_asset_hands_one_output_downstream(
    make_io_manager: MakeManager, tmp_path: Path
) -> None:
    partitions = dg.StaticPartitionsDefinition(["A"])

    @dg.multi_asset(
        partitions_def=partitions,
        outs={
            "out_1": dg.AssetOut(key=dg.AssetKey("upstream_asset_1")),
            "out_2": dg.AssetOut(key=dg.AssetKey("upstream_asset_2")),
        },
    )
    def upstream_asset() -> tuple[dg.Output[int], dg.Output[int]]:
        return dg.Output(1, output_name="out_1"), dg.Output(2, output_name="out_2")

    @dg.asset(partitions_def=partitions)
    def downstream_asset(upstream_asset_1: int) -> int:
        assert upstream_asset_1 == 1
        return 2

    job_def = dg.Definitions(
        assets=[upstream_asset, downstream_asset],
        resources={"io_manager": make_io_manager(tmp_path)},
        jobs=[dg.define_asset_job("the_job")],
    ).resolve_job_def("the_job")
    result = job_def.execute_in_process(partition_key="A")
    assert result.success
    assert len(_handled_outputs(result)) == 3


def test_partitioned_graph_backed_asset(
    manager_kind: str, make_io_manager: MakeManager, tmp_path: Path
) -> None:
    partitions = dg.StaticPartitionsDefinition(["A"])

    @dg.asset(key_prefix=["the", "cool", "prefix"], partitions_def=partitions)
    def one():
        return 1

    @dg.op
    def add_1(value):
        return value + 1

    @dg.graph
    def four(start):
        return add_1(add_1(add_1(start)))

    four_asset = dg.AssetsDefinition.from_graph(
        four,
        keys_by_input_name={"start": dg.AssetKey(["the", "cool", "prefix", "one"])},
        partitions_def=partitions,
    )
    result = dg.materialize(
        [one, four_asset],
        partition_key="A",
        resources={"io_manager": make_io_manager(tmp_path)},
    )
    assert result.success
    # one, and the three add_1 steps inside four (the last of them is the asset).
    assert len(_handled_outputs(result)) == 4

    expected = {
        "fast": (
            tmp_path / "the" / "cool" / "prefix" / "one" / "A.pickle.zst",
            tmp_path / "four" / "A.pickle.zst",
        ),
        "filesystem": (
            tmp_path / "the" / "cool" / "prefix" / "one" / "A",
            tmp_path / "four" / "A",
        ),
    }[manager_kind]
    assert expected[0].is_file()
    assert _unpickle(expected[0]) == 1

    loaded = _loaded_inputs(result)
    assert len(loaded) == 3
    assert loaded[0].event_specific_data.upstream_step_key.endswith("one")

    assert expected[1].is_file()
    assert _unpickle(expected[1]) == 4


def test_partitioned_asset_reads_its_own_previous_partition(
    make_io_manager: MakeManager, tmp_path: Path
) -> None:
    @dg.asset(
        partitions_def=dg.DailyPartitionsDefinition(start_date="2020-01-01"),
        ins={
            "a": dg.AssetIn(
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
            )
        },
    )
    def a(a: int | None) -> int:
        return 1 if a is None else a + 1

    resources = {"io_manager": make_io_manager(tmp_path)}
    first = dg.materialize([a], partition_key="2020-01-01", resources=resources)
    assert first.success
    assert first.output_for_node("a") == 1

    second = dg.materialize([a], partition_key="2020-01-02", resources=resources)
    assert second.success
    assert second.output_for_node("a") == 2


# ---------------------------------------------------------------------------------------------
# None.


def test_assets_typed_none_store_nothing(make_io_manager: MakeManager, tmp_path: Path) -> None:
    @dg.asset
    def asset1() -> None:
        pass

    @dg.asset(deps=[asset1])
    def asset2() -> None:
        pass

    result = dg.materialize([asset1, asset2], resources={"io_manager": make_io_manager(tmp_path)})
    assert result.success
    assert _stored_files(tmp_path) == []
    assert _handled_outputs(result) == []


def test_ops_typed_none_store_nothing(make_io_manager: MakeManager, tmp_path: Path) -> None:
    @dg.op
    def op1() -> None:
        pass

    @dg.op(ins={"after": dg.In(dg.Nothing)})
    def op2() -> None:
        pass

    @dg.job(resource_defs={"io_manager": make_io_manager(tmp_path)})
    def job1():
        op2(op1())

    result = job1.execute_in_process()
    assert result.success
    assert _stored_files(tmp_path) == []
    assert _handled_outputs(result) == []


def test_unannotated_none_is_stored_without_path_metadata(
    manager_kind: str, make_io_manager: MakeManager, tmp_path: Path
) -> None:
    @dg.asset
    def asset1():
        pass

    result = dg.materialize([asset1], resources={"io_manager": make_io_manager(tmp_path)})
    assert result.success

    expected = {
        "fast": tmp_path / "asset1.pickle.zst",
        "filesystem": tmp_path / "asset1",
    }[manager_kind]
    assert expected.is_file()
    assert _unpickle(expected) is None
    handled = _handled_outputs(result)
    assert len(handled) == 1
    assert "path" not in handled[0].event_specific_data.metadata


def test_unannotated_none_loads_downstream_as_none_in_a_later_run(
    make_io_manager: MakeManager, tmp_path: Path
) -> None:
    # Not in Dagster's file: what its None test implies for the next run (issue 21, item 2).
    seen = []

    @dg.asset
    def asset1():
        pass

    @dg.asset
    def asset2(asset1):
        seen.append(asset1)
        return 2

    resources = {"io_manager": make_io_manager(tmp_path)}
    assert dg.materialize([asset1], resources=resources).success
    later = dg.materialize([asset1, asset2], selection=[asset2], resources=resources)
    assert later.success
    assert seen == [None]


# ---------------------------------------------------------------------------------------------
# Multi-partitions.

MULTI = dg.MultiPartitionsDefinition(
    {
        "a": dg.StaticPartitionsDefinition(["a", "b"]),
        "1": dg.StaticPartitionsDefinition(["1", "2"]),
    }
)


def test_multi_partitioned_assets(
    manager_kind: str, make_io_manager: MakeManager, tmp_path: Path
) -> None:
    @dg.asset(partitions_def=MULTI)
    def asset1():
        return 1

    @dg.asset(partitions_def=MULTI)
    def asset2(asset1):
        return asset1 + 1

    job_def = dg.Definitions(
        assets=[asset1, asset2],
        resources={"io_manager": make_io_manager(tmp_path)},
        jobs=[dg.define_asset_job("my_job", [asset1, asset2])],
    ).resolve_job_def("my_job")
    result = job_def.execute_in_process(partition_key=dg.MultiPartitionKey({"a": "a", "1": "1"}))
    assert result.success
    assert len(_handled_outputs(result)) == 2

    # One folder per dimension, dimensions sorted by name: "1" before "a".
    expected = {
        "fast": ["asset1/1/a.pickle.zst", "asset2/1/a.pickle.zst"],
        "filesystem": ["asset1/1/a", "asset2/1/a"],
    }[manager_kind]
    assert _stored_files(tmp_path) == expected
    assert _unpickle(tmp_path / expected[1]) == 2


def test_multi_partition_stored_at_the_pre_1_1_path_still_loads(
    make_io_manager: MakeManager, tmp_path: Path
) -> None:
    # Dagster before 1.1 stored a multi-partition as one file named "<key>|<key>", dimensions
    # sorted by name; UPathIOManager falls back to that path when the current one is missing.
    # Dagster's test copies such a file from its repository; this one writes its own.
    (tmp_path / "multipartitioned").mkdir()
    (tmp_path / "multipartitioned" / "c|2020-04-22").write_bytes(pickle.dumps(1, protocol=4))
    composite = dg.MultiPartitionsDefinition(
        {
            "abc": dg.StaticPartitionsDefinition(["a", "b", "c", "d", "e", "f"]),
            "date": dg.DailyPartitionsDefinition(start_date="2020-01-01"),
        }
    )
    seen = []

    @dg.asset(partitions_def=composite)
    def multipartitioned():
        return 1

    @dg.asset(partitions_def=composite)
    def downstream_of_multipartitioned(multipartitioned):
        seen.append(multipartitioned)
        return 1

    job_def = dg.Definitions(
        assets=[multipartitioned, downstream_of_multipartitioned],
        resources={"io_manager": make_io_manager(tmp_path)},
        jobs=[dg.define_asset_job("my_job", [multipartitioned, downstream_of_multipartitioned])],
    ).resolve_job_def("my_job")

    # Never materialized at either path: the error names the partition's current path.
    with pytest.raises(FileNotFoundError, match="c/2020-04-21"):
        job_def.execute_in_process(
            partition_key=dg.MultiPartitionKey({"abc": "c", "date": "2020-04-21"}),
            asset_selection=[dg.AssetKey("downstream_of_multipartitioned")],
        )

    result = job_def.execute_in_process(
        partition_key=dg.MultiPartitionKey({"abc": "c", "date": "2020-04-22"}),
        asset_selection=[dg.AssetKey("downstream_of_multipartitioned")],
    )
    assert result.success
    assert seen == [1]

    result = job_def.execute_in_process(
        partition_key=dg.MultiPartitionKey({"abc": "c", "date": "2020-04-22"})
    )
    assert result.success
    for node in ("multipartitioned", "downstream_of_multipartitioned"):
        materializations = result.asset_materializations_for_node(node)
        assert len(materializations) == 1
        assert "c/2020-04-22" in materializations[0].metadata["path"].path
