"""Assets that ``test_report.py`` materializes, in-process and under the multiprocess executor
(whose step processes rebuild the job from this module)."""

# No `from __future__ import annotations`: Dagster reads the annotations of the assets below.
import time
import warnings

import dagster as dg
import pyarrow as pa

from dagster_fastio import FastIOManager

ROWS = 20_000
DERIVED_ROWS = 5_000
PARTITIONS = dg.StaticPartitionsDefinition(["east", "west"])
PARTITION_ROWS = {"east": 3_000, "west": 7_000}


@dg.asset
def source() -> pa.Table:
    # New content on every run (the stamp), so every write stores a file and none is skipped
    # as unchanged.
    stamp = time.time_ns()
    return pa.table(
        {
            "n": pa.array(range(ROWS), pa.int64()),
            "label": [f"row {i}" for i in range(ROWS)],
            "stamp": pa.array([stamp] * ROWS, pa.int64()),
        }
    )


@dg.asset
def derived(source: pa.Table) -> pa.Table:
    return source.slice(0, DERIVED_ROWS)


@dg.asset(partitions_def=PARTITIONS)
def regional(context: dg.AssetExecutionContext) -> pa.Table:
    rows = PARTITION_ROWS[context.partition_key]
    return pa.table({"region": [context.partition_key] * rows, "stamp": [time.time_ns()] * rows})


@dg.asset(partitions_def=PARTITIONS)
def appended(context: dg.AssetExecutionContext) -> pa.Table:
    # New rows on every run, so no append is skipped as unchanged.
    return pa.table({"region": [context.partition_key] * 100, "stamp": [time.time_ns()] * 100})


def multiprocess_job() -> dg.JobDefinition:
    """source and derived, each step in its own process; the base path comes from the run
    config."""
    definitions = dg.Definitions(
        assets=[source, derived],
        jobs=[
            dg.define_asset_job(
                "report_handoff",
                selection=[source, derived],
                executor_def=dg.multiprocess_executor,
            )
        ],
        resources={"io_manager": FastIOManager.configure_at_launch()},
    )
    return definitions.resolve_job_def("report_handoff")


def _regional_range(context: dg.AssetExecutionContext) -> pa.Table:
    """Every partition of the run in one table, which FastIOManager splits by ``region``."""
    keys = context.partition_keys
    return pa.table(
        {"region": [key for key in keys for _ in range(PARTITION_ROWS[key])], "n": range(10_000)}
    )


# backfill_policy is a beta parameter: its warning is silenced where the asset is defined.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")
    regional_range = dg.asset(
        name="regional_range",
        partitions_def=PARTITIONS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"partition_expr": "region"},
    )(_regional_range)
