"""The ``io_slowdown`` asset check: is the latest write (and load) of an asset slower per MB
than its recent history, or bigger in memory than a bound?

Everything is read from the instance's event log (``io_history``), where FastIOManager's
figures are recorded (``keys``: writes on materializations, loads on the observations Dagster
makes of input metadata), so the check gives the same answer whichever process, executor or
daemon runs it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from dagster_fastio.io_manager import io_history
from dagster_fastio.keys import (
    LOAD_BYTES_KEY,
    LOAD_PEAK_MEMORY_MB_KEY,
    LOAD_SECONDS_KEY,
    WRITE_PEAK_MEMORY_MB_KEY,
    WRITE_RAW_BYTES_KEY,
    WRITE_SECONDS_KEY,
)

__all__ = ["IO_SLOWDOWN_CHECK", "MIN_HISTORY", "IoBounds", "io_slowdown_checks"]

IO_SLOWDOWN_CHECK = "io_slowdown"
MIN_HISTORY = 3
"""Earlier measured materializations (or loads) a latest one is compared with, at least: a
median of fewer says little."""


@dataclass(frozen=True)
class IoBounds:
    slowdown: float
    window: int
    min_seconds: float
    max_load_memory_mb: float | None
    max_write_memory_mb: float | None
    severity: dg.AssetCheckSeverity

    def __post_init__(self) -> None:
        if self.slowdown <= 1:
            raise ValueError(f"io_slowdown must be above 1 (a ratio), got {self.slowdown}")
        if isinstance(self.window, bool) or not isinstance(self.window, int):
            raise TypeError(f"io_window must be an int, got {self.window!r}")
        if self.window < MIN_HISTORY:
            raise ValueError(f"io_window must be at least {MIN_HISTORY}, got {self.window}")
        if self.min_seconds < 0:
            raise ValueError(f"io_min_seconds must not be negative, got {self.min_seconds}")
        for name in ("max_load_memory_mb", "max_write_memory_mb"):
            bound = getattr(self, name)
            if bound is not None and bound <= 0:
                raise ValueError(f"{name} must be positive, got {bound}")


def io_slowdown_checks(
    keys: Sequence[dg.AssetKey], bounds: IoBounds
) -> list[dg.AssetChecksDefinition]:
    """One ``io_slowdown`` check per asset key."""
    return [_check_of(key, bounds) for key in keys]


def _check_of(key: dg.AssetKey, bounds: IoBounds) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=key,
        name=IO_SLOWDOWN_CHECK,
        description=_description(bounds),
        blocking=False,
    )
    # Not annotated: under postponed annotations Dagster would see a string, and refuse it.
    def io_slowdown(context) -> dg.AssetCheckResult:  # type: ignore[no-untyped-def]
        return evaluate(context.instance, key, bounds)

    return io_slowdown


def _description(bounds: IoBounds) -> str:
    said = []
    if bounds.slowdown != float("inf"):
        said.append(
            f"the latest write's (or load's) seconds per MB exceed {bounds.slowdown}x the "
            f"median of the previous {bounds.window}"
        )
    for side, bound in (
        ("load", bounds.max_load_memory_mb),
        ("write", bounds.max_write_memory_mb),
    ):
        if bound is not None:
            said.append(f"the latest {side} needs more than {bound} MB")
    return f"Fails when {' or when '.join(said)}; read from the instance's event log."


def evaluate(
    instance: dg.DagsterInstance, key: dg.AssetKey, bounds: IoBounds
) -> dg.AssetCheckResult:
    """The check's result for ``key`` from the instance's event log."""
    fetched = bounds.window + 1
    writes = [event.metadata for event in io_history.writes(instance, key, limit=fetched)]
    loads = [event.metadata for event in io_history.loads(instance, key, limit=fetched)]
    findings: list[str] = []
    notes: list[str] = []
    metadata: dict[str, Any] = {}
    for side, records, per_mb in (
        ("write", writes, _write_seconds_per_mb),
        ("load", loads, _load_seconds_per_mb),
    ):
        _judge_speed(side, records, per_mb, bounds, findings, notes, metadata)
    for side, records, key_name, bound in (
        ("write", writes, WRITE_PEAK_MEMORY_MB_KEY, bounds.max_write_memory_mb),
        ("load", loads, LOAD_PEAK_MEMORY_MB_KEY, bounds.max_load_memory_mb),
    ):
        latest = next((m[key_name] for m in records if _number(m.get(key_name))), None)
        if latest is None:
            continue
        metadata[f"latest_{side}_peak_memory_mb"] = float(latest)
        if bound is not None and latest > bound:
            findings.append(f"the latest {side} needed {latest:,.1f} MB, over {bound:,.1f} MB")
    passed = not findings
    description = "; ".join(findings or notes)
    return dg.AssetCheckResult(
        passed=passed,
        severity=bounds.severity,
        description=description[0].upper() + description[1:],
        metadata=metadata,
    )


def _judge_speed(
    side: str,
    records: Sequence[Mapping[str, Any]],
    per_mb: Callable[[Mapping[str, Any]], tuple[float, float] | None],
    bounds: IoBounds,
    findings: list[str],
    notes: list[str],
    metadata: dict[str, Any],
) -> None:
    """Adds to ``findings`` when the latest measured ``side`` is slower per MB than
    ``bounds.slowdown`` times the median of the ones before; to ``notes`` why it was not
    judged, or that it kept its speed."""
    measured = [figures for figures in map(per_mb, records) if figures is not None]
    if not measured:
        notes.append(f"no {side} with figures recorded yet")
        return
    (latest_per_mb, latest_seconds), earlier = measured[0], measured[1 : bounds.window + 1]
    metadata[f"latest_{side}_seconds_per_mb"] = round(latest_per_mb, 6)
    if len(earlier) < MIN_HISTORY:
        notes.append(
            f"{side}s not judged: {len(earlier)} earlier measured {side}(s), "
            f"{MIN_HISTORY} needed for a median"
        )
        return
    median = statistics.median(per for per, _ in earlier)
    ratio = latest_per_mb / median if median > 0 else 0.0
    metadata[f"median_{side}_seconds_per_mb"] = round(median, 6)
    metadata[f"{side}_slowdown"] = round(ratio, 2)
    metadata[f"{side}_window"] = len(earlier)
    if ratio > bounds.slowdown and latest_seconds >= bounds.min_seconds:
        findings.append(
            f"the latest {side} took {latest_per_mb:.4g} s/MB, {ratio:.1f}x the median "
            f"{median:.4g} s/MB of the previous {len(earlier)} (bound {bounds.slowdown}x)"
        )
    else:
        notes.append(f"latest {side} {ratio:.1f}x the median s/MB of the previous {len(earlier)}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _write_seconds_per_mb(metadata: Mapping[str, Any]) -> tuple[float, float] | None:
    """(seconds per raw MB, seconds) of a write; None for an unchanged output (only hashed)
    or one without figures. The unprefixed keys of earlier versions count too."""
    if metadata.get("unchanged") is True:
        return None
    seconds = metadata.get(WRITE_SECONDS_KEY, metadata.get("write_seconds"))
    raw = metadata.get(WRITE_RAW_BYTES_KEY, metadata.get("raw_bytes"))
    return _per_mb(seconds, raw)


def _load_seconds_per_mb(metadata: Mapping[str, Any]) -> tuple[float, float] | None:
    """(seconds per stored MB, seconds) of a load; None for a lazy one (nothing read)."""
    return _per_mb(metadata.get(LOAD_SECONDS_KEY), metadata.get(LOAD_BYTES_KEY))


def _per_mb(seconds: Any, size: Any) -> tuple[float, float] | None:
    if not (_number(seconds) and _number(size)) or seconds <= 0 or size <= 0:
        return None
    return seconds / (size / 1e6), float(seconds)
