"""Dagster's tests of I/O managers (``storage_tests/test_io_manager.py``) that run
``fs_io_manager`` or ask what any storing manager must do, rewritten against the finished
managers: each test runs over FastIOManager and over FilesystemIOManager, the control.

Rewritten: ``test_result_output``, ``test_fs_io_manager_reexecution``, ``test_can_reexecute``,
``test_reexecute_subset_of_subset``, ``test_reexecute_subset_of_subset_with_composite``,
``test_fan_in`` and ``test_fan_in_skip``.

Left out, because they test Dagster's I/O-manager machinery with managers they define
themselves (or with ``mem_io_manager``), not a storing manager: ``test_io_manager_with_config``,
``test_io_manager_with_optional_config``, ``test_io_manager_with_required_resource_keys``,
``test_multi_materialization``, ``test_different_io_managers``, ``test_configured``,
``test_mem_io_manager_execution``, ``test_io_manager_resources_on_context``,
``test_mem_io_managers_result_for_op``, ``test_hardcoded_io_manager``,
``test_get_output_context_with_resources``, ``test_error_boundary_with_gen``,
``test_handle_output_exception_raised``, ``test_output_identifier_dynamic_memoization``,
``test_asset_key``, ``test_partition_key``, ``test_context_logging_user_events``,
``test_context_logging_metadata``,
``test_context_logging_metadata_add_output_metadata_called_twice``,
``test_metadata_dynamic_outputs``, ``test_nothing_output_nothing_input``,
``test_nothing_output_something_input``, ``test_instance_set_on_input_context``,
``test_instance_set_on_asset_loader``, ``test_telemetry_custom_io_manager`` and
``test_telemetry_dagster_io_manager``. ``test_step_subset_with_custom_paths`` runs
``custom_path_fs_io_manager``, whose paths come from output metadata: neither manager here
replaces it.
"""

# No `from __future__ import annotations`: Dagster reads the annotations of the op functions
# below when they are defined.
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.execution.api import create_execution_plan

from dagster_fastio import FastIOManager
from dagster_fastio.layout import PICKLE_SUFFIX

MakeIOManager = Callable[..., Any]


# ---------------------------------------------------------------------------------------------
# Jobs that `execute_job` rebuilds from this module (`dg.reconstructable`): module-level
# functions, one per manager, the base folder given at launch as a user of each would give it.


def launch_config(kind: str, base: Path, **more: Any) -> dict[str, Any]:
    """Run config putting the manager's base folder under ``base``."""
    if kind == "filesystem":
        manager_config = {"base_dir": str(base)}  # FilesystemIOManager's name for it
    else:
        assert kind == "fast"
        manager_config = {"base_path": str(base)}
    return {"resources": {"io_manager": {"config": manager_config}}, **more}


def _launched_manager(kind: str) -> Any:
    if kind == "filesystem":
        return dg.FilesystemIOManager.configure_at_launch()
    return FastIOManager.configure_at_launch()


def _two_op_job(io_manager: Any) -> dg.JobDefinition:
    @dg.op
    def op_a():
        return [1, 2, 3]

    @dg.op
    def op_b(_list):
        return 1

    @dg.job(resource_defs={"io_manager": io_manager}, executor_def=dg.in_process_executor)
    def two_ops():
        op_b(op_a())

    return two_ops


def two_op_job_fast() -> dg.JobDefinition:
    return _two_op_job(_launched_manager("fast"))


def two_op_job_filesystem() -> dg.JobDefinition:
    return _two_op_job(_launched_manager("filesystem"))


def _can_fail_job(io_manager: Any) -> dg.JobDefinition:
    @dg.op
    def one():
        return 1

    @dg.op(config_schema={"should_fail": bool})
    def plus_two(context: dg.OpExecutionContext, i):
        if context.op_config["should_fail"]:
            raise Exception("plus_two was told to fail")
        return i + 2

    @dg.op
    def plus_three(i):
        return i + 3

    @dg.job(resource_defs={"io_manager": io_manager}, executor_def=dg.in_process_executor)
    def can_fail():
        plus_three(plus_two(one()))

    return can_fail


def can_fail_job_fast() -> dg.JobDefinition:
    return _can_fail_job(_launched_manager("fast"))


def can_fail_job_filesystem() -> dg.JobDefinition:
    return _can_fail_job(_launched_manager("filesystem"))


def _graph_job(io_manager: Any) -> dg.JobDefinition:
    @dg.op
    def one():
        return 1

    @dg.op
    def plus_two(i):
        return i + 2

    @dg.graph
    def one_plus_two():
        return plus_two(one())

    @dg.op
    def plus_three(i):
        return i + 3

    @dg.job(resource_defs={"io_manager": io_manager}, executor_def=dg.in_process_executor)
    def with_graph():
        plus_three(one_plus_two())

    return with_graph


def graph_job_fast() -> dg.JobDefinition:
    return _graph_job(_launched_manager("fast"))


def graph_job_filesystem() -> dg.JobDefinition:
    return _graph_job(_launched_manager("filesystem"))


JOBS = {
    "two_ops": {"fast": two_op_job_fast, "filesystem": two_op_job_filesystem},
    "can_fail": {"fast": can_fail_job_fast, "filesystem": can_fail_job_filesystem},
    "graph": {"fast": graph_job_fast, "filesystem": graph_job_filesystem},
}


def reconstructable_job(name: str, kind: str) -> Any:
    return dg.reconstructable(JOBS[name][kind])


def op_output_file(kind: str, base: Path, run_id: str, step_key: str) -> Path:
    """Where each manager keeps a step's pickled ``result``: ``<base>/<run>/<step>/result``,
    with FastIOManager's pickle suffix."""
    bare = base / run_id / step_key / "result"
    if kind == "filesystem":
        return bare
    assert kind == "fast"
    return bare.with_name("result" + PICKLE_SUFFIX)


# ---------------------------------------------------------------------------------------------
# Outputs of a run.


def test_op_outputs_load_from_the_result(make_io_manager: MakeIOManager, tmp_path: Path) -> None:
    result = _two_op_job(make_io_manager(tmp_path)).execute_in_process()
    assert result.success
    # The result loads each output back through the manager.
    assert result.output_for_node("op_a") == [1, 2, 3]
    assert result.output_for_node("op_b") == 1


def test_the_plan_persists_outputs(make_io_manager: MakeIOManager, tmp_path: Path) -> None:
    # What lets Dagster offer re-execution from a step: outputs outlive the run.
    plan = create_execution_plan(_two_op_job(make_io_manager(tmp_path)))
    assert plan.artifacts_persisted


# ---------------------------------------------------------------------------------------------
# Re-execution: a later run loads what the parent run stored.


def test_reexecution_of_a_step_loads_the_parent_runs_output(
    manager_kind: str, tmp_path: Path
) -> None:
    base = tmp_path / "base"
    with dg.instance_for_test() as instance:
        with dg.execute_job(
            reconstructable_job("two_ops", manager_kind),
            instance,
            run_config=launch_config(manager_kind, base),
        ) as result:
            assert result.success
            parent_run_id = result.run_id
        assert op_output_file(manager_kind, base, parent_run_id, "op_a").is_file()
        with dg.execute_job(
            reconstructable_job("two_ops", manager_kind),
            instance,
            run_config=launch_config(manager_kind, base),
            reexecution_options=dg.ReexecutionOptions(
                parent_run_id=parent_run_id, step_selection=["op_b"]
            ),
        ) as re_result:
            assert re_result.success
            loaded = re_result.filter_events(lambda event: event.is_loaded_input)
            assert len(loaded) == 1
            assert loaded[0].event_specific_data.upstream_step_key == "op_a"
            succeeded = re_result.filter_events(lambda event: event.is_step_success)
            assert [event.step_key for event in succeeded] == ["op_b"]
            assert re_result.output_for_node("op_b") == 1


def test_reexecution_from_failure_then_of_a_subset_of_that_subset(
    manager_kind: str, tmp_path: Path
) -> None:
    base = tmp_path / "base"

    def config(should_fail: bool) -> dict[str, Any]:
        ops = {"ops": {"plus_two": {"config": {"should_fail": should_fail}}}}
        return launch_config(manager_kind, base, **ops)

    job = reconstructable_job("can_fail", manager_kind)
    with dg.instance_for_test() as instance:
        with dg.execute_job(job, instance, run_config=config(True)) as result:
            assert not result.success
            failed_run_id = result.run_id

        with dg.execute_job(
            job,
            instance,
            run_config=config(False),
            reexecution_options=dg.ReexecutionOptions.from_failure(failed_run_id, instance),
        ) as first:
            assert first.success
            assert first.output_for_node("plus_two") == 3
            parent_run_id = first.run_id

        # Twice more, each from the previous re-execution, whose `one` output it never stored.
        for _ in range(2):
            with dg.execute_job(
                job,
                instance,
                run_config=config(False),
                reexecution_options=dg.ReexecutionOptions(
                    parent_run_id, step_selection=["plus_two*"]
                ),
            ) as again:
                assert again.success
                assert again.output_for_node("plus_two") == 3
                assert again.output_for_node("plus_three") == 6
                parent_run_id = again.run_id


def test_reexecution_of_a_step_after_a_graph(manager_kind: str, tmp_path: Path) -> None:
    base = tmp_path / "base"
    job = reconstructable_job("graph", manager_kind)
    with dg.instance_for_test() as instance:
        with dg.execute_job(job, instance, run_config=launch_config(manager_kind, base)) as result:
            assert result.success
            parent_run_id = result.run_id

        # Three times from the same parent: the graph's output is read from its run each time.
        for _ in range(3):
            with dg.execute_job(
                job,
                instance,
                run_config=launch_config(manager_kind, base),
                reexecution_options=dg.ReexecutionOptions(
                    parent_run_id, step_selection=["plus_three"]
                ),
            ) as again:
                assert again.success
                assert again.output_for_node("plus_three") == 6


# ---------------------------------------------------------------------------------------------
# Fan-in.


def test_fan_in_loads_a_list_of_outputs(make_io_manager: MakeIOManager, tmp_path: Path) -> None:
    received: list[Any] = []

    @dg.op
    def input_op1():
        return 1

    @dg.op
    def input_op2():
        return 2

    @dg.op
    def op1(input1):
        received.append(input1)

    @dg.job(resource_defs={"io_manager": make_io_manager(tmp_path)})
    def fan_in():
        op1(input1=[input_op1(), input_op2()])

    assert fan_in.execute_in_process().success
    assert received == [[1, 2]]


def test_fan_in_leaves_out_an_output_not_yielded(
    make_io_manager: MakeIOManager, tmp_path: Path
) -> None:
    received: list[Any] = []

    @dg.op(out={"skip": dg.Out(is_required=False)})
    def skip():
        return
        yield

    @dg.op
    def one():
        return 1

    @dg.op
    def receiver(input1):
        received.append(input1)

    @dg.job(resource_defs={"io_manager": make_io_manager(tmp_path)})
    def fan_in_with_skip():
        receiver(input1=[one(), skip()])

    assert fan_in_with_skip.execute_in_process().success
    assert received == [[1]]
