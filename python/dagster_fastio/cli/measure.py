"""Measures, on this machine and the user's data, what `fastio bench` reports and `fastio plan`
reads back as a profile: for each method (pickle as FilesystemIOManager stores it, FastIOManager
Arrow IPC lz4 and zstd, Parquet zstd) and each frame type (pandas, polars), the write and the
load each in a fresh process (`fresh_step`), rounds interleaved, medians and ranges of the
seconds and of the peak memory each call added."""

from __future__ import annotations

import gc
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from dagster_fastio.cli.fresh_step import FRAMES, METHODS, Step, run_step

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILE_KIND",
    "MethodResult",
    "load_profile",
    "load_profile_content",
    "profile",
    "run",
    "save_profile",
    "timed",
]

DEFAULT_PROFILE = Path.home() / ".cache" / "dagster-fastio" / "profile.json"
PROFILE_KIND = "fresh-process"
"""Profiles of this kind hold per-process figures; older in-process profiles are refused."""


@dataclass
class MethodResult:
    """One method and frame type: medians and (min, max) over the rounds."""

    method: str
    frame: str
    where: str
    rounds: int
    rows: int
    frame_bytes: int
    stored_bytes: int
    baseline_bytes: int
    """The step process's resident set before the call (imports, the frame for a write)."""
    write_s: tuple[float, float, float]
    load_s: tuple[float, float, float]
    write_peak_bytes: tuple[int, int, int] | None
    load_peak_bytes: tuple[int, int, int] | None

    @property
    def row(self) -> dict[str, Any]:
        """Flat figures in MB and seconds (decimal MB)."""
        row: dict[str, Any] = {
            "method": self.method,
            "frame": self.frame,
            "where": self.where,
            "rounds": self.rounds,
            "rows": self.rows,
            "frame_mb": self.frame_bytes / 1e6,
            "stored_mb": self.stored_bytes / 1e6,
            "ratio": self.frame_bytes / max(self.stored_bytes, 1),
            "baseline_mb": self.baseline_bytes / 1e6,
        }
        for name in ("write", "load"):
            low, middle, high = getattr(self, f"{name}_s")
            row[f"{name}_s"], row[f"{name}_s_min"], row[f"{name}_s_max"] = middle, low, high
            peak = getattr(self, f"{name}_peak_bytes")
            for suffix, value in zip(("_min", "", "_max"), peak or (None,) * 3, strict=True):
                row[f"{name}_peak_mb{suffix}"] = None if value is None else value / 1e6
        return row


def timed(action: Callable[[], object]) -> float:
    """Seconds one call takes, after a garbage collection so earlier rounds do not leak in."""
    gc.collect()
    start = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def _spread(values: Sequence[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def _write_source(table: pa.Table, folder: Path) -> Path:
    """The table as an uncompressed Arrow IPC file each write step maps and converts."""
    path = folder / "source.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return path


def _forget(base: str, key: str, store: bool, options: dict[str, str] | None) -> None:
    """Removes what one round stored, so a long run does not fill the disk."""
    if store:
        from dagster_fastio.api import delete

        for suffix in ("", ".arrow", ".parquet"):
            delete(f"{base}/{key}{suffix}", options)
        return
    for path in Path(base).glob(f"{key}*"):
        path.unlink(missing_ok=True)


def run(
    table: pa.Table,
    rounds: int,
    store: str | None = None,
    storage_options: dict[str, str] | None = None,
    methods: Sequence[str] = METHODS,
    frames: Sequence[str] = FRAMES,
    progress: Callable[[str], None] | None = None,
) -> list[MethodResult]:
    """Writes `table` as each frame type with each method, then loads it, every call in a
    fresh process; rounds interleaved (every case once per round, write then load); medians
    and ranges over `rounds`. With `store`, FastIOManager's files go there, and on s3:// the
    pickles too (S3PickleIOManager, dagster-aws); otherwise pickle is FilesystemIOManager's,
    in a local folder."""
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    for frame in frames:
        if frame not in FRAMES:
            raise ValueError(f"unknown frame {frame!r}: expected one of {', '.join(FRAMES)}")
    if store and store.startswith("memory://"):
        raise ValueError(
            "memory:// lives inside one process, and every step runs in a fresh one: give a "
            "local folder, file://, s3://, gs:// or az:// store"
        )
    folder = Path(tempfile.mkdtemp(prefix="fastio-bench-"))
    remote = f"{store.rstrip('/')}/fastio-bench-{uuid.uuid4().hex[:12]}" if store else None
    samples: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    try:
        source = str(_write_source(table, folder))
        for number in range(rounds):
            for method in methods:
                for frame in frames:
                    on_store = _on_store(remote, method)
                    base = remote if on_store else str(folder / "base")
                    key = f"{method}-{frame}-{number}"
                    if progress:
                        progress(f"round {number + 1}/{rounds}: {method}, {frame}")
                    options = storage_options if on_store else None
                    written = run_step(
                        Step(method, frame, "write", source, base, key, options)  # type: ignore[arg-type]
                    )
                    loaded = run_step(
                        Step(method, frame, "load", source, base, key, options)  # type: ignore[arg-type]
                    )
                    _forget(base, key, on_store, options)  # type: ignore[arg-type]
                    samples.setdefault((method, frame), []).append((written, loaded))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [_result(method, frame, remote, pairs) for (method, frame), pairs in samples.items()]


def _on_store(remote: str | None, method: str) -> bool:
    """FastIOManager goes to any store; pickle to S3 only (S3PickleIOManager), else to a local
    folder (FilesystemIOManager)."""
    return remote is not None and (method != "pickle" or remote.startswith("s3://"))


def _result(
    method: str, frame: str, remote: str | None, pairs: list[tuple[dict, dict]]
) -> MethodResult:
    writes = [w for w, _ in pairs]
    loads = [lo for _, lo in pairs]

    def peaks(steps: list[dict]) -> tuple[int, int, int] | None:
        values = [s["peak_bytes"] for s in steps]
        if any(v is None for v in values):
            return None
        low, middle, high = _spread(values)
        return int(low), int(middle), int(high)

    return MethodResult(
        method=method,
        frame=frame,
        where="store" if _on_store(remote, method) else "local",
        rounds=len(pairs),
        rows=loads[-1]["rows"],
        frame_bytes=int(statistics.median(w["frame_bytes"] for w in writes)),
        stored_bytes=int(statistics.median(w["stored_bytes"] for w in writes)),
        baseline_bytes=int(statistics.median(lo["baseline_bytes"] or 0 for lo in loads)),
        write_s=_spread([w["seconds"] for w in writes]),
        load_s=_spread([lo["seconds"] for lo in loads]),
        write_peak_bytes=peaks(writes),
        load_peak_bytes=peaks(loads),
    )


def versions() -> dict[str, str]:
    """The libraries the figures depend on, as installed."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("dagster", "pandas", "polars", "pyarrow", "dagster-fastio"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def profile(results: list[MethodResult], data: str) -> dict[str, Any]:
    """What `plan` needs, with where, when and with what it was measured."""
    methods: dict[str, dict[str, Any]] = {}
    for result in results:
        methods.setdefault(result.method, {})[result.frame] = result.row
    return {
        "kind": PROFILE_KIND,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "versions": versions(),
        "data": data,
        "methods": methods,
    }


def save_profile(content: dict[str, Any], path: Path = DEFAULT_PROFILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content, indent=2))
    temporary.replace(path)
    return path


_NEEDED = ("frame_mb", "stored_mb", "write_s", "load_s", "baseline_mb")


def load_profile(path: Path) -> dict[str, dict[str, dict[str, float | None]]]:
    """method -> frame -> figures of a saved profile; a clear error when unusable."""
    try:
        return load_profile_content(json.loads(Path(path).read_text()))
    except ValueError as error:
        raise ValueError(f"{path} is not a profile written by `fastio bench`: {error}") from error


def load_profile_content(content: dict[str, Any]) -> dict[str, dict[str, dict[str, float | None]]]:
    if not isinstance(content, dict) or content.get("kind") != PROFILE_KIND:
        raise ValueError(
            "no per-process figures (a profile from an earlier version measured in one "
            "process); run `fastio bench` again"
        )
    try:
        measured: dict[str, dict[str, dict[str, float | None]]] = {}
        for method, by_frame in content["methods"].items():
            if method not in METHODS:
                continue
            for frame, row in by_frame.items():
                figures: dict[str, float | None] = {k: float(row[k]) for k in _NEEDED}
                figures["on_store"] = 1.0 if row.get("where") == "store" else 0.0
                for key in ("write_peak_mb", "load_peak_mb"):
                    figures[key] = None if row.get(key) is None else float(row[key])
                if figures["frame_mb"] <= 0 or figures["stored_mb"] <= 0:  # type: ignore[operator]
                    raise ValueError(f"{method} {frame}: sizes must be positive")
                measured.setdefault(method, {})[frame] = figures
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"missing {error}") from error
    if not measured:
        raise ValueError("no methods")
    return measured
