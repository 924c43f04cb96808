"""Measures, on this machine, our write and read against pickle, pyarrow feather and Parquet:
what `fastio bench` runs and what `fastio plan` reads back as a profile."""

from __future__ import annotations

import gc
import json
import os
import pickle
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from dagster_fastio.api import COMPRESSIONS, delete, read, write

DEFAULT_PROFILE = Path.home() / ".cache" / "dagster-fastio" / "profile.json"


@dataclass
class MethodResult:
    method: str
    where: str
    write_s: float
    read_s: float
    stored_bytes: int
    raw_bytes: int

    @property
    def row(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "write_mb_s": self.raw_bytes / 1e6 / self.write_s,
            "read_mb_s": self.raw_bytes / 1e6 / self.read_s,
            "ratio": self.raw_bytes / self.stored_bytes,
        }


def timed(action: Callable[[], object]) -> float:
    """Seconds one call takes, after a garbage collection so earlier rounds do not leak in."""
    gc.collect()
    start = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def _methods(
    table: pa.Table, folder: Path, store: str | None, options: dict[str, str] | None
) -> dict[str, tuple[str, Callable[[], int], Callable[[], object]]]:
    """name -> (where, write returning the stored bytes, read)."""
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    def ours(codec: str) -> tuple[str, Callable[[], int], Callable[[], object]]:
        uri = (
            f"{store.rstrip('/')}/bench-{codec}.arrow" if store else str(folder / f"{codec}.arrow")
        )

        def write_ours() -> int:
            return write(table, uri, compression=codec, storage_options=options).stored_bytes  # type: ignore[arg-type]

        return (
            "store" if store else "local",
            write_ours,
            lambda: read(uri, storage_options=options),
        )

    def feather_codec(codec: str) -> tuple[str, Callable[[], int], Callable[[], object]]:
        path = folder / f"feather-{codec}.arrow"

        def write_feather() -> int:
            feather.write_feather(table, path, compression=codec)
            return path.stat().st_size

        return ("local", write_feather, lambda: feather.read_table(path))

    pickle_path = folder / "table.pickle"

    def write_pickle() -> int:
        data = pickle.dumps(table, protocol=5)
        pickle_path.write_bytes(data)
        return len(data)

    parquet_path = folder / "table.parquet"

    def write_parquet() -> int:
        pq.write_table(table, parquet_path)
        return parquet_path.stat().st_size

    return {
        "pickle": ("local", write_pickle, lambda: pickle.loads(pickle_path.read_bytes())),
        "fastio zstd": ours("zstd"),
        "fastio lz4": ours("lz4"),
        "fastio none": ours("none"),
        "pyarrow feather zstd": feather_codec("zstd"),
        "pyarrow feather lz4": feather_codec("lz4"),
        "parquet (snappy)": ("local", write_parquet, lambda: pq.read_table(parquet_path)),
    }


def run(
    table: pa.Table,
    rounds: int,
    store: str | None = None,
    storage_options: dict[str, str] | None = None,
) -> list[MethodResult]:
    """Writes and reads `table` with every method, interleaved; medians of `rounds`."""
    folder = Path(tempfile.mkdtemp(prefix="fastio-bench-"))
    try:
        methods = _methods(table, folder, store, storage_options)
        samples: dict[str, dict[str, list[float]]] = {name: {"w": [], "r": []} for name in methods}
        stored: dict[str, int] = {}
        for _ in range(rounds):
            for name, (_, write_once, read_once) in methods.items():
                gc.collect()
                start = time.perf_counter()
                stored[name] = write_once()
                samples[name]["w"].append(time.perf_counter() - start)
                samples[name]["r"].append(timed(read_once))
        return [
            MethodResult(
                method=name,
                where=methods[name][0],
                write_s=statistics.median(samples[name]["w"]),
                read_s=statistics.median(samples[name]["r"]),
                stored_bytes=stored[name],
                raw_bytes=table.nbytes,
            )
            for name in methods
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if store:
            for codec in COMPRESSIONS:
                delete(f"{store.rstrip('/')}/bench-{codec}.arrow", storage_options)


def profile(results: list[MethodResult], data: str) -> dict[str, Any]:
    """What `plan` needs, with where and when it was measured."""
    return {
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "data": data,
        "methods": {
            r.method: {k: r.row[k] for k in ("write_mb_s", "read_mb_s", "ratio", "where")}
            for r in results
        },
    }


def save_profile(content: dict[str, Any], path: Path = DEFAULT_PROFILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content, indent=2))
    temporary.replace(path)
    return path


def load_profile(path: Path) -> dict[str, dict[str, float]]:
    """The per-method speeds and ratios of a saved profile; a clear error when unusable."""
    try:
        return load_profile_content(json.loads(Path(path).read_text()))
    except ValueError as error:
        raise ValueError(f"{path} is not a profile written by `fastio bench`: {error}") from error


def load_profile_content(content: dict[str, Any]) -> dict[str, dict[str, float]]:
    try:
        methods = content["methods"]
        return {
            name: {key: float(methods[name][key]) for key in ("write_mb_s", "read_mb_s", "ratio")}
            for name in methods
        }
    except (KeyError, TypeError) as error:
        raise ValueError(f"missing {error}") from error
