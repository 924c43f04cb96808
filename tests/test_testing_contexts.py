"""Dagster's own testing helpers drive the I/O manager as they drive FilesystemIOManager.

Regression (issue 11): with ``dg.build_output_context(asset_key=...)`` and
``dg.build_input_context(asset_key=..., upstream_output=...)`` and no ``dagster_type``,
``FastIOManager.load_input`` raised ``DagsterInvariantViolationError`` where
FilesystemIOManager loads the asset. A missing type means ``Any``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

from dagster_fastio import FastIOManager

VALUES = {
    "pyarrow table": pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"]}),
    "pandas frame": pd.DataFrame({"x": [1.5, 2.5], "y": ["p", "q"]}),
    "pickled object": {"answer": 42, "ratio": Fraction(1, 3)},
}


def _io_manager(name: str, tmp_path: Path) -> dg.IOManager:
    resources: dict[str, dg.ConfigurableIOManagerFactory] = {
        "FastIOManager": FastIOManager(base_path=str(tmp_path / "fastio")),
        "FilesystemIOManager": dg.FilesystemIOManager(base_dir=str(tmp_path / "filesystem")),
    }
    # FilesystemIOManager is a factory; the same call hands back FastIOManager itself.
    return resources[name].create_io_manager(dg.build_init_resource_context())


def _assert_same(loaded: Any, value: Any) -> None:
    if isinstance(value, pa.Table):
        assert isinstance(loaded, pa.Table)
        assert loaded.equals(value)
    elif isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(loaded, value)
    else:
        assert loaded == value


@pytest.mark.parametrize("kind", list(VALUES))
@pytest.mark.parametrize("manager_name", ["FastIOManager", "FilesystemIOManager"])
def test_testing_contexts_without_a_type_load_the_asset(
    tmp_path: Path, kind: str, manager_name: str
) -> None:
    manager = _io_manager(manager_name, tmp_path)
    value = VALUES[kind]
    asset_key = dg.AssetKey(["upstream"])
    output_context = dg.build_output_context(asset_key=asset_key)
    manager.handle_output(output_context, value)
    input_context = dg.build_input_context(asset_key=asset_key, upstream_output=output_context)
    _assert_same(manager.load_input(input_context), value)
