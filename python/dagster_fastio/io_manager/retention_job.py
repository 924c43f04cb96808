"""``retention_job``: ``fastio clean --partitions-not-in`` as a Dagster job a schedule runs.

The job reads the definitions of the code location it runs in (so it always compares with the
deployed partitions definitions), the base and store settings of the FastIOManager bound under
``io_manager_key`` (so it cleans where that manager writes, with its credentials), and lists
dynamic partitions from the run's instance. A dry run unless its run config says
``apply: true``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import dagster as dg

from dagster_fastio.io_manager import FastIOManager
from dagster_fastio.io_manager.retention import plan_for
from dagster_fastio.stored.retention import (
    Removable,
    parse_age,
    removable,
    remove,
)

__all__ = ["RETENTION_METADATA_PREFIX", "retention_job"]

RETENTION_METADATA_PREFIX = "dagster_fastio/retention_"
# Rows of the table of files in the op's metadata and lines in its log; the counts and bytes
# always cover every file.
_SHOWN_FILES = 200


def retention_job(
    *,
    name: str = "fastio_retention",
    assets: dg.AssetSelection | Sequence[dg.CoercibleToAssetKey] | None = None,
    partitions_older_than: str | None = None,
    apply: bool = False,
    io_manager_key: str = "io_manager",
    description: str | None = None,
) -> dg.JobDefinition:
    """A job that removes the stored partitions the code location's definitions no longer
    cover (``fastio clean --partitions-not-in``), for a schedule to run.

    - ``assets``: the assets whose files may go (default: every asset stored by the manager
      under ``io_manager_key``); the others' files are never touched.
    - ``partitions_older_than``: also the partitions of time-partitioned assets whose window
      ended that long ago (``"90d"``); None: only keys the definitions no longer hold.
    - ``apply``: delete (default: a dry run that lists and logs what would go).

    The last two are the defaults of the run config fields of the same names
    (``ops: {<name>: {config: {apply: true}}}``). The event log keeps the removed partitions'
    materializations: Dagster's storages cannot wipe single partitions (issue 14749), so each
    asset that lost files gets an observation listing them.
    """
    if partitions_older_than is not None:
        parse_age(partitions_older_than)  # a bad age fails at definition time
    selection = (
        assets
        if assets is None or isinstance(assets, dg.AssetSelection)
        else dg.AssetSelection.assets(*assets)
    )

    @dg.op(
        name=name,
        required_resource_keys={io_manager_key},
        config_schema={
            "apply": dg.Field(bool, default_value=apply, description="Delete (else list)."),
            "partitions_older_than": dg.Field(
                dg.Noneable(str),
                default_value=partitions_older_than,
                description="Also time-window partitions that ended this long ago (90d).",
            ),
        },
        out=dg.Out(dg.Nothing),
    )
    def clean_partitions(context) -> Any:  # type: ignore[no-untyped-def]  # (a string annotation is refused)
        manager = getattr(context.resources, io_manager_key)
        if not isinstance(manager, FastIOManager):
            raise dg.DagsterInvariantViolationError(
                f"{name} cleans what a FastIOManager stores; the resource {io_manager_key!r} "
                f"is a {type(manager).__name__}"
            )
        storage = manager._storage
        graph = _asset_graph(context, name)
        keys = {
            key
            for key in graph.materializable_asset_keys
            if graph.get(key).io_manager_key == io_manager_key
        }
        if selection is not None:
            keys &= selection.resolve(graph)
        age_text = context.op_config["partitions_older_than"]
        age = None if age_text is None else parse_age(age_text)
        plan = plan_for(
            graph, storage.base, older_than=age, instance=context.instance, asset_keys=keys
        )
        found = removable(plan.scopes, storage.storage_options)
        applied = context.op_config["apply"]
        if applied:
            found = remove(found, storage.storage_options)
        for asset, why in plan.skipped.items():
            context.log.warning(f"{asset} skipped: {why}")
        _log(context, found, applied)
        if applied:
            asset_keys = {key.to_user_string(): key for key in graph.get_all_asset_keys()}
            yield from _observations(found, asset_keys)
        yield dg.Output(None, metadata=_metadata(found, plan.skipped, applied, age_text))

    @dg.job(name=name, description=description or retention_job.__doc__.split("\n\n")[0])
    def job() -> None:
        clean_partitions()

    return job


def _asset_graph(context: Any, name: str) -> Any:
    """The asset graph of the code location the run belongs to."""
    try:
        return context.repository_def.asset_graph
    except Exception as error:  # dagster's CheckError: an in-process run without one
        raise dg.DagsterInvariantViolationError(
            f"{name} compares stored files with the definitions of the code location it runs "
            "in, and this run has none (JobDefinition.execute_in_process): launch it from the "
            "code location (a schedule, dagster dev, dg launch --job), or run `fastio clean "
            "--partitions-not-in` with the definitions' module"
        ) from error


def _log(context: dg.OpExecutionContext, found: Sequence[Removable], applied: bool) -> None:
    state = "removed" if applied else "would remove"
    for item in found[:_SHOWN_FILES]:
        partition = "" if item.partition is None else f" partition {item.partition}"
        context.log.info(f"{state} {item.uri} ({item.asset}{partition}: {item.reason})")
    if len(found) > _SHOWN_FILES:
        context.log.info(f"... and {len(found) - _SHOWN_FILES} more")
    total = sum(item.size for item in found)
    action = "removed" if applied else "would be removed (dry run: run config apply: true)"
    context.log.info(f"{len(found)} file(s), {total} bytes: {action}")


def _metadata(
    found: Sequence[Removable], skipped: dict[str, str], applied: bool, age: str | None
) -> dict[str, Any]:
    rows = [
        dg.TableRecord(
            {
                "asset": item.asset,
                "partition": item.partition or "",
                "reason": item.reason,
                "bytes": item.size,
                "uri": item.uri,
            }
        )
        for item in found[:_SHOWN_FILES]
    ]
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("asset", "string"),
            dg.TableColumn("partition", "string"),
            dg.TableColumn("reason", "string"),
            dg.TableColumn("bytes", "int"),
            dg.TableColumn("uri", "string"),
        ]
    )
    p = RETENTION_METADATA_PREFIX
    metadata: dict[str, Any] = {
        f"{p}applied": applied,
        f"{p}files": len(found),
        f"{p}bytes": sum(item.size for item in found),
        f"{p}assets": len({item.asset for item in found}),
        f"{p}partitions_older_than": age or "",
        f"{p}table": dg.MetadataValue.table(rows, schema),
    }
    if skipped:
        metadata[f"{p}skipped"] = dg.MetadataValue.json(skipped)
    return metadata


def _observations(found: Sequence[Removable], asset_keys: dict[str, dg.AssetKey]) -> Any:
    """One observation per asset that lost files, so its page says what went and why."""
    by_asset: dict[str, list[Removable]] = defaultdict(list)
    for item in found:
        by_asset[item.asset].append(item)
    p = RETENTION_METADATA_PREFIX
    for asset, items in by_asset.items():
        partitions = sorted({item.partition for item in items if item.partition is not None})
        yield dg.AssetObservation(
            asset_key=asset_keys[asset],
            metadata={
                f"{p}removed_files": len(items),
                f"{p}removed_bytes": sum(item.size for item in items),
                f"{p}removed_partitions": dg.MetadataValue.json(partitions),
            },
        )
