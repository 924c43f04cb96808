"""Dagster's tests of the asset value loader (dagster_tests/storage_tests/
test_asset_value_loader.py), rewritten to load what FastIOManager stored, with
FilesystemIOManager beside it as the control (``manager_kind``: "fast" or "filesystem").

Dagster's tests hand the loader a hand-written IOManager that returns 5 and asserts on the
context it gets. Here the manager under test stores a value in a real run first, and the
loader must give it back; what the loader passes in (asset key, partition, config) is checked
through the value it loads.

Left out of Dagster's file, with the reason:

- ``test_resource_dependencies_and_config``, ``test_io_manager_resource_with_config`` and
  ``test_nested_resource_deps``: they test that the loader builds the other resources a
  hand-written I/O manager requires (``required_resource_keys``) and configures them.
  Neither FastIOManager nor FilesystemIOManager requires another resource.
- In ``test_single_asset`` and ``test_source_asset``, the checks that the hand-written
  manager's context manager is entered lazily and exited with the loader: they observe that
  manager's own ``yield``, which neither manager here has. The loads themselves are kept.
"""

# No `from __future__ import annotations`: Dagster reads the annotations of the assets below.
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

MakeManager = Callable[..., Any]

DAILY = dg.DailyPartitionsDefinition(start_date="2020-01-01")


def test_loads_a_materialized_asset(make_io_manager: MakeManager, tmp_path: Path) -> None:
    @dg.asset(io_manager_key="my_io_manager", metadata={"a": "b"})
    def asset1():
        return 5

    defs = dg.Definitions(
        assets=[asset1], resources={"my_io_manager": make_io_manager(tmp_path / "io")}
    )
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        assert dg.materialize([asset1], resources=defs.resources, instance=instance).success

        with defs.get_asset_value_loader(instance=instance) as loader:
            assert loader.load_asset_value(dg.AssetKey("asset1"), python_type=int) == 5

        assert defs.load_asset_value(dg.AssetKey("asset1"), python_type=int, instance=instance) == 5


def test_loads_an_external_asset(make_io_manager: MakeManager, tmp_path: Path) -> None:
    # Dagster's test declares a SourceAsset (deprecated now); an AssetSpec with an I/O manager
    # key is the same external asset. Another code location materialized it.
    @dg.asset(name="asset1")
    def producer():
        return 5

    manager = make_io_manager(tmp_path)
    assert dg.materialize([producer], resources={"io_manager": manager}).success

    external = dg.AssetSpec("asset1", metadata={"a": "b"}).with_io_manager_key("my_io_manager")
    defs = dg.Definitions(assets=[external], resources={"my_io_manager": manager})
    with defs.get_asset_value_loader() as loader:
        assert loader.load_asset_value(dg.AssetKey("asset1"), python_type=int) == 5

    assert defs.load_asset_value(dg.AssetKey("asset1"), python_type=int) == 5


def test_two_managers_load_from_their_own_bases(
    make_io_manager: MakeManager, tmp_path: Path
) -> None:
    @dg.asset(io_manager_key="io_manager1")
    def asset1():
        return "asset1_5"

    @dg.asset(io_manager_key="io_manager2")
    def asset2():
        return "asset2_5"

    defs = dg.Definitions(
        assets=[asset1, asset2],
        resources={
            "io_manager1": make_io_manager(tmp_path / "one"),
            "io_manager2": make_io_manager(tmp_path / "two"),
        },
    )
    assert dg.materialize([asset1, asset2], resources=defs.resources).success
    assert {p.parent.name for p in tmp_path.rglob("asset1*")} == {"one"}
    assert {p.parent.name for p in tmp_path.rglob("asset2*")} == {"two"}

    with defs.get_asset_value_loader() as loader:
        assert loader.load_asset_value(dg.AssetKey("asset1")) == "asset1_5"
        assert loader.load_asset_value(dg.AssetKey("asset2")) == "asset2_5"


def test_default_base_loads_from_the_instance(make_io_manager: MakeManager, tmp_path: Path) -> None:
    # Dagster's test relies on the default io_manager, FilesystemIOManager in the instance's
    # storage folder; here each manager is bound without a base, which means the same folder.
    @dg.asset
    def asset1():
        return 5

    defs = dg.Definitions(assets=[asset1], resources={"io_manager": make_io_manager(None)})
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert dg.materialize([asset1], resources=defs.resources, instance=instance).success

        with defs.get_asset_value_loader(instance=instance) as loader:
            assert loader.load_asset_value(dg.AssetKey("asset1"), python_type=int) == 5

        assert defs.load_asset_value(dg.AssetKey("asset1"), python_type=int, instance=instance) == 5


def test_loads_the_partition_asked_for(make_io_manager: MakeManager, tmp_path: Path) -> None:
    @dg.asset(partitions_def=DAILY)
    def asset1(context: dg.AssetExecutionContext):
        return f"value of {context.partition_key}"

    defs = dg.Definitions(assets=[asset1], resources={"io_manager": make_io_manager(tmp_path)})
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        for key in ("2020-05-05", "2020-05-06"):
            result = dg.materialize(
                [asset1], partition_key=key, resources=defs.resources, instance=instance
            )
            assert result.success

        with defs.get_asset_value_loader(instance=instance) as loader:
            for key in ("2020-05-05", "2020-05-06"):
                value = loader.load_asset_value(dg.AssetKey("asset1"), partition_key=key)
                assert value == f"value of {key}"


def test_partition_without_an_instance(make_io_manager: MakeManager, tmp_path: Path) -> None:
    @dg.asset(partitions_def=DAILY)
    def asset1():
        return 5

    resources = {"io_manager": make_io_manager(tmp_path)}
    assert dg.materialize([asset1], partition_key="2020-05-05", resources=resources).success

    defs = dg.Definitions(assets=[asset1], resources=resources)
    with defs.get_asset_value_loader() as loader:
        assert loader.load_asset_value(dg.AssetKey("asset1"), partition_key="2020-05-05") == 5


def test_partition_key_range_loads_a_dict(make_io_manager: MakeManager, tmp_path: Path) -> None:
    # Not in Dagster's file: the loader's partition_key_range, as a multi-partition input.
    @dg.asset(partitions_def=DAILY)
    def asset1(context: dg.AssetExecutionContext):
        return int(context.partition_key[-2:])

    resources = {"io_manager": make_io_manager(tmp_path)}
    for key in ("2020-05-05", "2020-05-06", "2020-05-07"):
        assert dg.materialize([asset1], partition_key=key, resources=resources).success

    defs = dg.Definitions(assets=[asset1], resources=resources)
    with defs.get_asset_value_loader() as loader:
        value = loader.load_asset_value(
            dg.AssetKey("asset1"),
            partition_key_range=dg.PartitionKeyRange("2020-05-05", "2020-05-06"),
        )
    assert value == {"2020-05-05": 5, "2020-05-06": 6}


def test_manager_configured_at_load_time(
    manager_kind: str, make_io_manager: MakeManager, tmp_path: Path
) -> None:
    # Dagster's test gives a hand-written manager its config at load time; here each manager
    # gets its base folder that way, under the config key it has.
    @dg.asset
    def asset1():
        return 5

    config = {
        "fast": {"base_path": str(tmp_path)},
        "filesystem": {"base_dir": str(tmp_path)},
    }[manager_kind]
    unconfigured = type(make_io_manager(tmp_path)).configure_at_launch()
    result = dg.materialize(
        [asset1],
        resources={"io_manager": unconfigured},
        run_config={"resources": {"io_manager": {"config": config}}},
    )
    assert result.success

    defs = dg.Definitions(assets=[asset1], resources={"io_manager": unconfigured})
    resource_config = {"io_manager": {"config": config}}
    with defs.get_asset_value_loader() as loader:
        value = loader.load_asset_value(dg.AssetKey("asset1"), resource_config=resource_config)
    assert value == 5


def test_frame_loads_as_the_python_type_asked_for(
    make_io_manager: MakeManager, tmp_path: Path
) -> None:
    # Not in Dagster's file: a table through the loader's python_type, which FastIOManager
    # reads as an input's annotation and FilesystemIOManager ignores.
    frame = pd.DataFrame({"k": [1, 2, 3], "v": ["a", "b", "c"]}).set_index("k")

    @dg.asset
    def asset1() -> pd.DataFrame:
        return frame

    resources = {"io_manager": make_io_manager(tmp_path)}
    assert dg.materialize([asset1], resources=resources).success

    defs = dg.Definitions(assets=[asset1], resources=resources)
    loaded = defs.load_asset_value(dg.AssetKey("asset1"), python_type=pd.DataFrame)
    assert isinstance(loaded, pd.DataFrame)
    pd.testing.assert_frame_equal(loaded, frame)
