"""Which method a plan recommends, with its reason in one line: by size, frequency, single or
multi-node, and whether a whole load fits in memory.

- A whole load that does not fit (`parallel` steps with headroom over `memory`), or a table of
  1 GB and more: a reference input (`StoredTable`, a DuckDB relation or `pl.LazyFrame`) over
  Parquet zstd, which reads only the columns and rows a step asks for; Parquet is what DuckDB
  and warehouses read.
- Below 10 MB: pickle. A fresh-process handoff of a small table is fixed costs (a few ms for
  Arrow against pickle's one or two), and the files are small either way.
- Materialised at most daily into partitions that are kept: Parquet zstd, the smallest files;
  its slower loads are rare.
- Across nodes: IPC zstd (fewer bytes over the link), unless lz4 hands off clearly faster.
- One node: IPC lz4, the fastest fresh-process handoff on a local disk; pickle where the
  profile says it hands off faster in no more memory (a measured profile of small or
  incompressible data can).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster_fastio.cli.planning.plan import MethodPlan, PlanInputs

__all__ = ["LARGE_MB", "REFERENCE", "SMALL_MB", "decide"]

SMALL_MB = 10.0
LARGE_MB = 1000.0
REFERENCE = "reference"
"""A reference input over Parquet zstd: `StoredTable`, a DuckDB relation or `pl.LazyFrame`."""


def decide(inputs: PlanInputs, methods: dict[str, MethodPlan]) -> tuple[str, str]:
    frame, size = inputs.frame, inputs.size_mb
    eager = min((methods["ipc-lz4"], methods["ipc-zstd"]), key=lambda m: m.handoff_seconds)
    step = eager.peak_memory_step_mb[frame]
    fits = eager.recommended_concurrency[frame]
    parquet = methods["parquet-zstd"]
    if size >= LARGE_MB or fits < inputs.parallel:
        why = (
            f"only {fits} fit{'s' if fits == 1 else ''} in {inputs.memory_mb:,.0f} MB, "
            f"{inputs.parallel} wanted"
            if fits < inputs.parallel
            else f"{inputs.parallel} at once need {eager.peak_memory_parallel_mb[frame]:,.0f} MB"
        )
        return REFERENCE, (
            f"a whole {size:,.0f} MB {frame} load needs {step:,.0f} MB per step ({why}): a "
            "reference input (StoredTable, DuckDB relation, pl.LazyFrame) over Parquet zstd "
            f"({parquet.stored_mb:,.0f} MB stored) reads only the columns and rows a step uses"
        )
    pickle = methods["pickle"]
    if size < SMALL_MB:
        return "pickle", (
            f"below {SMALL_MB:g} MB a fresh-process handoff is fixed costs: pickle "
            f"{pickle.handoff_seconds * 1000:,.0f} ms against {eager.handoff_seconds * 1000:,.0f}"
            f" ms for {eager.method}, and {pickle.stored_mb:,.1f} MB stored is small either way"
        )
    ipc_zstd = methods["ipc-zstd"]
    if inputs.partitioned and inputs.per_day <= 1:
        saving = ipc_zstd.cost_usd_month - parquet.cost_usd_month
        return "parquet-zstd", (
            f"{inputs.per_day:g} partition a day kept {inputs.retention_days:g} days: Parquet "
            f"zstd holds {parquet.storage_held_mb:,.0f} MB against "
            f"{ipc_zstd.storage_held_mb:,.0f} MB for IPC zstd (${saving:,.2f} a month less), "
            "and its slower loads are rare"
        )
    lz4 = methods["ipc-lz4"]
    if (
        not inputs.multi_node
        and pickle.handoff_seconds < lz4.handoff_seconds
        and pickle.peak_memory_step_mb[frame] <= lz4.peak_memory_step_mb[frame]
    ):
        return "pickle", (
            f"on this profile pickle hands off faster ({pickle.handoff_seconds:,.2f} s against "
            f"{lz4.handoff_seconds:,.2f} s for IPC lz4) in no more memory per step "
            f"({pickle.peak_memory_step_mb[frame]:,.0f} MB against "
            f"{lz4.peak_memory_step_mb[frame]:,.0f} MB); its files are "
            f"{pickle.stored_mb / lz4.stored_mb:.1f}x the size"
        )
    if inputs.multi_node and lz4.handoff_seconds >= 0.9 * ipc_zstd.handoff_seconds:
        return "ipc-zstd", (
            f"across nodes every byte crosses the link: IPC zstd stores "
            f"{ipc_zstd.stored_mb:,.0f} MB (lz4 {lz4.stored_mb:,.0f} MB, pickle "
            f"{pickle.stored_mb:,.0f} MB) and hands off in {ipc_zstd.handoff_seconds:,.2f} s "
            f"(pickle {pickle.handoff_seconds:,.2f} s)"
        )
    return "ipc-lz4", (
        f"{'one node' if not inputs.multi_node else 'a fast link'}: IPC lz4 hands off in "
        f"{lz4.handoff_seconds:,.2f} s (pickle {pickle.handoff_seconds:,.2f} s) with "
        f"{lz4.peak_memory_step_mb[frame]:,.0f} MB per step (pickle "
        f"{pickle.peak_memory_step_mb[frame]:,.0f} MB)"
    )
