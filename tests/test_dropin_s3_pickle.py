"""dagster-aws's tests of S3PickleIOManager (dagster_aws_tests/s3_tests/test_io_manager.py),
rewritten to run against FastIOManager on s3s-fs, with S3PickleIOManager on the same server as
the control.

``manager_kind`` is overridden here: "fast" is ``FastIOManager(base_path="s3://<bucket>/<prefix>",
storage_options=...)`` and "s3_pickle" is ``S3PickleIOManager`` with an ``S3Resource`` pointing
at the server. Both store assets at ``<prefix>/<asset key path>``; the object keys each test
expects are written out for each manager, since they differ in two ways:

- FastIOManager's keys carry a suffix (``.pickle.zst`` for these objects, ``.arrow`` for tables);
- S3PickleIOManager puts op outputs under ``<prefix>/storage/<run_id>/...`` and rewrites a
  mapped step key's brackets (``return_value[foo]`` as ``return_value--foo``); FastIOManager
  follows UPathIOManager's ``<prefix>/<run_id>/<step_key>/<output>``.

Left out of dagster-aws's file, with the reason:

- The ``s3_and_io_manager`` fixture runs each test with the function-style
  ``s3_pickle_io_manager`` and with ``S3PickleIOManager``: the control here is the latter only
  (the same ``PickledObjectS3IOManager`` underneath).
- ``test_pickled_object_s3_io_manager_none_and_empty_prefix`` and ``..._with_valid_prefix`` build
  ``PickledObjectS3IOManager`` (S3PickleIOManager's inner UPathIOManager subclass) directly and
  check its constructor and ``bucket`` attribute. FastIOManager has no such inner class; the
  behaviour they protect, storing with no prefix or with one, is tested through real runs in
  ``test_objects_go_under_the_prefix``.
"""

# No `from __future__ import annotations`: Dagster reads the annotations of the ops below.
import pickle
from typing import Any

import dagster as dg
import pytest
from dagster_aws.s3 import S3PickleIOManager, S3Resource
from servers import REGION, S3Server

from dagster_fastio import FastIOManager
from dagster_fastio.api import write_pickle

# Dagster's own setup of a resource that holds another (S3PickleIOManager's s3_resource) calls
# the deprecated InitResourceContext.dagster_run; nothing here calls it.
pytestmark = pytest.mark.filterwarnings(
    "ignore:InitResourceContext.dagster_run is deprecated:DeprecationWarning"
)


@pytest.fixture(params=["fast", "s3_pickle"])
def manager_kind(request: pytest.FixtureRequest) -> str:
    """FastIOManager on s3s-fs, or S3PickleIOManager (the control) on the same server."""
    return request.param


def _s3_resource(server: S3Server) -> S3Resource:
    return S3Resource(
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        max_attempts=5,
    )


def _manager(kind: str, server: S3Server, bucket: str, prefix: str = "dagster") -> Any:
    if kind == "fast":
        base = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        return FastIOManager(base_path=base, storage_options=server.options())
    return S3PickleIOManager(s3_resource=_s3_resource(server), s3_bucket=bucket, s3_prefix=prefix)


# ---------------------------------------------------------------------------------------------
# Op outputs.


def _inty_job(io_manager: Any) -> dg.JobDefinition:
    @dg.op(out=dg.Out(dg.Int))
    def return_one():
        return 1

    @dg.op(ins={"num": dg.In(dg.Int)}, out=dg.Out(dg.Int))
    def add_one(num):
        return num + 1

    @dg.job(resource_defs={"io_manager": io_manager})
    def basic_external_plan_execution():
        add_one(return_one())

    return basic_external_plan_execution


def test_op_outputs_with_the_manager_configured_at_launch(
    manager_kind: str, s3s_server: S3Server, s3s_bucket: str
) -> None:
    assert s3s_server.keys(s3s_bucket) == []
    if manager_kind == "fast":
        io_manager = FastIOManager.configure_at_launch()
        config = {
            "base_path": f"s3://{s3s_bucket}/dagster",
            "storage_options": s3s_server.options(),
        }
    else:
        io_manager = S3PickleIOManager.configure_at_launch(s3_resource=_s3_resource(s3s_server))
        config = {"s3_bucket": s3s_bucket}

    result = _inty_job(io_manager).execute_in_process(
        run_config={"resources": {"io_manager": {"config": config}}}
    )
    assert result.success
    assert result.output_for_node("return_one") == 1
    assert result.output_for_node("add_one") == 2

    run = result.run_id
    expected = {
        "fast": [
            f"dagster/{run}/add_one/result.pickle.zst",
            f"dagster/{run}/return_one/result.pickle.zst",
        ],
        "s3_pickle": [
            f"dagster/storage/{run}/add_one/result",
            f"dagster/storage/{run}/return_one/result",
        ],
    }[manager_kind]
    assert s3s_server.keys(s3s_bucket) == expected


def test_several_outputs_of_one_op(
    manager_kind: str, s3s_server: S3Server, s3s_bucket: str
) -> None:
    @dg.op(out={"foo": dg.Out(dg.Int), "foobar": dg.Out(dg.Int)})
    def return_two_outputs():
        yield dg.Output(10, "foobar")
        yield dg.Output(5, "foo")

    @dg.job(resource_defs={"io_manager": _manager(manager_kind, s3s_server, s3s_bucket)})
    def output_prefix_execution_plan():
        return_two_outputs()

    result = output_prefix_execution_plan.execute_in_process()
    assert result.output_for_node("return_two_outputs", "foo") == 5
    assert result.output_for_node("return_two_outputs", "foobar") == 10

    run = result.run_id
    expected = {
        "fast": [
            f"dagster/{run}/return_two_outputs/foo.pickle.zst",
            f"dagster/{run}/return_two_outputs/foobar.pickle.zst",
        ],
        "s3_pickle": [
            f"dagster/storage/{run}/return_two_outputs/foo",
            f"dagster/storage/{run}/return_two_outputs/foobar",
        ],
    }[manager_kind]
    assert s3s_server.keys(s3s_bucket) == expected


@pytest.mark.parametrize("prefix", ["", "my-prefix"])
def test_objects_go_under_the_prefix(
    manager_kind: str, s3s_server: S3Server, s3s_bucket: str, prefix: str
) -> None:
    @dg.asset
    def one():
        return 1

    @dg.asset
    def two(one):
        return one + 1

    result = dg.materialize(
        [one, two], resources={"io_manager": _manager(manager_kind, s3s_server, s3s_bucket, prefix)}
    )
    assert result.success
    assert result.output_for_node("two") == 2

    names = {"fast": ["one.pickle.zst", "two.pickle.zst"], "s3_pickle": ["one", "two"]}
    folder = f"{prefix}/" if prefix else ""
    assert s3s_server.keys(s3s_bucket) == [folder + name for name in names[manager_kind]]

    # Not in dagster-aws's file: where the materialization says the object is. UPathIOManager
    # reports the key as `path` and S3PickleIOManager adds the URI as `uri`; FastIOManager
    # reports the URI as both `path` and `dagster/uri`.
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["one"]]
    metadata = {name: value.value for name, value in event.materialization.metadata.items()}
    if manager_kind == "fast":
        uri = f"s3://{s3s_bucket}/{folder}one.pickle.zst"
        assert (metadata["path"], metadata["dagster/uri"]) == (uri, uri)
    else:
        assert metadata["path"] == f"{folder}one"
        assert metadata["uri"] == f"s3://{s3s_bucket}/{folder}one"


# ---------------------------------------------------------------------------------------------
# Assets.


def _assets_job(io_manager: Any) -> dg.JobDefinition:
    @dg.op
    def first_op(first_input):
        assert first_input == 4
        return first_input * 2

    @dg.op
    def second_op(second_input):
        assert second_input == 8
        return second_input + 3

    # dagster-aws's test declares a SourceAsset (deprecated now): an AssetSpec is the same.
    source1 = dg.AssetSpec("source1", partitions_def=dg.StaticPartitionsDefinition(["foo", "bar"]))

    @dg.asset
    def asset1(source1):
        return source1["foo"] + source1["bar"]

    @dg.asset
    def asset2(asset1):
        assert asset1 == 3
        return asset1 + 1

    @dg.graph(ins={"asset2": dg.GraphIn()}, out={"asset3": dg.GraphOut()})
    def graph_asset(asset2):
        return second_op(first_op(asset2))

    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["apple", "orange"]))
    def partitioned():
        return 8

    targets = [asset1, asset2, dg.AssetsDefinition.from_graph(graph_asset), partitioned]
    return dg.Definitions(
        assets=[*targets, source1],
        jobs=[dg.define_asset_job("assets", targets)],
        resources={"io_manager": io_manager},
    ).resolve_job_def("assets")


def test_assets_sources_graphs_and_partitions(
    manager_kind: str, s3s_server: S3Server, s3s_bucket: str
) -> None:
    assert s3s_server.keys(s3s_bucket) == []
    # The source's partitions, stored as each manager stores them (and would read them).
    if manager_kind == "fast":
        for key, value in (("foo", 1), ("bar", 2)):
            uri = f"s3://{s3s_bucket}/dagster/source1/{key}.pickle.zst"
            write_pickle(value, uri, storage_options=s3s_server.options())
    else:
        client = s3s_server.client()
        client.put_object(Bucket=s3s_bucket, Key="dagster/source1/foo", Body=pickle.dumps(1))
        client.put_object(Bucket=s3s_bucket, Key="dagster/source1/bar", Body=pickle.dumps(2))

    job_def = _assets_job(_manager(manager_kind, s3s_server, s3s_bucket))
    result = job_def.execute_in_process(partition_key="apple")
    assert result.success
    assert result.output_for_node("asset1") == 3
    assert result.output_for_node("asset2") == 4
    assert result.output_for_node("graph_asset.first_op") == 8
    assert result.output_for_node("graph_asset.second_op") == 11

    def expected_keys(*run_ids: str) -> list[str]:
        if manager_kind == "fast":
            keys = [
                "dagster/source1/foo.pickle.zst",
                "dagster/source1/bar.pickle.zst",
                "dagster/asset1.pickle.zst",
                "dagster/asset2.pickle.zst",
                "dagster/asset3.pickle.zst",
                "dagster/partitioned/apple.pickle.zst",
            ]
            keys += [f"dagster/{run}/graph_asset.first_op/result.pickle.zst" for run in run_ids]
        else:
            keys = [
                "dagster/source1/foo",
                "dagster/source1/bar",
                "dagster/asset1",
                "dagster/asset2",
                "dagster/asset3",
                "dagster/partitioned/apple",
            ]
            keys += [f"dagster/storage/{run}/graph_asset.first_op/result" for run in run_ids]
        return sorted(keys)

    assert s3s_server.keys(s3s_bucket) == expected_keys(result.run_id)

    # A second run overwrites the assets and adds its own op output.
    again = job_def.execute_in_process(partition_key="apple")
    assert again.success
    assert s3s_server.keys(s3s_bucket) == expected_keys(result.run_id, again.run_id)


# ---------------------------------------------------------------------------------------------
# Dynamic outputs.


def test_dynamic_outputs(manager_kind: str, s3s_server: S3Server, s3s_bucket: str) -> None:
    @dg.op(out=dg.DynamicOut())
    def dynamic_values():
        for key in ("foo", "bar"):
            yield dg.DynamicOutput(value=key, mapping_key=key)

    @dg.op
    def return_value(value):
        return value

    @dg.job(resource_defs={"io_manager": _manager(manager_kind, s3s_server, s3s_bucket)})
    def dynamic_job():
        dynamic_values().map(return_value)

    result = dynamic_job.execute_in_process()
    assert result.success
    assert result.output_for_node("return_value") == {"foo": "foo", "bar": "bar"}

    run = result.run_id
    expected = {
        "fast": [
            f"dagster/{run}/dynamic_values/result/bar.pickle.zst",
            f"dagster/{run}/dynamic_values/result/foo.pickle.zst",
            f"dagster/{run}/return_value[bar]/result.pickle.zst",
            f"dagster/{run}/return_value[foo]/result.pickle.zst",
        ],
        "s3_pickle": [
            f"dagster/storage/{run}/dynamic_values/result/bar",
            f"dagster/storage/{run}/dynamic_values/result/foo",
            f"dagster/storage/{run}/return_value--bar/result",
            f"dagster/storage/{run}/return_value--foo/result",
        ],
    }[manager_kind]
    assert s3s_server.keys(s3s_bucket) == expected
