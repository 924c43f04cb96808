"""`fastio clean --partitions-not-in` (issue 25, retention): the stored partitions a code
location's definitions no longer cover, listed by a dry run and removed by --apply, on a local
disk, on S3 (s3s-fs) and in memory://; what is never a candidate stays whatever is asked.

Assets are materialized by FastIOManager under one definition of their partitions, then the
command is given a changed definition, as a user's code changes between deployments.
"""

from __future__ import annotations

import datetime
import itertools
import json
import textwrap
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
from click.testing import CliRunner
from servers import S3Server

from dagster_fastio import FastIOManager, api
from dagster_fastio.cli import main
from dagster_fastio.cli.common import size_text
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.retention import AssetScope, parse_age, removable, remove

DAILY_START = "2020-01-01"
OLD_DAYS = ["2020-01-01", "2020-01-02"]


def recent_day() -> str:
    """A day a few days ago: inside any daily definition starting in 2020, never 90 days old."""
    return (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)).strftime(
        "%Y-%m-%d"
    )


def _value(context) -> pa.Table:  # type: ignore[no-untyped-def]  # (annotations are strings here)
    key = context.partition_key if context.has_partition_key else "-"
    return pa.table({"key": [key]})


def stored_definitions() -> list[dg.AssetsDefinition]:
    """The definitions the files were written under."""
    days = dg.DailyPartitionsDefinition(start_date=DAILY_START)
    return [
        dg.asset(name="letters", partitions_def=dg.StaticPartitionsDefinition(list("abc")))(_value),
        dg.asset(name="days", partitions_def=days)(_value),
        dg.asset(name="flat")(_value),
        dg.asset(name="was_split", partitions_def=dg.StaticPartitionsDefinition(["x", "y"]))(
            _value
        ),
        dg.asset(name="untouched")(_value),
    ]


# The definitions after the change: "c" is gone, days start a day later, "flat" is partitioned
# now and "was_split" is not.
CHANGED = textwrap.dedent("""
    import dagster as dg
    import pyarrow as pa

    def value(context) -> pa.Table:
        return pa.table({"key": [context.partition_key if context.has_partition_key else "-"]})

    letters = dg.asset(name="letters", partitions_def=dg.StaticPartitionsDefinition(["a", "b"]))(
        value
    )
    days = dg.asset(
        name="days", partitions_def=dg.DailyPartitionsDefinition(start_date="2020-01-02")
    )(value)
    flat = dg.asset(name="flat", partitions_def=dg.StaticPartitionsDefinition(["p"]))(value)
    was_split = dg.asset(name="was_split")(value)
    untouched = dg.asset(name="untouched")(value)

    @dg.asset(ins={"letters": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def every_letter(letters: pa.Table) -> pa.Table:
        return letters

    defs = dg.Definitions(assets=[letters, days, flat, was_split, untouched, every_letter])
""")

_names = itertools.count()


def write_definitions(folder: Path, source: str = CHANGED) -> str:
    # A new file name each time: Dagster loads a definitions file as a module of its name.
    path = folder / f"changed_definitions_{next(_names)}.py"
    path.write_text(source)
    return str(path)


def materialize_stored(manager: FastIOManager) -> None:
    assets = stored_definitions()
    resources = {"io_manager": manager}
    by_name = {a.key.to_user_string(): a for a in assets}
    for key in "abc":
        dg.materialize([by_name["letters"]], partition_key=key, resources=resources)
    for key in [*OLD_DAYS, recent_day()]:
        dg.materialize([by_name["days"]], partition_key=key, resources=resources)
    for key in "xy":
        dg.materialize([by_name["was_split"]], partition_key=key, resources=resources)
    dg.materialize([by_name["flat"], by_name["untouched"]], resources=resources)


def cli(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    return result


def listed(base: str, options: dict[str, str] | None) -> dict[str, int]:
    return {entry.uri: entry.size for entry in api.list_objects(base, options)}


# ---------------------------------------------------------------------------------------------
# Every store: a dry run lists, --apply removes exactly what it listed.


@pytest.fixture(params=["local", "s3", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str] | None]:
    """A base and its storage options on one kind of store."""
    if request.param == "local":
        return str(tmp_path / "base"), None
    if request.param == "memory":
        return f"memory:///retention-{next(_names)}", None
    server: S3Server = request.getfixturevalue("s3s_server")
    bucket = request.getfixturevalue("s3s_bucket")
    return f"s3://{bucket}/base", server.options()


def option_args(options: dict[str, str] | None) -> list[str]:
    return [arg for key, value in (options or {}).items() for arg in ("-o", f"{key}={value}")]


def test_a_dry_run_lists_what_the_definitions_no_longer_cover_and_apply_removes_only_that(
    store: tuple[str, dict[str, str] | None], tmp_path: Path
) -> None:
    base, options = store
    manager = FastIOManager(base_path=base, storage_options=options or {})
    materialize_stored(manager)
    before = listed(base, options)
    definitions = write_definitions(tmp_path)
    command = ["clean", base, "--partitions-not-in", definitions, *option_args(options)]
    args = [*command, "--json"]

    dry = cli(*args)
    assert dry.exit_code == 0, dry.output
    found = [json.loads(line) for line in dry.output.splitlines()]
    assert listed(base, options) == before  # a dry run removes nothing
    expected = {
        (f"{base}/letters/c.arrow", "letters", "c", "not_in_definition"),
        (f"{base}/days/2020-01-01.arrow", "days", "2020-01-01", "not_in_definition"),
        (f"{base}/flat.arrow", "flat", None, "now_partitioned"),
        (f"{base}/was_split/x.arrow", "was_split", "x", "now_unpartitioned"),
        (f"{base}/was_split/y.arrow", "was_split", "y", "now_unpartitioned"),
    }
    assert {(f["uri"], f["asset"], f["partition"], f["reason"]) for f in found} == expected
    assert all(f["size"] == before[f["uri"]] and not f["removed"] for f in found)

    table = cli(*command)
    assert table.exit_code == 0, table.output
    total = sum(f["size"] for f in found)
    assert "5 file(s) of 4 asset(s)" in table.output
    assert "would be removed (dry run: add --apply)" in table.output
    assert size_text(total) in table.output

    applied = cli(*args, "--apply")
    assert applied.exit_code == 0, applied.output
    assert all(json.loads(line)["removed"] for line in applied.output.splitlines())
    after = listed(base, options)
    assert set(after) == set(before) - {uri for uri, *_ in expected}
    # What the definitions still hold loads as before: the kept letters, through a downstream
    # asset of the changed definitions.
    namespace: dict[str, Any] = {}
    exec(CHANGED, namespace)
    result = dg.materialize(
        [namespace["letters"], namespace["every_letter"]],
        selection=[namespace["every_letter"]],
        resources={"io_manager": manager},
    )
    loaded = result.output_for_node("every_letter")
    assert sorted(loaded.column("key").to_pylist()) == ["a", "b"]
    again = cli(*args)
    assert again.exit_code == 0 and again.output == ""  # nothing left to remove


def test_partitions_older_than_removes_time_windows_past_the_age_and_nothing_else(
    tmp_path: Path,
) -> None:
    base = str(tmp_path / "base")
    materialize_stored(FastIOManager(base_path=base))
    definitions = write_definitions(tmp_path)
    result = cli(
        "clean", base, "--partitions-not-in", definitions, "--partitions-older-than", "90d",
        "--json", "--apply",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = {
        (f["asset"], f["partition"], f["reason"])
        for f in map(json.loads, result.output.splitlines())
    }
    assert ("days", "2020-01-02", "older_than") in found  # in the definition, and old
    assert ("days", "2020-01-01", "not_in_definition") in found
    assert not any(partition == recent_day() for _, partition, _ in found)
    # Static partitions have no age.
    assert ("letters", "c", "not_in_definition") in found
    assert not any(a == "letters" and r == "older_than" for a, _, r in found)
    assert (tmp_path / "base" / "days" / f"{recent_day()}.arrow").is_file()
    assert not (tmp_path / "base" / "days" / "2020-01-02.arrow").exists()


# ---------------------------------------------------------------------------------------------
# Never candidates.


def test_files_this_package_did_not_write_and_other_assets_files_stay(tmp_path: Path) -> None:
    base = tmp_path / "base"
    manager = FastIOManager(base_path=str(base))
    letters = stored_definitions()[0]
    dg.materialize([letters], partition_key="c", resources={"io_manager": manager})
    # A replaced manager's pickle, a dead write's temporary file, a user's file, all in the
    # asset's folder under names that are not partitions of the changed definition.
    foreign = {
        "letters/z": b"\x80\x05N.",
        "letters/.z.arrow.0.tmp": b"partial",
        "letters/notes.txt": b"mine",
    }
    for name, data in foreign.items():
        (base / name).write_bytes(data)
    # Asset keys nest: "letters/nested" is another asset, whose files are in letters' folder.
    source = CHANGED.replace(
        "defs = dg.Definitions(assets=[",
        'nested = dg.asset(key=["letters", "nested"])(value)\n'
        'grouped = dg.asset(key=["letters", "grouped"], '
        'partitions_def=dg.StaticPartitionsDefinition(["k"]))(value)\n'
        "defs = dg.Definitions(assets=[nested, grouped, ",
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    dg.materialize([namespace["nested"]], resources={"io_manager": manager})
    dg.materialize([namespace["grouped"]], partition_key="k", resources={"io_manager": manager})
    # An op output and a file of an asset no definition names.
    (base / "some-run-id" / "step").mkdir(parents=True)
    (base / "some-run-id" / "step" / "result.arrow").write_bytes(b"x")
    (base / "gone_asset").mkdir()
    (base / "gone_asset" / "p.arrow").write_bytes(b"x")

    result = cli("clean", str(base), "--partitions-not-in", write_definitions(tmp_path, source),
                 "--json", "--apply")  # fmt: skip
    assert result.exit_code == 0, result.output
    removed = [json.loads(line)["uri"] for line in result.output.splitlines()]
    assert removed == [str(base / "letters" / "c.arrow")]
    for name, data in foreign.items():
        assert (base / name).read_bytes() == data
    assert (base / "letters" / "nested.arrow").is_file()
    assert (base / "letters" / "grouped" / "k.arrow").is_file()
    assert (base / "some-run-id" / "step" / "result.arrow").is_file()
    assert (base / "gone_asset" / "p.arrow").is_file()


def test_a_time_window_after_the_last_listed_one_is_kept(tmp_path: Path) -> None:
    # A run with an end offset (or a clock ahead of this one) wrote tomorrow's partition: the
    # definition will hold it, so it is not "no longer defined".
    base = tmp_path / "base"
    ahead = dg.DailyPartitionsDefinition(start_date=DAILY_START, end_offset=3)
    asset = dg.asset(name="days", partitions_def=ahead)(_value)
    future = ahead.get_last_partition_key()
    before_start = "2019-12-31"
    for key in [future]:
        dg.materialize(
            [asset], partition_key=key, resources={"io_manager": FastIOManager(base_path=str(base))}
        )
    (base / "days" / f"{before_start}.arrow").write_bytes(
        (base / "days" / f"{future}.arrow").read_bytes()
    )
    (base / "days" / "not-a-date.arrow").write_bytes(b"x")
    result = cli("clean", str(base), "--partitions-not-in", write_definitions(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    found = {json.loads(line)["partition"] for line in result.output.splitlines()}
    assert found == {before_start, "not-a-date"}


def test_multi_partitions_by_key_and_by_age(tmp_path: Path) -> None:
    base = tmp_path / "base"
    days = dg.DailyPartitionsDefinition(start_date=DAILY_START)
    stored = dg.MultiPartitionsDefinition(
        {"day": days, "color": dg.StaticPartitionsDefinition(["red", "blue"])}
    )
    asset = dg.asset(name="grid", partitions_def=stored)(_value)
    manager = FastIOManager(base_path=str(base))
    for color, day in [("red", OLD_DAYS[0]), ("blue", OLD_DAYS[0]), ("red", recent_day())]:
        key = dg.MultiPartitionKey({"day": day, "color": color})
        dg.materialize([asset], partition_key=key, resources={"io_manager": manager})
    source = textwrap.dedent(f"""
        import dagster as dg
        grid = dg.asset(name="grid", partitions_def=dg.MultiPartitionsDefinition({{
            "day": dg.DailyPartitionsDefinition(start_date="{DAILY_START}"),
            "color": dg.StaticPartitionsDefinition(["red"]),
        }}))(lambda: None)
        defs = dg.Definitions(assets=[grid])
    """)
    result = cli("clean", str(base), "--partitions-not-in", write_definitions(tmp_path, source),
                 "--partitions-older-than", "30d", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    found = {(f["partition"], f["reason"]) for f in map(json.loads, result.output.splitlines())}
    # Folders: one per dimension, dimensions sorted by name (color, then day).
    assert found == {
        (f"blue/{OLD_DAYS[0]}", "not_in_definition"),
        (f"red|{OLD_DAYS[0]}", "older_than"),
    }


def test_dynamic_partitions_are_listed_from_dagster_home_or_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "base"
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    dynamic = dg.DynamicPartitionsDefinition(name="customers")
    asset = dg.asset(name="customers", partitions_def=dynamic)(_value)
    source = textwrap.dedent("""
        import dagster as dg
        customers = dg.asset(
            name="customers", partitions_def=dg.DynamicPartitionsDefinition(name="customers")
        )(lambda: None)
        defs = dg.Definitions(assets=[customers])
    """)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("customers", ["ann", "bob"])
        resources = {"io_manager": FastIOManager(base_path=str(base))}
        for key in ["ann", "bob"]:
            dg.materialize([asset], partition_key=key, instance=instance, resources=resources)
        instance.delete_dynamic_partition("customers", "bob")
    definitions = write_definitions(tmp_path, source)
    result = cli("clean", str(base), "--partitions-not-in", definitions, "--json")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["partition"] for line in result.output.splitlines()] == ["bob"]

    monkeypatch.delenv("DAGSTER_HOME")
    result = cli("clean", str(base), "--partitions-not-in", definitions)
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "customers" in result.output
    assert "0 file(s)" in result.output
    assert sorted(p.name for p in (base / "customers").iterdir()) == ["ann.arrow", "bob.arrow"]


# ---------------------------------------------------------------------------------------------
# The options.


def test_older_than_is_refused_with_partitions_and_the_age_needs_definitions(
    tmp_path: Path,
) -> None:
    definitions = write_definitions(tmp_path)
    result = cli("clean", str(tmp_path), "--partitions-not-in", definitions, "--older-than", "90d")
    assert result.exit_code == 2
    assert "--older-than is the age of leftovers" in result.output
    assert "--partitions-older-than" in result.output
    result = cli("clean", str(tmp_path), "--partitions-older-than", "90d")
    assert result.exit_code == 2 and "--partitions-not-in MODULE" in result.output
    result = cli("clean", str(tmp_path), "--partitions-not-in", definitions,
                 "--partitions-older-than", "ninety days")  # fmt: skip
    assert result.exit_code == 2 and "like 90d" in result.output
    result = cli("clean", str(tmp_path), "--partitions-not-in", str(tmp_path / "missing.py"))
    assert result.exit_code == 1 and "Error" in result.output


def test_parse_age() -> None:
    assert parse_age("90d") == 90 * 86400
    assert parse_age("12h") == 12 * 3600
    assert parse_age("2w") == 14 * 86400
    assert parse_age("30min") == 1800
    for bad in ["", "d", "5y", "-1d"]:
        with pytest.raises(ValueError):
            parse_age(bad)


# ---------------------------------------------------------------------------------------------
# The stored layer alone (no Dagster): scopes given by hand.


def test_removable_without_dagster_and_remove_prunes_emptied_folders(tmp_path: Path) -> None:
    base = Location.base(str(tmp_path))
    stem = base.stem(["asset"])
    for relative in ["asset/keep.arrow", "asset/old/deep.parquet", "asset/gone.pickle.zst",
                     "asset/appended.parts/0001.arrow"]:  # fmt: skip
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"data")
    scope = AssetScope("asset", stem, stem.partitions(["keep"]))
    found = removable([scope])
    assert sorted((item.partition, item.reason) for item in found) == [
        ("appended", "not_in_definition"),
        ("gone", "not_in_definition"),
        ("old/deep", "not_in_definition"),
    ]
    assert all(item.size == 4 for item in found)
    remove(found)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "asset",
        "asset/keep.arrow",
    ]
    # An asset that only protects (candidate=False) is never listed.
    assert removable([AssetScope("asset", stem, {}, candidate=False)]) == []


def test_a_removed_partition_still_shows_as_materialized_and_its_load_says_so(
    tmp_path: Path,
) -> None:
    # Dagster issue 14749: the storages of Dagster 1.13 cannot wipe one partition, so the event
    # log keeps what retention removed; a load of it fails with a message, not a wrong value.
    base = tmp_path / "base"
    manager = FastIOManager(base_path=str(base))
    letters = stored_definitions()[0]
    namespace: dict[str, Any] = {}
    exec(CHANGED.replace('["a", "b"]', '["a", "b", "c"]'), namespace)
    with dg.instance_for_test() as instance:
        with pytest.raises(NotImplementedError):
            instance.wipe_asset_partitions(dg.AssetKey("letters"), ["c"])
        for key in "abc":
            dg.materialize([letters], partition_key=key, resources={"io_manager": manager},
                           instance=instance)  # fmt: skip
        result = cli("clean", str(base), "--partitions-not-in", write_definitions(tmp_path),
                     "--apply")  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "c" in instance.get_materialized_partitions(dg.AssetKey("letters"))
        # The definition holds "c" again: its load fails, saying what is missing.
        failed = dg.materialize(
            [namespace["letters"], namespace["every_letter"]],
            selection=[namespace["every_letter"]],
            resources={"io_manager": manager},
            instance=instance,
            raise_on_error=False,
        )
    assert not failed.success
    error = str(next(e for e in failed.all_events if e.is_step_failure).event_specific_data.error)
    assert f"nothing stored at {base / 'letters' / 'c.arrow'}" in error


def test_the_command_imports_dagster_only_in_the_partitions_mode(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = textwrap.dedent(f"""
        import sys
        from click.testing import CliRunner
        from dagster_fastio.cli import main
        result = CliRunner().invoke(main, ["clean", {str(tmp_path)!r}])
        assert result.exit_code == 0, result.output
        assert "dagster" not in sys.modules
        CliRunner().invoke(main, ["clean", {str(tmp_path)!r}, "--partitions-not-in", "x.py"])
        assert "dagster" in sys.modules
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_assets_left_out_of_the_candidates_keep_their_files(tmp_path: Path) -> None:
    from dagster_fastio.io_manager.retention import plan_for

    base = str(tmp_path / "base")
    materialize_stored(FastIOManager(base_path=base))
    namespace: dict[str, Any] = {}
    exec(CHANGED, namespace)
    graph = namespace["defs"].resolve_asset_graph()
    plan = plan_for(graph, Location.base(base), asset_keys=[dg.AssetKey("letters")])
    assert [(item.asset, item.partition) for item in removable(plan.scopes)] == [("letters", "c")]
    everything = plan_for(graph, Location.base(base))
    assert {item.asset for item in removable(everything.scopes)} == {
        "letters",
        "days",
        "flat",
        "was_split",
    }
