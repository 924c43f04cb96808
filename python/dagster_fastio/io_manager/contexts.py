"""What FastIOManager reads off Dagster's contexts: where an output is stored, its format and
compression, the footer entries naming who wrote it, an input's annotation, and the output's
name in messages. What a testing context does not carry is left out, never an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg

from dagster_fastio.keys import (
    COMPRESSION_METADATA_KEY,
    FORMAT_METADATA_KEY,
    PARTITION_KEY_ENTRY,
)
from dagster_fastio.options import check_format
from dagster_fastio.stored.layout import Location

__all__ = [
    "input_annotation",
    "output_compression",
    "output_format",
    "output_name",
    "provenance",
    "stem_of",
]


def stem_of(context: dg.InputContext | dg.OutputContext, base: Location) -> Location:
    """The output's location under ``base``, without suffix or partition."""
    parts = context.asset_key.path if context.has_asset_key else context.get_identifier()
    return base.stem(parts)


def output_format(context: dg.OutputContext, default: str) -> str:
    """The output's format: its definition metadata's, else the manager's."""
    return check_format((context.definition_metadata or {}).get(FORMAT_METADATA_KEY, default))


def output_compression(context: dg.OutputContext, default: str | None) -> str | None:
    """The output's compression: its definition metadata's, else the manager's (None: chosen by
    where the file goes)."""
    return (context.definition_metadata or {}).get(COMPRESSION_METADATA_KEY, default)


def asked_format_or_codec(context: dg.OutputContext) -> bool:
    """Whether the output's definition metadata names its format or its codec."""
    metadata = context.definition_metadata or {}
    return FORMAT_METADATA_KEY in metadata or COMPRESSION_METADATA_KEY in metadata


def provenance(context: dg.OutputContext) -> dict[str, str]:
    """Footer entries naming the run, asset (or step), partition and code version that wrote a
    file; what a testing context does not carry is left out."""
    entries: dict[str, str] = {}

    def add(key: str, value: Callable[[], Any]) -> None:
        try:
            found = value()
        except dg.DagsterInvariantViolationError:
            return
        if found is not None:
            entries[key] = str(found)

    add("dagster/run_id", lambda: context.run_id)
    if not context.has_asset_key:
        add("dagster/step_key", lambda: context.step_key)
        return entries
    entries["dagster/asset_key"] = context.asset_key.to_user_string()
    add("dagster/code_version", lambda: context.asset_spec.code_version)
    if context.has_asset_partitions and len(context.asset_partition_keys) == 1:
        entries[PARTITION_KEY_ENTRY] = str(context.asset_partition_keys[0])
    return entries


def input_annotation(context: dg.InputContext) -> Any:
    # Dagster's testing helpers build input contexts without a type, and the property then
    # raises rather than answering None: a missing type means Any, as for FilesystemIOManager.
    try:
        return context.dagster_type.typing_type
    except dg.DagsterInvariantViolationError:
        return Any


def output_name(context: dg.OutputContext) -> str:
    if context.has_asset_key:
        return f"the output of asset {context.asset_key.to_user_string()}"
    try:
        return f"output {context.name!r} of step {context.step_key!r}"
    except dg.DagsterInvariantViolationError:
        return f"output {context.name!r}"
