"""The figures of ``fastio report``: per asset (or partition) what its writes and loads in a
window cost, the trend against the window before, what pickle would have cost, and what a
month costs at given prices. Plain arithmetic on recorded metadata: no Dagster, no I/O.

MB are 10^6 bytes, GB 10^9; a month is ``DAYS_PER_MONTH`` days.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from dagster_fastio.cli.planning import DAYS_PER_MONTH
from dagster_fastio.keys import (
    LOAD_BYTES_KEY,
    LOAD_PEAK_MEMORY_MB_KEY,
    LOAD_ROWS_KEY,
    LOAD_SECONDS_KEY,
    PARTITION_ROW_COUNT_KEY,
    ROW_COUNT_KEY,
    WRITE_PEAK_MEMORY_MB_KEY,
    WRITE_RAW_BYTES_KEY,
    WRITE_SECONDS_KEY,
    WRITE_STORED_BYTES_KEY,
)

__all__ = [
    "PICKLE_PROFILES",
    "Figures",
    "PickleProfile",
    "Prices",
    "figures_of",
    "is_remote_event",
    "split_ranges",
    "totals_of",
]


class Event(Protocol):
    """What is read of a recorded write or load (``io_manager.io_history.IoEvent``)."""

    timestamp: float
    partition: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class PickleProfile:
    """What pickle cost against FastIOManager in one run of ``benches/``: seconds as ratios
    (pickle's over ours, per compression), which carry over to another machine's measured
    seconds; stored bytes and memory per MB of the table in memory."""

    manager: str
    source: str
    write_ratio: dict[str, float]
    load_ratio: dict[str, float]
    stored_per_mb: float
    write_peak_per_mb: float
    load_peak_per_mb: float

    def ratios(self, compression: Any) -> tuple[float, float]:
        """(write, load) seconds ratios for ``compression`` (lz4's for any other)."""
        name = compression if compression in self.write_ratio else "lz4"
        return self.write_ratio[name], self.load_ratio[name]


# From benches/RESULTS.md. Local disk: "Dagster handoff", flights x8 as a pandas frame of
# 447.1 MB; FilesystemIOManager wrote in 0.742 s and loaded in 0.274 s, FastIOManager lz4 in
# 0.463 and 0.334 s, zstd in 0.629 and 0.354 s; pickle stored 447.1 MB and peaked at 697 MB
# (write) and 571 MB (load). Stores: "Object store", loopback, 507 MB of Arrow data;
# S3PickleIOManager wrote in 6.06 s and loaded in 4.58 s, FastIOManager zstd in 1.71 and
# 1.50 s, lz4 in 1.99 and 1.34 s; pickle stored 559 MB, peaked at 781 and 1,272 MB.
PICKLE_PROFILES = {
    "local": PickleProfile(
        manager="FilesystemIOManager",
        source="benches/RESULTS.md, Dagster handoff, flights x8 (pandas), measured 2026-12-06",
        write_ratio={"lz4": 0.742 / 0.463, "zstd": 0.742 / 0.629},
        load_ratio={"lz4": 0.274 / 0.334, "zstd": 0.274 / 0.354},
        stored_per_mb=447.1 / 447.1,
        write_peak_per_mb=697 / 447.1,
        load_peak_per_mb=571 / 447.1,
    ),
    "store": PickleProfile(
        manager="S3PickleIOManager",
        source="benches/RESULTS.md, Object store (S3, loopback), 507 MB, measured 2026-12-01",
        write_ratio={"lz4": 6.06 / 1.99, "zstd": 6.06 / 1.71},
        load_ratio={"lz4": 4.58 / 1.34, "zstd": 4.58 / 1.50},
        stored_per_mb=559 / 507,
        write_peak_per_mb=781 / 507,
        load_peak_per_mb=1272 / 507,
    ),
}


@dataclass(frozen=True)
class Prices:
    storage_usd_gb_month: float
    transfer_usd_gb: float


@dataclass
class Figures:
    """One asset's (or partition's) figures; None where nothing was recorded."""

    asset: str
    partition: str | None
    materializations: int
    unchanged: int
    rows_written: int | None
    latest_rows: int | None
    raw_bytes_written: int
    stored_bytes_written: int
    latest_raw_bytes: int | None
    latest_stored_bytes: int | None
    write_seconds: float
    write_mb_per_s: float | None
    write_peak_memory_mb: float | None
    loads: int
    load_seconds: float
    load_bytes: int
    load_rows: int | None
    load_mb_per_s: float | None
    load_peak_memory_mb: float | None
    previous_materializations: int
    previous_loads: int
    write_trend: float | None
    """Median seconds per MB of the window's writes over the previous window's (>1: slower)."""
    load_trend: float | None
    held_files: int | None
    held_bytes: int | None
    pickle: dict[str, Any]
    cost: dict[str, float | None]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def figures_of(
    asset: str,
    partition: str | None,
    writes: Sequence[Event],
    loads: Sequence[Event],
    previous_writes: Sequence[Event],
    previous_loads: Sequence[Event],
    held: tuple[int, int] | None,
    window_days: float,
    prices: Prices,
    pickle: PickleProfile,
) -> Figures:
    """``writes`` and ``loads`` in the window, newest first; ``held`` (files, bytes) stored now,
    None when the store was not listed."""
    meta = [w.metadata for w in writes]
    changed = [m for m in meta if m.get("unchanged") is not True]
    raw = sum(_int(m.get(WRITE_RAW_BYTES_KEY)) for m in changed)
    stored = sum(_int(m.get(WRITE_STORED_BYTES_KEY)) for m in changed)
    changed_seconds = sum(_float(m.get(WRITE_SECONDS_KEY)) for m in changed)
    rows = [r for r in map(_rows, meta) if r is not None]
    load_meta = [event.metadata for event in loads]
    load_bytes = sum(_int(m.get(LOAD_BYTES_KEY)) for m in load_meta)
    load_seconds = sum(_float(m.get(LOAD_SECONDS_KEY)) for m in load_meta)
    load_rows = [r for r in (m.get(LOAD_ROWS_KEY) for m in load_meta) if _number(r)]
    latest = meta[0] if meta else {}
    # Raw MB per stored MB, to tell pickle's size from ours and a load's raw MB from its bytes.
    expansion = (raw / stored) if stored else _latest_expansion(meta)
    held_files, held_bytes = held if held is not None else (None, None)
    figures = Figures(
        asset=asset,
        partition=partition,
        materializations=len(writes),
        unchanged=len(meta) - len(changed),
        rows_written=sum(_rows(m) or 0 for m in changed) if rows else None,
        latest_rows=_rows(latest),
        raw_bytes_written=raw,
        stored_bytes_written=stored,
        latest_raw_bytes=_opt_int(latest.get(WRITE_RAW_BYTES_KEY)),
        latest_stored_bytes=_opt_int(latest.get(WRITE_STORED_BYTES_KEY)),
        write_seconds=round(sum(_float(m.get(WRITE_SECONDS_KEY)) for m in meta), 4),
        write_mb_per_s=_rate(raw, changed_seconds),
        write_peak_memory_mb=_max(m.get(WRITE_PEAK_MEMORY_MB_KEY) for m in meta),
        loads=len(loads),
        load_seconds=round(load_seconds, 4),
        load_bytes=load_bytes,
        load_rows=sum(load_rows) if load_rows else None,
        load_mb_per_s=_rate(load_bytes, load_seconds),
        load_peak_memory_mb=_max(m.get(LOAD_PEAK_MEMORY_MB_KEY) for m in load_meta),
        previous_materializations=len(previous_writes),
        previous_loads=len(previous_loads),
        write_trend=_trend(writes, previous_writes, _write_per_mb),
        load_trend=_trend(loads, previous_loads, _load_per_mb),
        held_files=held_files,
        held_bytes=held_bytes,
        pickle={},
        cost={},
    )
    figures.pickle = _at_pickle(figures, expansion, meta, pickle)
    figures.cost = _cost(figures, figures.pickle, window_days, prices)
    return figures


@dataclass(frozen=True)
class Share:
    """A partition's share of a write that stored several partitions at once."""

    timestamp: float
    partition: str | None
    metadata: dict[str, Any]


def split_ranges(writes: Sequence[Event]) -> tuple[list[Event], list[Event]]:
    """(the writes counted once each, the writes as each partition's own).

    A run that writes a range of partitions in one output (a single-run backfill) records
    one materialization per partition, each carrying the whole write's figures
    (``partition_rows``, ``written_rows``, bytes and seconds of all of them): counted once per
    run for the asset, and shared out by rows for each partition."""
    once: list[Event] = []
    shares: list[Event] = []
    seen: set[tuple[str, float | None]] = set()
    for event in writes:
        by_partition = event.metadata.get("partition_rows")
        if not isinstance(by_partition, dict) or event.partition is None:
            once.append(event)
            shares.append(event)
            continue
        run = (str(getattr(event, "run_id", "")), event.metadata.get(WRITE_SECONDS_KEY))
        if run not in seen:
            seen.add(run)
            once.append(event)
        total = sum(v for v in by_partition.values() if _number(v))
        rows = by_partition.get(event.partition)
        share = rows / total if _number(rows) and total > 0 else 0.0
        metadata = dict(event.metadata)
        for key in (WRITE_RAW_BYTES_KEY, WRITE_STORED_BYTES_KEY):
            if _number(metadata.get(key)):
                metadata[key] = round(metadata[key] * share)
        if _number(metadata.get(WRITE_SECONDS_KEY)):
            metadata[WRITE_SECONDS_KEY] = metadata[WRITE_SECONDS_KEY] * share
        metadata[PARTITION_ROW_COUNT_KEY] = rows if _number(rows) else None
        shares.append(Share(event.timestamp, event.partition, metadata))
    return once, shares


def totals_of(figures: Iterable[Figures]) -> dict[str, Any]:
    """Sums over assets (maxima for memory peaks)."""
    rows = list(figures)
    total: dict[str, Any] = {"assets": len({f.asset for f in rows})}
    for name in (
        "materializations",
        "unchanged",
        "raw_bytes_written",
        "stored_bytes_written",
        "write_seconds",
        "loads",
        "load_seconds",
        "load_bytes",
    ):
        total[name] = round(sum(getattr(f, name) for f in rows), 4)
    total["held_bytes"] = _sum_known(f.held_bytes for f in rows)
    total["held_files"] = _sum_known(f.held_files for f in rows)
    total["write_mb_per_s"] = _rate(
        total["raw_bytes_written"],
        sum(f.raw_bytes_written / 1e6 / f.write_mb_per_s for f in rows if f.write_mb_per_s),
    )
    total["load_mb_per_s"] = _rate(total["load_bytes"], total["load_seconds"])
    for name in ("write_peak_memory_mb", "load_peak_memory_mb"):
        total[name] = _max(getattr(f, name) for f in rows)
    for part in ("pickle", "cost"):
        keys = {key for f in rows for key in getattr(f, part)}
        total[part] = {
            key: (
                _max(getattr(f, part).get(key) for f in rows)
                if key.endswith("peak_memory_mb")
                else _sum_known(getattr(f, part).get(key) for f in rows)
            )
            for key in sorted(keys)
        }
    return total


def is_remote_event(metadata: Mapping[str, Any]) -> bool:
    uri = str(metadata.get("dagster/uri") or metadata.get("path") or "")
    scheme, sep, _ = uri.partition("://")
    return bool(sep) and scheme.lower() != "file"


def _at_pickle(
    figures: Figures, expansion: float | None, meta: list[dict[str, Any]], pickle: PickleProfile
) -> dict[str, Any]:
    """Pickle's figures for the same writes and loads: seconds are ours times the measured
    ratio; sizes and memory follow the raw (in-memory) MB, recovered from stored bytes by
    the asset's own compression ratio (``expansion``) where only those are known."""
    write_ratio, load_ratio = pickle.ratios(meta[0].get("compression") if meta else None)
    written = round(figures.raw_bytes_written * pickle.stored_per_mb)
    loaded = figures.load_bytes * expansion * pickle.stored_per_mb if expansion else None
    held = (
        figures.held_bytes * expansion * pickle.stored_per_mb
        if figures.held_bytes is not None and expansion
        else None
    )
    moved: float | None = written
    if figures.loads:
        moved = None if loaded is None else written + loaded
    peak_raw_mb = (_max(m.get(WRITE_RAW_BYTES_KEY) for m in meta) or 0) / 1e6
    return {
        "manager": pickle.manager,
        "stored_bytes_written": written,
        "moved_bytes": None if moved is None else round(moved),
        "held_bytes": None if held is None else round(held),
        "write_seconds": round(figures.write_seconds * write_ratio, 4),
        "load_seconds": round(figures.load_seconds * load_ratio, 4) if figures.loads else None,
        "write_peak_memory_mb": round(peak_raw_mb * pickle.write_peak_per_mb, 1) if meta else None,
        "load_peak_memory_mb": round(peak_raw_mb * pickle.load_peak_per_mb, 1)
        if meta and figures.loads
        else None,
    }


def _cost(
    figures: Figures, pickle: Mapping[str, Any], window_days: float, prices: Prices
) -> dict[str, float | None]:
    """A month: what is held now kept for a month, and the window's traffic (bytes written and
    loaded) at the window's pace."""
    per_month = DAYS_PER_MONTH / window_days if window_days > 0 else 0.0

    def storage(held: int | None) -> float | None:
        return None if held is None else round(held / 1e9 * prices.storage_usd_gb_month, 4)

    def transfer(moved: float | None) -> float | None:
        if moved is None:
            return None
        return round(moved / 1e9 * per_month * prices.transfer_usd_gb, 4)

    return {
        "storage_usd_month": storage(figures.held_bytes),
        "transfer_usd_month": transfer(figures.stored_bytes_written + figures.load_bytes),
        "pickle_storage_usd_month": storage(pickle.get("held_bytes")),
        "pickle_transfer_usd_month": transfer(pickle.get("moved_bytes")),
    }


def _trend(window: Sequence[Event], previous: Sequence[Event], per_mb: Any) -> float | None:
    now = [v for v in (per_mb(e.metadata) for e in window) if v is not None]
    before = [v for v in (per_mb(e.metadata) for e in previous) if v is not None]
    if not now or not before:
        return None
    earlier = statistics.median(before)
    return round(statistics.median(now) / earlier, 2) if earlier > 0 else None


def _write_per_mb(metadata: Mapping[str, Any]) -> float | None:
    if metadata.get("unchanged") is True:
        return None
    return _per_mb(metadata.get(WRITE_SECONDS_KEY), metadata.get(WRITE_RAW_BYTES_KEY))


def _load_per_mb(metadata: Mapping[str, Any]) -> float | None:
    return _per_mb(metadata.get(LOAD_SECONDS_KEY), metadata.get(LOAD_BYTES_KEY))


def _per_mb(seconds: Any, size: Any) -> float | None:
    if not (_number(seconds) and _number(size)) or seconds <= 0 or size <= 0:
        return None
    return seconds / (size / 1e6)


def _latest_expansion(meta: list[dict[str, Any]]) -> float | None:
    for m in meta:
        raw, stored = m.get(WRITE_RAW_BYTES_KEY), m.get(WRITE_STORED_BYTES_KEY)
        if _number(raw) and _number(stored) and stored > 0:
            return raw / stored
    return None


def _rows(metadata: Mapping[str, Any]) -> int | None:
    """Rows the write stored: a partition's own count before the asset's total, which a
    partitioned asset's materialization may also carry."""
    for key in (PARTITION_ROW_COUNT_KEY, "written_rows", ROW_COUNT_KEY):
        if _number(metadata.get(key)):
            return int(metadata[key])
    return None


def _rate(size: float, seconds: float) -> float | None:
    return round(size / 1e6 / seconds, 1) if seconds > 0 and size > 0 else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int(value: Any) -> int:
    return int(value) if _number(value) else 0


def _opt_int(value: Any) -> int | None:
    return int(value) if _number(value) else None


def _float(value: Any) -> float:
    return float(value) if _number(value) else 0.0


def _max(values: Iterable[Any]) -> float | None:
    numbers = [float(v) for v in values if _number(v)]
    return max(numbers) if numbers else None


def _sum_known(values: Iterable[Any]) -> Any:
    numbers = [v for v in values if _number(v)]
    return round(sum(numbers), 4) if numbers else None
