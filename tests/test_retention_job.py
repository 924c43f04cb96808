"""`dagster_fastio.retention_job` and FastIOManagerComponent's `retention` setting (issue 25,
retention): the clean as a Dagster job, run for real by `dg launch` against a code location
whose partitions definition changed, a dry run first, then applied through run config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest
from dagster.components.testing import create_defs_folder_sandbox

from dagster_fastio import FastIOManager, FastIOManagerComponent, retention_job
from dagster_fastio.io_manager.retention_job import RETENTION_METADATA_PREFIX

DEFINITIONS = textwrap.dedent("""
    import os

    import dagster as dg
    import pyarrow as pa

    from dagster_fastio import FastIOManager, retention_job

    KEYS = os.environ["KEYS"].split(",")


    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(KEYS))
    def letters(context) -> pa.Table:
        return pa.table({"key": [context.partition_key]})


    @dg.asset(io_manager_key="other")
    def elsewhere() -> pa.Table:
        return pa.table({"key": ["x"]})


    defs = dg.Definitions(
        assets=[letters, elsewhere],
        jobs=[retention_job()],
        resources={
            "io_manager": FastIOManager(base_path=os.environ["BASE"]),
            "other": FastIOManager(base_path=os.environ["BASE"]),
        },
    )
""")


def _dg(folder: Path, keys: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`dg launch -f definitions.py ...`, with the partitions definition holding ``keys``."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(folder / "home"),
        "BASE": str(folder / "base"),
        "KEYS": keys,
        "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH")])),
    }
    code = "import sys; from dagster_dg_cli.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, "launch", "-f", "definitions.py", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _last_run_metadata(home: Path) -> dict[str, object]:
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            run = instance.get_runs(limit=1)[0]
            assert run.job_name == "fastio_retention"
            outputs = [
                event.dagster_event.event_specific_data.metadata
                for event in instance.all_logs(run.run_id)
                if event.dagster_event and event.dagster_event.event_type_value == "STEP_OUTPUT"
            ]
            observations = instance.fetch_observations(dg.AssetKey("letters"), limit=10).records
        assert len(outputs) == 1
        return {
            **{key: getattr(value, "value", value) for key, value in outputs[0].items()},
            "observations": [r.asset_observation.metadata for r in observations],
        }
    finally:
        del os.environ["DAGSTER_HOME"]


def test_dg_launch_runs_a_dry_run_then_applies_through_run_config(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "definitions.py").write_text(DEFINITIONS)
    for key in "abc":
        launched = _dg(tmp_path, "a,b,c", "--assets", "letters", "--partition", key)
        assert launched.returncode == 0, launched.stderr[-3000:]
    launched = _dg(tmp_path, "a,b,c", "--assets", "elsewhere")
    assert launched.returncode == 0, launched.stderr[-3000:]
    letters = tmp_path / "base" / "letters"
    assert sorted(p.name for p in letters.iterdir()) == ["a.arrow", "b.arrow", "c.arrow"]
    c_size = (letters / "c.arrow").stat().st_size

    # The deployment drops "c"; the job's default is a dry run.
    dry = _dg(tmp_path, "a,b", "--job", "fastio_retention")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert f"would remove {letters / 'c.arrow'} (letters partition c: not_in_definition)" in (
        dry.stderr + dry.stdout
    )
    assert sorted(p.name for p in letters.iterdir()) == ["a.arrow", "b.arrow", "c.arrow"]
    metadata = _last_run_metadata(tmp_path / "home")
    p = RETENTION_METADATA_PREFIX
    assert metadata[f"{p}applied"] is False
    assert metadata[f"{p}files"] == 1
    assert metadata[f"{p}bytes"] == c_size
    assert metadata["observations"] == []

    config = {"ops": {"fastio_retention": {"config": {"apply": True}}}}
    applied = _dg(tmp_path, "a,b", "--job", "fastio_retention", "--config-json", json.dumps(config))
    assert applied.returncode == 0, applied.stderr[-3000:]
    assert sorted(p.name for p in letters.iterdir()) == ["a.arrow", "b.arrow"]
    # The asset bound to another manager key is not this job's: its file stays.
    assert (tmp_path / "base" / "elsewhere.arrow").is_file()
    metadata = _last_run_metadata(tmp_path / "home")
    assert metadata[f"{p}applied"] is True
    assert metadata[f"{p}files"] == 1
    (observation,) = metadata["observations"]
    assert observation[f"{p}removed_files"].value == 1
    assert observation[f"{p}removed_bytes"].value == c_size
    assert observation[f"{p}removed_partitions"].value == ["c"]


def test_an_in_process_run_says_where_to_run_it(tmp_path: Path) -> None:
    defs = dg.Definitions(
        jobs=[retention_job()], resources={"io_manager": FastIOManager(base_path=str(tmp_path))}
    )
    with pytest.raises(dg.DagsterInvariantViolationError, match="launch it from the code"):
        defs.resolve_job_def("fastio_retention").execute_in_process()


def test_a_bad_age_fails_when_the_job_is_defined() -> None:
    with pytest.raises(ValueError, match="like 90d"):
        retention_job(partitions_older_than="ninety days")


def test_the_job_needs_a_fast_io_manager_and_defaults_to_a_dry_run(tmp_path: Path) -> None:
    job = retention_job()
    op = job.graph.node_defs[0]
    assert op.required_resource_keys == {"io_manager"}
    assert op.config_schema.as_field().config_type.fields["apply"].default_value is False
    defs = dg.Definitions(
        jobs=[job], resources={"io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path))}
    )
    with pytest.raises(
        dg.DagsterInvariantViolationError,
        match=r"the resource .io_manager. is a PickledObjectFilesystemIOManager",
    ):
        defs.resolve_job_def("fastio_retention").execute_in_process()


# dg's sandbox parses the defs.yaml with a pydantic function deprecated in pydantic 2 (as in
# test_component.py), and Dagster marks the code references it attaches to a component's jobs
# beta.
@pytest.mark.filterwarnings("ignore:`parse_obj_as` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings(
    "ignore:Class `(LocalFileCodeReference|CodeReferencesMetadataValue)` is currently in beta"
)
@pytest.mark.filterwarnings(r"ignore:Function `load_definitions_from_modules?` is currently in")
def test_the_component_setting_adds_the_job_and_its_schedule() -> None:
    attributes = {
        "base_path": "memory:///retention-component",
        "retention": {
            "cron_schedule": "0 3 * * *",
            "partitions_older_than": "90d",
            "apply": True,
        },
    }
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=FastIOManagerComponent,
            defs_yaml_contents={
                "type": "dagster_fastio.FastIOManagerComponent",
                "attributes": attributes,
            },
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            assert isinstance(component, FastIOManagerComponent)
            job = defs.resolve_job_def("fastio_retention")
            config = job.graph.node_defs[0].config_schema.as_field().config_type.fields
            assert config["apply"].default_value is True
            assert config["partitions_older_than"].default_value == "90d"
            schedule = defs.resolve_schedule_def("fastio_retention_schedule")
            assert schedule.cron_schedule == "0 3 * * *"
            assert schedule.execution_timezone == "UTC"
    assert FastIOManagerComponent().retention is None
