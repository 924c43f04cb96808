"""FastIOManagerComponent: loaded from a defs.yaml, it binds a FastIOManager that stores the
assets of the same defs folder; `dg scaffold defs` writes it; the package's entry point makes
`dg` find it; the lazy exports keep `import dagster_fastio` free of Dagster."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
import yaml
from dagster.components.core.package_entry import (
    DG_PLUGIN_ENTRY_POINT_GROUP,
    discover_package_objects,
    get_package_objects_in_module,
)
from dagster.components.testing import create_defs_folder_sandbox

import dagster_fastio as fio
from dagster_fastio import FastIOManager, FastIOManagerComponent

# Dagster 1.13.27 warns about itself: it reads a defs.yaml with pydantic's deprecated
# parse_obj_as, and loads a defs folder's Python files with a function it marks preview.
pytestmark = [
    pytest.mark.filterwarnings("ignore:`parse_obj_as` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings(r"ignore:Function `load_definitions_from_modules?` is currently in"),
]

REPO = Path(__file__).resolve().parent.parent
TYPENAME = "dagster_fastio.FastIOManagerComponent"

ASSETS_MODULE = """
import dagster as dg
import pyarrow as pa


@dg.asset
def numbers() -> pa.Table:
    return pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"]})


@dg.asset
def doubled(numbers: pa.Table) -> pa.Table:
    return pa.table({"x2": [2 * v for v in numbers["x"].to_pylist()]})
"""


def _write_defs(defs_folder: Path, attributes: dict[str, Any]) -> None:
    (defs_folder / "io").mkdir()
    (defs_folder / "io" / "defs.yaml").write_text(
        yaml.safe_dump({"type": TYPENAME, "attributes": attributes})
    )
    (defs_folder / "assets.py").write_text(ASSETS_MODULE)


def _materialize_all(defs: dg.Definitions) -> dg.ExecuteInProcessResult:
    with dg.DagsterInstance.ephemeral() as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(instance=instance, raise_on_error=False)


def test_defs_yaml_binds_a_fast_io_manager_that_stores_the_folders_assets(tmp_path: Path) -> None:
    base = tmp_path / "store"
    with create_defs_folder_sandbox() as sandbox:
        _write_defs(
            sandbox.defs_folder_path,
            {"base_path": str(base), "compression": "zstd", "compression_level": 3},
        )
        with sandbox.build_all_defs() as defs:
            manager = defs.resources["io_manager"]
            assert isinstance(manager, FastIOManager)
            assert (manager.base_path, manager.compression, manager.compression_level) == (
                str(base),
                "zstd",
                3,
            )
            result = _materialize_all(defs)
    assert result.success
    # doubled loaded numbers through the same manager: the file was written and read back.
    assert fio.read(base / "doubled.arrow").equals(pa.table({"x2": [2, 4, 6]}))
    stored = fio.read(base / "numbers.arrow")
    assert stored.equals(pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"]}))
    [numbers] = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path == ["numbers"]
    ]
    assert numbers.materialization.metadata["compression"].value == "zstd"


def test_resource_key_names_the_binding_and_null_binds_nothing() -> None:
    for attributes, expected in [
        ({"resource_key": "fast"}, ["fast"]),
        ({"resource_key": None}, []),
    ]:
        with create_defs_folder_sandbox() as sandbox:
            path = sandbox.scaffold_component(
                component_cls=FastIOManagerComponent,
                defs_yaml_contents={"type": TYPENAME, "attributes": attributes},
            )
            with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
                assert isinstance(component, FastIOManagerComponent)
                assert sorted(defs.resources or {}) == expected


def test_defaults_match_fast_io_manager_and_bind_io_manager() -> None:
    component = FastIOManagerComponent()
    assert component.resource_key == "io_manager"
    assert component.resource == FastIOManager()


def test_every_fast_io_manager_setting_is_a_component_field_with_its_default() -> None:
    # A setting added to FastIOManager and forgotten here fails this test.
    own = {"resource_key", "storage_options_from_env", "retention"}
    component_fields = FastIOManagerComponent.model_fields
    manager_fields = FastIOManager.model_fields
    assert set(component_fields) - own == set(manager_fields)
    for name, field in manager_fields.items():
        assert component_fields[name].get_default(call_default_factory=True) == field.get_default(
            call_default_factory=True
        ), name


def test_storage_options_from_env_are_read_when_the_run_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = "FASTIO_COMPONENT_TEST_TIMEOUT"
    monkeypatch.delenv(variable, raising=False)
    attributes = {
        "base_path": "memory://component-test/prefix",
        "storage_options": {"allow_http": "true"},
        "storage_options_from_env": {"timeout": variable},
    }
    with create_defs_folder_sandbox() as sandbox:
        _write_defs(sandbox.defs_folder_path, attributes)
        with sandbox.build_all_defs() as defs:
            manager = defs.resources["io_manager"]
            assert manager.storage_options == {"allow_http": "true", "timeout": dg.EnvVar(variable)}
            # Unset: the run is refused before it starts, naming the variable.
            with pytest.raises(dg.DagsterInvalidConfigError, match=variable):
                _materialize_all(defs)
            monkeypatch.setenv(variable, "30s")
            assert _materialize_all(defs).success
    assert fio.read("memory://component-test/prefix/doubled.arrow").num_rows == 3


def test_a_storage_option_given_twice_is_refused() -> None:
    component = FastIOManagerComponent(
        storage_options={"aws_region": "eu-west-1"},
        storage_options_from_env={"aws_region": "AWS_REGION"},
    )
    with pytest.raises(ValueError, match="both set aws_region"):
        component.resource  # noqa: B018


# ---------------------------------------------------------------------------------------------
# dg: scaffolding and discovery.


def _dg(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = project / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # A real project is installed in its environment; this one is put on the path.
    path = os.pathsep.join(filter(None, [str(project / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": path}
    code = "import sys; from dagster_dg_cli.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dg_scaffold_defs_writes_a_component_that_dg_loads(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    package = project / "src" / "proj"
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        textwrap.dedent("""
            from pathlib import Path

            import dagster as dg

            defs = dg.load_from_defs_folder(project_root=Path(__file__).parents[2])
        """)
    )
    (project / "dg.toml").write_text(
        'directory_type = "project"\n\n[project]\nroot_module = "proj"\n'
    )
    scaffold = _dg(project, "scaffold", "defs", TYPENAME, "storage")
    assert scaffold.returncode == 0, scaffold.stdout + scaffold.stderr
    written = yaml.safe_load((package / "defs" / "storage" / "defs.yaml").read_text())
    assert written["type"] == TYPENAME
    listed = _dg(project, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    resources = json.loads(listed.stdout[listed.stdout.index("{") :])["resources"]
    assert resources == [{"name": "io_manager", "type": "dagster_fastio.io_manager.FastIOManager"}]


def _declared_registry_modules() -> dict[str, str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["entry-points"][DG_PLUGIN_ENTRY_POINT_GROUP]


def test_pyproject_registers_a_module_where_dg_finds_the_component() -> None:
    modules = _declared_registry_modules()
    assert modules == {"dagster_fastio": "dagster_fastio"}
    # dg's own discovery over the declared module, as it runs for an installed entry point.
    found = discover_package_objects(list(modules.values()))
    assert {key.to_typename(): obj for key, obj in found.items()} == {
        TYPENAME: FastIOManagerComponent
    }


def test_installed_distribution_exposes_the_entry_point() -> None:
    # `pip install .` (as `make test` runs it) installs the entry point; dg reads it from there.
    # Run from a source folder on PYTHONPATH instead, this fails: install the package first.
    [entry_point] = [
        ep
        for ep in importlib.metadata.entry_points(group=DG_PLUGIN_ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name.replace("_", "-") == "dagster-fastio"
    ]
    module = entry_point.load()
    assert dict(get_package_objects_in_module(module)) == {
        "FastIOManagerComponent": FastIOManagerComponent
    }


# ---------------------------------------------------------------------------------------------
# Lazy exports.


def test_importing_the_package_and_listing_it_imports_no_dagster() -> None:
    code = (
        "import sys, dagster_fastio; names = dir(dagster_fastio); "
        "print('dagster' in sys.modules, 'checks' in names, 'FastIOManagerComponent' in names)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True"]


def test_checks_stays_the_function_once_its_module_is_imported() -> None:
    import dagster_fastio.asset_checks

    assert fio.checks is dagster_fastio.asset_checks.checks
    assert callable(fio.checks)
    assert fio.FastIOManagerComponent is FastIOManagerComponent
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        fio.nothing  # noqa: B018
