"""An asset flipped from partitioned to unpartitioned and back (issue 25, retention; dagster
issue 33614): FastIOManager stores either way without manual cleanup, on a local disk and on
S3, and loses nothing a load still returns: each direction's old files stay until `fastio clean
--partitions-not-in` removes them, and a flip back loads the value Dagster recorded last.
FilesystemIOManager is the control where the issue applies (a local disk): it fails on the
first direction and deletes the old value on the second.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from servers import S3Server

from dagster_fastio import FastIOManager, api
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.retention import AssetScope, removable

STATIC = dg.StaticPartitionsDefinition(["a", "b"])
_bases = itertools.count()


def frame(value: str) -> pd.DataFrame:
    return pd.DataFrame({"v": [value]})


@dg.asset(name="x", partitions_def=STATIC)
def x_partitioned(context) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return frame(f"{context.partition_key}-{seen.get('version', 1)}")


@dg.asset(name="x")
def x_unpartitioned() -> pd.DataFrame:
    return frame(f"flat-{seen.get('version', 1)}")


@dg.asset(name="whole", ins={"x": dg.AssetIn("x")})
def whole(x: pd.DataFrame) -> pd.DataFrame:
    seen["whole"] = x
    return x


@dg.asset(name="each", partitions_def=STATIC, ins={"x": dg.AssetIn("x")})
def each(x: pd.DataFrame) -> pd.DataFrame:
    seen["each"] = x
    return x


seen: dict[str, Any] = {}


def run(assets: list[Any], manager: Any, *, selection: Any = None, partition_key: str | None = None,
        raise_on_error: bool = True) -> dg.ExecuteInProcessResult:  # fmt: skip
    return dg.materialize(
        assets,
        selection=selection,
        partition_key=partition_key,
        resources={"io_manager": manager},
        raise_on_error=raise_on_error,
    )


def load_whole(manager: Any, x: Any) -> pd.DataFrame:
    """What an unpartitioned downstream asset loads of x, x not materialized in the run."""
    run([x, whole], manager, selection=[whole])
    return seen.pop("whole")


def load_each(manager: Any, x: Any, key: str) -> pd.DataFrame:
    run([x, each], manager, selection=[each], partition_key=key)
    return seen.pop("each")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    if request.param == "local":
        return str(tmp_path / "base"), {}
    server: S3Server = request.getfixturevalue("s3s_server")
    bucket = request.getfixturevalue("s3s_bucket")
    return f"s3://{bucket}/base{next(_bases)}", server.options()


def stored(base: str, options: dict[str, str]) -> list[str]:
    return [entry.uri.removeprefix(base + "/") for entry in api.list_objects(base, options or None)]


def leftovers(base: str, options: dict[str, str], partitioned: bool) -> set[tuple[str | None, str]]:
    """What retention lists for x under the definition in force."""
    stem = Location.base(base).stem(["x"])
    scope = AssetScope("x", stem, stem.partitions(["a", "b"]) if partitioned else None)
    return {(item.partition, item.reason) for item in removable([scope], options or None)}


def test_partitioned_to_unpartitioned_and_back(store: tuple[str, dict[str, str]]) -> None:
    base, options = store
    manager = FastIOManager(base_path=base, storage_options=options)
    seen["version"] = 1
    for key in "ab":
        run([x_partitioned], manager, partition_key=key)
    # Dagster issue 33614: the folder of the partitions is where FilesystemIOManager's file of
    # the unpartitioned asset would go. FastIOManager's file has a suffix: no clash.
    run([x_unpartitioned], manager)
    assert stored(base, options) == ["x.arrow", "x/a.arrow", "x/b.arrow"]
    pd.testing.assert_frame_equal(load_whole(manager, x_unpartitioned), frame("flat-1"))
    # The partitions stay (nothing was deleted), listed by retention as the now unpartitioned
    # asset's.
    assert leftovers(base, options, partitioned=False) == {
        ("a", "now_unpartitioned"),
        ("b", "now_unpartitioned"),
    }
    # Back to partitions: partition a loads what Dagster recorded for it, before the flip.
    pd.testing.assert_frame_equal(load_each(manager, x_partitioned, "a"), frame("a-1"))
    assert leftovers(base, options, partitioned=True) == {(None, "now_partitioned")}
    seen["version"] = 2
    run([x_partitioned], manager, partition_key="a")
    pd.testing.assert_frame_equal(load_each(manager, x_partitioned, "a"), frame("a-2"))


def test_unpartitioned_to_partitioned_and_back(store: tuple[str, dict[str, str]]) -> None:
    base, options = store
    manager = FastIOManager(base_path=base, storage_options=options)
    seen["version"] = 1
    run([x_unpartitioned], manager)
    run([x_partitioned], manager, partition_key="a")
    assert stored(base, options) == ["x.arrow", "x/a.arrow"]
    pd.testing.assert_frame_equal(load_each(manager, x_partitioned, "a"), frame("a-1"))
    # Back: the unpartitioned asset loads its last materialization, which Dagster still shows.
    pd.testing.assert_frame_equal(load_whole(manager, x_unpartitioned), frame("flat-1"))
    seen["version"] = 2
    run([x_unpartitioned], manager)
    pd.testing.assert_frame_equal(load_whole(manager, x_unpartitioned), frame("flat-2"))


# ---------------------------------------------------------------------------------------------
# The control, FilesystemIOManager, on a local disk; and its files under FastIOManager.


# UPathIOManager warns of the removal with a deprecated logger method.
@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated")
def test_filesystem_io_manager_fails_the_first_direction_and_loses_the_value_in_the_second(
    tmp_path: Path,
) -> None:
    manager = dg.FilesystemIOManager(base_dir=str(tmp_path / "fs"))
    for key in "ab":
        run([x_partitioned], manager, partition_key=key)
    result = run([x_unpartitioned], manager, raise_on_error=False)
    assert not result.success  # dagster issue 33614
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    assert "IsADirectoryError" in str(failure.event_specific_data.error)

    other = dg.FilesystemIOManager(base_dir=str(tmp_path / "fs2"))
    run([x_unpartitioned], other)
    run([x_partitioned], other, partition_key="a")  # deletes the unpartitioned pickle
    assert not (tmp_path / "fs2" / "x").is_file()
    # Back to unpartitioned: the value Dagster shows as the last materialization is gone, and
    # the load trips over the partitions' folder.
    result = run([x_unpartitioned, whole], other, selection=[whole], raise_on_error=False)
    assert not result.success
    assert "IsADirectoryError" in str(
        next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    )


@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated")
def test_a_filesystem_io_manager_pickle_in_the_way_is_kept_as_this_packages_file(
    tmp_path: Path,
) -> None:
    base = tmp_path / "base"
    seen["version"] = 1
    run([x_unpartitioned], dg.FilesystemIOManager(base_dir=str(base)))
    assert (base / "x").is_file()
    fast = FastIOManager(base_path=str(base))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [x_partitioned], partition_key="a", resources={"io_manager": fast}, instance=instance
        )
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("its value is kept as" in message for message in messages)
    assert sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()) == [
        "x.pickle.zst",
        "x/a.arrow",
    ]
    # Back to unpartitioned: FilesystemIOManager's value loads, now from this package's file.
    pd.testing.assert_frame_equal(load_whole(fast, x_unpartitioned), frame("flat-1"))


def test_a_pickle_older_than_this_packages_file_is_removed_and_a_foreign_file_is_refused(
    tmp_path: Path,
) -> None:
    base = tmp_path / "base"
    fast = FastIOManager(base_path=str(base))
    seen["version"] = 1
    run([x_unpartitioned], dg.FilesystemIOManager(base_dir=str(base)))
    seen["version"] = 2
    run([x_unpartitioned], fast)  # removes the replaced pickle, as every write does
    assert not (base / "x").exists()
    # A pickle put back older than x.arrow (a copy restored from a backup, say): x.arrow is
    # what loads, so the pickle goes and x.arrow stays.
    (base / "x").write_bytes(b"\x80\x05N.")
    old = (base / "x.arrow").stat().st_mtime - 60
    os.utime(base / "x", (old, old))
    run([x_partitioned], fast, partition_key="a")
    assert (base / "x").is_dir() and not (base / "x.pickle.zst").exists()
    pd.testing.assert_frame_equal(load_whole(fast, x_unpartitioned), frame("flat-2"))
    # Not a pickle: not this package's to remove.
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_bytes(b"user data")
    result = run([x_partitioned], FastIOManager(base_path=str(other)), partition_key="a",
                 raise_on_error=False)  # fmt: skip
    assert not result.success
    assert "not a pickle a replaced I/O manager wrote" in str(
        next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    )
    assert (other / "x").read_bytes() == b"user data"
