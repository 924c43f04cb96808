"""FastIOManagerComponent: FastIOManager configured from a ``defs.yaml``.

```yaml
type: dagster_fastio.FastIOManagerComponent
attributes:
  base_path: s3://bucket/dagster
  compression: zstd
  storage_options_from_env:
    aws_secret_access_key: AWS_SECRET_ACCESS_KEY
  retention:                    # optional: the retention job, and a schedule to run it
    cron_schedule: "0 3 * * *"
    partitions_older_than: 90d
    apply: true
```

``dg scaffold defs dagster_fastio.FastIOManagerComponent <path>`` writes such a file; the
package's ``dagster_dg_cli.registry_modules`` entry point makes ``dg`` list the component.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from dagster_fastio.io_manager import FastIOManager
from dagster_fastio.io_manager.retention_job import retention_job

__all__ = ["FastIOManagerComponent", "RetentionSettings"]

# The component's own fields; every other field is one of FastIOManager's, passed on as it is.
_OWN_FIELDS = frozenset({"resource_key", "storage_options_from_env", "retention"})


class RetentionSettings(dg.Model):
    """The retention job of the bound manager (``dagster_fastio.retention_job``)."""

    job_name: str = Field(default="fastio_retention", description="The job's name.")
    cron_schedule: str | None = Field(
        default=None,
        description="When a schedule runs the job (cron, UTC); null: no schedule.",
    )
    partitions_older_than: str | None = Field(
        default=None,
        description=(
            "Also remove the partitions of time-partitioned assets whose window ended this "
            "long ago (90d, 12h, 2w); null: only partition keys the definitions no longer hold."
        ),
    )
    apply: bool = Field(
        default=False,
        description="Delete the files (default: a dry run that lists them); run config overrides.",
    )


class FastIOManagerComponent(dg.Component, dg.Resolvable, dg.Model):
    """Binds a FastIOManager (tables as compressed Arrow IPC files) under ``resource_key``."""

    base_path: str | None = Field(
        default=None,
        description=(
            "Folder or URI (s3://, gs://, az://, memory://, file://) the outputs go to. Default: "
            "the Dagster instance's storage folder, where FilesystemIOManager writes."
        ),
    )
    compression: str | None = Field(
        default=None,
        description=(
            "Table compression: 'zstd', 'lz4' or 'none' ('snappy', 'gzip' and 'brotli' too for "
            "Parquet). Default: "
            "'lz4' on a local disk, 'zstd' on an object store, with a compression_level or for "
            "Parquet."
        ),
    )
    compression_level: int | None = Field(
        default=None, description="zstd level for tables (default 1); setting it means zstd."
    )
    format: str = Field(
        default="ipc",
        description="Table file format: 'ipc' (Arrow IPC, the fastest handoff) or 'parquet'.",
    )
    compat: str = Field(
        default="standard",
        description=(
            "Types rewritten for other readers: 'standard' (lossless), 'wide' (also views and "
            "half floats widened) or 'none'."
        ),
    )
    part_size_mb: int | None = Field(
        default=None,
        description="Upload part size for object stores, in MiB (default 16, at least 5).",
    )
    max_concurrency: int | None = Field(
        default=None,
        description="Upload parts in flight per output, and partitions loaded at once (default 8).",
    )
    memory_map: bool = Field(
        default=False,
        description=(
            "Memory-map local files instead of reading them (zero-copy for uncompressed tables; "
            "a file truncated by another program while in use kills the process)."
        ),
    )
    column_stats: bool = Field(
        default=False,
        description="Report each table column's null count and bounds (column_stats metadata).",
    )
    report_total_rows: bool = Field(
        default=True,
        description=(
            "For partitioned assets of at most 100 keys, also report dagster/row_count over "
            "every stored partition (one footer read per stored partition)."
        ),
    )
    read_replaced_pickles: bool = Field(
        default=True,
        description=(
            "Load what FilesystemIOManager or a cloud pickle manager stored at the same base "
            "when none of this package's files is there."
        ),
    )
    parquet_above_mb: float | None = Field(
        default=None,
        description=(
            "Store a table larger than this many MB of Arrow data as Parquet zstd (the route "
            "is in the output metadata; loads read the recorded format). Off by default."
        ),
    )
    load_memory_check: bool = Field(
        default=True,
        description=(
            "Warn before an eager load the measured memory model says will not fit in the "
            "memory available, naming the lazy inputs (one footer read per input)."
        ),
    )
    write_mode: str = Field(
        default="overwrite",
        description=(
            "'overwrite' or 'append' (each materialization of a table adds a part to its key); "
            "assets override it with metadata {'fastio/write_mode': ...}."
        ),
    )
    compact_after_parts: int | None = Field(
        default=None,
        description="Rewrite an appended key's parts as one file once it holds more than this.",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Object-store settings in object_store's keys (aws_endpoint, aws_region, ...), on "
            "top of the AWS_*, GOOGLE_* and AZURE_* environment. Put no secret here: use "
            "storage_options_from_env."
        ),
    )
    storage_options_from_env: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Object-store settings read from environment variables when a run starts, as "
            "{option: VARIABLE_NAME}: the values never enter the definitions."
        ),
    )
    resource_key: str | None = Field(
        default="io_manager",
        description="The resource key the I/O manager is bound to; null binds nothing.",
    )
    retention: RetentionSettings | None = Field(
        default=None,
        description=(
            "Adds the job that removes stored partitions the definitions no longer cover, and "
            "a schedule for it (see the README's 'Retention'); null: no job."
        ),
    )

    @property
    def resource(self) -> FastIOManager:
        both = self.storage_options.keys() & self.storage_options_from_env.keys()
        if both:
            raise ValueError(
                "storage_options and storage_options_from_env both set "
                f"{', '.join(sorted(both))}: give each option once"
            )
        config = self.model_dump(exclude=set(_OWN_FIELDS))
        # An EnvVar is resolved when the resource is initialized for a run, and shows as the
        # variable's name wherever Dagster displays the configuration.
        config["storage_options"] = {
            **self.storage_options,
            **{key: dg.EnvVar(name) for key, name in self.storage_options_from_env.items()},
        }
        return FastIOManager(**config)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        if self.resource_key is None:
            return dg.Definitions()
        resources = {self.resource_key: self.resource}
        if self.retention is None:
            return dg.Definitions(resources=resources)
        settings = self.retention
        job = retention_job(
            name=settings.job_name,
            partitions_older_than=settings.partitions_older_than,
            apply=settings.apply,
            io_manager_key=self.resource_key,
        )
        schedules = []
        if settings.cron_schedule is not None:
            schedules.append(
                dg.ScheduleDefinition(
                    name=f"{settings.job_name}_schedule",
                    job=job,
                    cron_schedule=settings.cron_schedule,
                    execution_timezone="UTC",
                )
            )
        return dg.Definitions(resources=resources, jobs=[job], schedules=schedules)
