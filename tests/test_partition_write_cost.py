"""A partition's write costs the same whatever its partitions definition holds.

The total ``dagster/row_count`` of a partitioned asset is the sum of every stored partition's
rows, read from their footers: it is reported only when the definition holds at most
``TOTAL_ROWS_MAX_PARTITIONS`` keys, so a write of one hourly partition of an asset that starts
years back asks the store for what a write of one partition of 24 asks. Requests are counted
through the fault proxy in front of s3s-fs.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from servers import FaultProxy, S3Server

from dagster_fastio import FastIOManager
from dagster_fastio.io_manager import TOTAL_ROWS_MAX_PARTITIONS

ROWS = 1_000


def partitioned_asset(partitions_def: dg.PartitionsDefinition, rows: int = ROWS) -> Any:
    @dg.asset(name="events", partitions_def=partitions_def)
    def events() -> pd.DataFrame:
        return pd.DataFrame({"n": range(rows)})

    return events


def row_metadata(result: dg.ExecuteInProcessResult) -> tuple[int | None, int]:
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    total = metadata.get("dagster/row_count")
    return (None if total is None else total.value), metadata["dagster/partition_row_count"].value


def definitions() -> dict[str, tuple[dg.PartitionsDefinition, list[str]]]:
    """Three definitions and the keys a dynamic one adds to the instance: 24 static keys,
    43,824 hourly keys (five years), 100,000 dynamic keys."""
    dynamic_keys = [f"tenant-{i}" for i in range(100_000)]
    return {
        "24 static": (dg.StaticPartitionsDefinition([f"k{i}" for i in range(24)]), []),
        "43,824 hourly": (
            dg.HourlyPartitionsDefinition(
                start_date="2021-01-01-00:00", end_date="2026-01-01-00:00"
            ),
            [],
        ),
        "100,000 dynamic": (dg.DynamicPartitionsDefinition(name="tenants"), dynamic_keys),
    }


def test_the_total_is_reported_up_to_the_limit_and_left_out_past_it(tmp_path: Path) -> None:
    small = dg.StaticPartitionsDefinition([f"k{i}" for i in range(TOTAL_ROWS_MAX_PARTITIONS)])
    large = dg.StaticPartitionsDefinition([f"k{i}" for i in range(TOTAL_ROWS_MAX_PARTITIONS + 1)])
    manager = FastIOManager(base_path=str(tmp_path / "small"))
    for index, key in enumerate(["k0", "k1", "k0"]):
        result = dg.materialize(
            [partitioned_asset(small, rows=10 + index)],
            partition_key=key,
            resources={"io_manager": manager},
        )
        # k0 rewritten with 12 rows replaces its 10: the total is of what is stored now.
        assert row_metadata(result) == ([10, 21, 23][index], 10 + index)
    result = dg.materialize(
        [partitioned_asset(large)],
        partition_key="k3",
        resources={"io_manager": FastIOManager(base_path=str(tmp_path / "large"))},
    )
    assert row_metadata(result) == (None, ROWS)
    result = dg.materialize(
        [partitioned_asset(small)],
        partition_key="k3",
        resources={
            "io_manager": FastIOManager(base_path=str(tmp_path / "off"), report_total_rows=False)
        },
    )
    assert row_metadata(result) == (None, ROWS)


def test_two_partitions_written_at_once_are_both_in_the_later_total(tmp_path: Path) -> None:
    """Each write reads the footers after its own file is in place, so whichever reads last
    counts both: the totals are exact for what was stored when each was read."""
    partitions_def = dg.StaticPartitionsDefinition(["a", "b"])
    both_ready = threading.Barrier(2)

    @dg.asset(name="events", partitions_def=partitions_def)
    def events(context) -> pd.DataFrame:  # type: ignore[no-untyped-def]
        both_ready.wait(timeout=30)
        return pd.DataFrame({"n": range(100 if context.partition_key == "a" else 7)})

    totals: dict[str, tuple[int | None, int]] = {}

    def run(key: str) -> None:
        result = dg.materialize(
            [events],
            partition_key=key,
            resources={"io_manager": FastIOManager(base_path=str(tmp_path))},
        )
        totals[key] = row_metadata(result)

    threads = [threading.Thread(target=run, args=(key,)) for key in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert totals["a"][1] == 100 and totals["b"][1] == 7
    assert {totals["a"][0], totals["b"][0]} <= {100, 7, 107}
    assert totals["a"][0] in (100, 107) and totals["b"][0] in (7, 107)
    assert max(t for t, _ in totals.values() if t is not None) == 107


@pytest.fixture
def counting_proxy(s3s_server: S3Server) -> Any:
    proxy = FaultProxy(s3s_server.port).start()
    yield proxy
    proxy.stop()


def test_a_partition_write_asks_the_store_the_same_whatever_the_definition_holds(
    s3s_server: S3Server, s3s_bucket: str, counting_proxy: FaultProxy
) -> None:
    options = s3s_server.options(endpoint=counting_proxy.endpoint)
    requests: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        for name, (partitions_def, dynamic_keys) in definitions().items():
            instance = stack.enter_context(dg.DagsterInstance.ephemeral())
            if dynamic_keys:
                instance.add_dynamic_partitions("tenants", dynamic_keys)
            key = dynamic_keys[-1] if dynamic_keys else partitions_def.get_last_partition_key()
            assert key is not None
            manager = FastIOManager(
                base_path=f"s3://{s3s_bucket}/{name.split()[1]}",
                storage_options=options,
                # The 24-key definition would add up its partitions' rows: off, to compare the
                # write itself.
                report_total_rows=name != "24 static",
            )
            for attempt in range(2):  # a first write, then a rewrite of the same key
                counting_proxy.requests.clear()
                result = dg.materialize(
                    [partitioned_asset(partitions_def, rows=ROWS + attempt)],
                    partition_key=key,
                    instance=instance,
                    resources={"io_manager": manager},
                )
                assert row_metadata(result) == (None, ROWS + attempt)
                requests[f"{name}, write {attempt + 1}"] = len(counting_proxy.requests)
    firsts = {count for label, count in requests.items() if label.endswith("write 1")}
    rewrites = {count for label, count in requests.items() if label.endswith("write 2")}
    assert len(firsts) == 1 and len(rewrites) == 1, requests
    assert max(requests.values()) <= 12, requests


def test_the_total_lists_the_asset_once_rather_than_asking_for_every_key(
    s3s_server: S3Server, s3s_bucket: str, counting_proxy: FaultProxy
) -> None:
    partitions_def = dg.StaticPartitionsDefinition([f"k{i}" for i in range(24)])
    options = s3s_server.options(endpoint=counting_proxy.endpoint)
    counts = {}
    for total in (False, True):
        manager = FastIOManager(
            base_path=f"s3://{s3s_bucket}/total-{total}",
            storage_options=options,
            report_total_rows=total,
        )
        for key, rows in (("k1", 5), ("k2", 7)):
            counting_proxy.requests.clear()
            result = dg.materialize(
                [partitioned_asset(partitions_def, rows=rows)],
                partition_key=key,
                resources={"io_manager": manager},
            )
        assert row_metadata(result) == ((12 if total else None), 7)
        counts[total] = len(counting_proxy.requests)
    # One LIST of the asset's folder, then the footer (a HEAD and a GET) of each of the two
    # stored partitions: not a request for each of the 24 keys.
    # (The other LIST, of the new partition's own key, is the first write's probe for a
    # previous version, which tells a missing bucket from a missing object.)
    folder = "prefix=total-True%2Fevents%2F"
    listings = [r for r in counting_proxy.requests if r.target.endswith(folder)]
    assert len(listings) == 1, [r.target for r in counting_proxy.requests]
    assert counts[True] == counts[False] + 1 + 2 * 2, counts
