"""Shared pieces of the benchmark scripts: timing, the machine line, and RESULTS.md sections."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path

from dagster_fastio import measure

__all__ = ["RESULTS", "machine", "stamp", "timed", "write_section"]

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def timed(action) -> float:
    """Seconds one call takes, from a clean page cache: the dirty pages an earlier method left
    are written back first, so their writeback is not charged to whichever method runs next
    (interleaved runs otherwise penalise the method after a large uncompressed write)."""
    os.sync()
    return measure.timed(action)


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
