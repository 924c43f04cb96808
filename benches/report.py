"""Shared pieces of the benchmark scripts: timing, peak memory, the machine line, and
RESULTS.md sections."""

from __future__ import annotations

import datetime as dt
import gc
import importlib.metadata
import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from dagster_fastio import measure

__all__ = ["RESULTS", "machine", "measured", "stamp", "timed", "versions", "write_section"]

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def timed(action) -> float:
    """Seconds one call takes, from a clean page cache: the dirty pages an earlier method left
    are written back first, so their writeback is not charged to whichever method runs next
    (interleaved runs otherwise penalise the method after a large uncompressed write)."""
    os.sync()
    return measure.timed(action)


def _status(field: str) -> int:
    """A byte count of this process's /proc/self/status (VmRSS, VmHWM)."""
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def measured(action: Callable[[], Any], sync_inside: bool = False) -> tuple[float, int, Any]:
    """Seconds one call takes, the peak resident memory it adds (VmHWM, reset to the current
    RSS first, minus the RSS before the call), and what it returned. Linux only.

    Dirty pages are written back (`os.sync()`) before the clock starts, so an earlier call's
    writeback is not charged to this one; with `sync_inside`, the call's own are written back
    before the clock stops."""
    gc.collect()
    # pyarrow's pool keeps freed pages for reuse: returned to the system first, so that the
    # call's Arrow allocations count in its peak rather than reuse earlier memory unseen.
    pa.default_memory_pool().release_unused()
    os.sync()
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM, the peak resident set
    start = time.perf_counter()
    result = action()
    if sync_inside:
        os.sync()
    seconds = time.perf_counter() - start
    return seconds, _status("VmHWM") - before, result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"
    )


def stamp(versions: str) -> str:
    """One line: when, where, with what."""
    now = dt.datetime.now(dt.timezone.utc)
    return f"Measured {now:%Y-%m-%d %H:%M} UTC on {machine()}; {versions}."


def versions(*distributions: str) -> str:
    """`name version` of each distribution, for the stamp: the installed one's, else (a source
    tree on PYTHONPATH) the module's own `__version__`."""
    return ", ".join(f"{name} {_version(name)}" for name in distributions)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        module = importlib.import_module(name.replace("-", "_"))
        return f"{module.__version__} (source tree)"


def write_section(name: str, text: str, path: Path = RESULTS) -> None:
    """Replaces the section `name` of the report (or appends it), leaving the others alone."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    current = (
        path.read_text() if path.exists() else "# Benchmark results\n\nProduced by `make bench`.\n"
    )
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip() + "\n\n" + block + "\n"
    path.write_text(updated)
