"""Dagster's own asset checks, set up for the metadata FastIOManager reports.

FastIOManager puts ``dagster/column_schema`` and ``dagster/row_count`` (partitioned outputs:
``dagster/partition_row_count`` beside the total ``dagster/row_count`` of every stored
partition) on each table it stores, which is what Dagster's check factories read. ``checks``
only chooses the factories and their arguments; the checks are Dagster's.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Sequence

import dagster as dg

from dagster_fastio.io_manager.io_checks import IoBounds, io_slowdown_checks
from dagster_fastio.keys import PARTITION_ROW_COUNT_KEY, ROW_COUNT_KEY

__all__ = ["PARTITION_ROW_COUNT_KEY", "ROW_COUNT_KEY", "checks"]

AssetLike = dg.AssetsDefinition | dg.SourceAsset | dg.AssetKey | str | Sequence[str]
Freshness = datetime.timedelta | dg.FreshnessPolicy


def checks(
    assets: Sequence[AssetLike],
    *,
    schema_change: bool = True,
    min_rows: int | None = 1,
    max_rows: int | None = None,
    min_partition_rows: int | None = None,
    max_partition_rows: int | None = None,
    freshness: Freshness | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN,
    io_slowdown: float | None = 3.0,
    io_window: int = 10,
    io_min_seconds: float = 0.05,
    max_load_memory_mb: float | None = None,
    max_write_memory_mb: float | None = None,
) -> list[dg.AssetChecksDefinition]:
    """Asset checks for assets whose tables FastIOManager stores.

    Args:
        assets: the assets (definitions, source assets or keys) to check. Pass the ones that
            store tables: a pickled output has neither a row count nor a column schema, so its
            checks fail.
        schema_change: add ``build_column_schema_change_checks``, which fails when the latest
            materialization's columns (names, types) differ from the previous one's.
        min_rows, max_rows: bounds, inclusive, on ``dagster/row_count`` of the latest
            materialization (for a partitioned asset: every stored partition together). The
            default ``min_rows=1`` fails an asset that stored an empty table; pass ``None`` for
            both to build no row-count check.
        min_partition_rows, max_partition_rows: bounds, inclusive, on
            ``dagster/partition_row_count`` of the latest materialized partition, for the
            partitioned asset definitions among ``assets``.
        freshness: a last-update freshness check (``build_last_update_freshness_checks``): a
            ``timedelta`` is the largest age allowed; a ``FreshnessPolicy.time_window`` checks
            its ``fail_window``; a ``FreshnessPolicy.cron`` its ``deadline_cron``,
            ``lower_bound_delta`` and ``timezone``.
        severity: the severity of every check that fails.
        io_slowdown: an ``io_slowdown`` check per asset fails when the latest write's seconds
            per MB (and, where loads were recorded, the latest load's) exceed this many times
            the median of the previous ``io_window`` ones, read from the instance's event log.
            With fewer than 3 earlier measured ones it passes and says so. Unchanged outputs
            (only hashed) and lazy loads (nothing read) are left out. ``None``: no such check,
            unless a memory bound is given.
        io_min_seconds: a write or load quicker than this is never called slow: at a few
            milliseconds the clock's noise outweighs any trend.
        max_load_memory_mb, max_write_memory_mb: the ``io_slowdown`` check also fails when the
            latest load's (write's) measured peak memory (``dagster_fastio/load_peak_memory_mb``,
            ``.../write_peak_memory_mb``) exceeds this.

    Dagster marks its check factories beta (and the last-update freshness factory superseded
    by freshness policies, which only the daemon evaluates); their warnings are silenced here,
    for these calls only.
    """
    assets = list(assets)
    if not assets:
        raise ValueError("checks() needs at least one asset")
    _check_bounds("min_rows", min_rows, "max_rows", max_rows)
    _check_bounds(
        "min_partition_rows", min_partition_rows, "max_partition_rows", max_partition_rows
    )
    built: list[dg.AssetChecksDefinition] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        if schema_change:
            built += dg.build_column_schema_change_checks(assets=assets, severity=severity)
        if min_rows is not None or max_rows is not None:
            built += dg.build_metadata_bounds_checks(
                assets=assets,
                severity=severity,
                metadata_key=ROW_COUNT_KEY,
                min_value=min_rows,
                max_value=max_rows,
            )
        if min_partition_rows is not None or max_partition_rows is not None:
            partitioned = [asset for asset in assets if _is_partitioned(asset)]
            if not partitioned:
                raise ValueError(
                    "min_partition_rows and max_partition_rows need a partitioned asset "
                    "definition among the assets"
                )
            built += dg.build_metadata_bounds_checks(
                assets=partitioned,
                severity=severity,
                metadata_key=PARTITION_ROW_COUNT_KEY,
                min_value=min_partition_rows,
                max_value=max_partition_rows,
            )
        if freshness is not None:
            built += _freshness_checks(assets, freshness, severity)
    if io_slowdown is not None or max_load_memory_mb is not None or max_write_memory_mb is not None:
        bounds = IoBounds(
            slowdown=float("inf") if io_slowdown is None else io_slowdown,
            window=io_window,
            min_seconds=io_min_seconds,
            max_load_memory_mb=max_load_memory_mb,
            max_write_memory_mb=max_write_memory_mb,
            severity=severity,
        )
        built += io_slowdown_checks(_keys_of(assets), bounds)
    return built


def _keys_of(assets: list[AssetLike]) -> list[dg.AssetKey]:
    keys: list[dg.AssetKey] = []
    for asset in assets:
        if isinstance(asset, dg.AssetsDefinition):
            keys += asset.keys
        elif isinstance(asset, dg.SourceAsset):
            keys.append(asset.key)
        else:
            keys.append(dg.AssetKey.from_coercible(asset))
    return list(dict.fromkeys(keys))


def _check_bounds(low_name: str, low: int | None, high_name: str, high: int | None) -> None:
    for name, value in ((low_name, low), (high_name, high)):
        # bool is an int to Python, and `min_rows=True` is surely a mistake.
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{name} must be an int or None, got {value!r}")
        if value is not None and value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")
    if low is not None and high is not None and low > high:
        raise ValueError(f"{low_name} ({low}) is greater than {high_name} ({high})")


def _is_partitioned(asset: AssetLike) -> bool:
    # A bare key says nothing about partitions; definitions and source assets do.
    if isinstance(asset, (dg.AssetsDefinition, dg.SourceAsset)):
        return asset.partitions_def is not None
    return False


def _freshness_checks(
    assets: list[AssetLike], freshness: Freshness, severity: dg.AssetCheckSeverity
) -> Sequence[dg.AssetChecksDefinition]:
    deadline_cron: str | None = None
    timezone = "UTC"
    # Dagster exports only the FreshnessPolicy base; its two kinds are told apart by their
    # fields (time_window: fail_window; cron: deadline_cron, lower_bound_delta, timezone).
    if isinstance(freshness, datetime.timedelta):
        lower_bound = freshness
    elif isinstance(freshness, dg.FreshnessPolicy) and hasattr(freshness, "fail_window"):
        lower_bound = freshness.fail_window.to_timedelta()
    elif isinstance(freshness, dg.FreshnessPolicy) and hasattr(freshness, "deadline_cron"):
        lower_bound = freshness.lower_bound_delta
        deadline_cron, timezone = freshness.deadline_cron, freshness.timezone
    else:
        raise TypeError(
            "freshness must be a timedelta, FreshnessPolicy.time_window(...) or "
            f"FreshnessPolicy.cron(...), got {freshness!r}"
        )
    if lower_bound <= datetime.timedelta(0):
        raise ValueError(f"freshness must allow a positive age, got {lower_bound}")
    return dg.build_last_update_freshness_checks(
        assets=assets,
        lower_bound_delta=lower_bound,
        deadline_cron=deadline_cron,
        timezone=timezone,
        severity=severity,
    )
