"""Outputs that cover a range of partitions (single-run backfills): which column holds each
row's partition key, and how Dagster's partitions map onto the column's values.

The asset names its key column with definition metadata ``{"partition_expr": "day"}`` (for
multi-partitions one column per dimension, ``{"partition_expr": {"date": "day", "color":
"color"}}``), as Dagster's database I/O managers take it. Static and dynamic keys match the
column's value as text; time windows match a date, a timestamp or ISO date text falling in
``[start, end)``: a zoned timestamp as the instant it is, a date or zone-less timestamp as
wall-clock time in the partitions' time zone (as the database managers compare them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pyarrow as pa

from dagster_fastio.keys import PARTITION_EXPR_KEY, PARTITION_KEY_ENTRY
from dagster_fastio.stored.layout import Location

__all__ = ["PARTITION_EXPR_KEY", "SplitPlan", "plan_split"]

_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """What ``Storage.write_partitions`` takes for one output, and which partition each target
    is."""

    keys: list[tuple[str, list[str]] | tuple[str, list[int], list[int]]]
    targets: list[tuple[str, list[int], dict[str, str]]]
    partition_keys: list[str]


def plan_split(
    context: dg.OutputContext,
    stem: Location,
    schema: pa.Schema,
    entries: Mapping[str, str],
    table_path: Callable[[Location], Location] = lambda stem: stem.table,
) -> SplitPlan:
    """The split of an output covering ``context``'s partition keys into their files under
    ``stem`` (each at ``table_path`` of its stem); ``entries`` go into every file's footer
    beside its partition key."""
    partition_keys = list(context.asset_partition_keys)
    definition = context.asset_partitions_def
    expr = (context.definition_metadata or {}).get(PARTITION_EXPR_KEY)
    if expr is None:
        raise dg.DagsterInvariantViolationError(
            f"{context.asset_key.to_user_string()} returned one output for "
            f"{len(partition_keys)} partitions ({', '.join(partition_keys[:3])}...): give the "
            f"asset definition metadata {{'{PARTITION_EXPR_KEY}': '<column>'}} naming the column "
            "that holds each row's partition key, or launch the backfill with a multi-run backfill "
            "policy (one run per partition)"
        )
    if isinstance(definition, dg.MultiPartitionsDefinition):
        dimensions = [(d.name, d.partitions_def) for d in definition.partitions_defs]
        if not isinstance(expr, Mapping) or set(expr) != {name for name, _ in dimensions}:
            raise dg.DagsterInvariantViolationError(
                f"{PARTITION_EXPR_KEY} of a multi-partitioned asset maps each dimension "
                f"({', '.join(name for name, _ in dimensions)}) to its column, got {expr!r}"
            )
        per_dimension = [
            [key.keys_by_dimension[name] for key in partition_keys]  # type: ignore[attr-defined]
            for name, _ in dimensions
        ]
        columns = [str(expr[name]) for name, _ in dimensions]
        definitions = [partitions for _, partitions in dimensions]
    else:
        if not isinstance(expr, str):
            raise dg.DagsterInvariantViolationError(
                f"{PARTITION_EXPR_KEY} of a one-dimension partitioned asset is a column name, "
                f"got {expr!r}"
            )
        per_dimension, columns, definitions = (
            [[str(k) for k in partition_keys]],
            [expr],
            [definition],
        )
    keys = []
    indices_by_dimension = []
    for column, values, partitions in zip(columns, per_dimension, definitions, strict=True):
        key, index_of = _key_column(column, values, partitions, schema)
        keys.append(key)
        indices_by_dimension.append([index_of[value] for value in values])
    targets = []
    for position, partition_key in enumerate(partition_keys):
        location = table_path(next(iter(stem.partitions([partition_key]).values())))
        footer = {**entries, PARTITION_KEY_ENTRY: str(partition_key)}
        indices = [dimension[position] for dimension in indices_by_dimension]
        targets.append((location.text, indices, footer))
    return SplitPlan(keys, targets, [str(k) for k in partition_keys])


def _key_column(
    column: str, values: Sequence[str], partitions: Any, schema: pa.Schema
) -> tuple[Any, dict[str, int]]:
    """One key column's entry for ``write_partitions``, and each key's index in it."""
    distinct = list(dict.fromkeys(values))
    if not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return (column, distinct), {key: i for i, key in enumerate(distinct)}
    field = schema.field(column) if column in schema.names else None
    zoned = field is not None and pa.types.is_timestamp(field.type) and field.type.tz is not None
    windows = sorted((partitions.time_window_for_partition_key(key), key) for key in distinct)
    starts = [_micros(window.start, zoned) for window, _ in windows]
    ends = [_micros(window.end, zoned) for window, _ in windows]
    return (column, starts, ends), {key: i for i, (_, key) in enumerate(windows)}


def _micros(moment: dt.datetime, zoned: bool) -> int:
    if zoned:
        return (moment - _EPOCH.replace(tzinfo=dt.timezone.utc)) // _MICROSECOND
    return (moment.replace(tzinfo=None) - _EPOCH) // _MICROSECOND
