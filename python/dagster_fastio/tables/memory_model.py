"""Will an eager load fit? The memory a load of a stored table is expected to add, from its
Arrow size and what each loaded type was measured to need, and the memory this process may
still take. No Dagster import.

The peaks per Arrow byte are fresh-process measurements (``benches/bench_dagster.py``, flights
x8, pandas 3.1.1, polars 2.1.0, pyarrow 26.0.1; benches/RESULTS.md): a pandas frame added
1.26 bytes per Arrow byte, a polars frame 1.50; a pyarrow table is the Arrow bytes plus the
compressed file read beside them. Small tables add a fixed amount on top (the decoder's
threads and the conversion's set-up), measured at about 15 MB for a 1 KB table.
"""

from __future__ import annotations

import os

__all__ = ["LOAD_PEAK_PER_BYTE", "available_memory", "expected_load_peak"]

LOAD_PEAK_PER_BYTE: dict[str, float] = {
    "pandas.DataFrame": 1.3,
    "polars.DataFrame": 1.5,
    "pyarrow.Table": 1.2,
}
"""Peak memory a load adds per byte of Arrow data, by the loaded type's name (rounded up)."""

FIXED_LOAD_BYTES = 16 * 10**6
"""What any load adds whatever its size."""

DEFAULT_PEAK_PER_BYTE = 1.5
"""For a type not measured: as the largest measured."""


def expected_load_peak(arrow_bytes: int, type_name: str | None) -> int:
    """The memory an eager load of ``arrow_bytes`` of Arrow data into ``type_name`` adds."""
    factor = LOAD_PEAK_PER_BYTE.get(type_name or "", DEFAULT_PEAK_PER_BYTE)
    return FIXED_LOAD_BYTES + int(arrow_bytes * factor)


def available_memory() -> int | None:
    """Bytes this process may still take: the room left under its cgroup's limit or the
    machine's available memory, whichever is less; None where neither can be read."""
    found = [room for room in (_cgroup_room(), _machine_available()) if room is not None]
    return min(found) if found else None


def _cgroup_room() -> int | None:
    """Room under this process's cgroup memory limit: v2 (``memory.max`` of the ``0::`` group)
    or v1 (``memory.limit_in_bytes`` of the ``memory`` controller's group); None unlimited."""
    try:
        with open("/proc/self/cgroup") as lines:
            groups = dict(line.strip().split(":", 2)[1:] for line in lines if line.count(":") >= 2)
    except OSError:
        return None
    places = []
    if "" in groups:
        folder = os.path.join("/sys/fs/cgroup", groups[""].lstrip("/"))
        places.append((folder, "memory.max", "memory.current"))
    if "memory" in groups:
        folder = os.path.join("/sys/fs/cgroup/memory", groups["memory"].lstrip("/"))
        places.append((folder, "memory.limit_in_bytes", "memory.usage_in_bytes"))
    for folder, limit_name, usage_name in places:
        try:
            with open(os.path.join(folder, limit_name)) as limit_file:
                limit = limit_file.read().strip()
            with open(os.path.join(folder, usage_name)) as usage_file:
                usage = int(usage_file.read().strip())
        except (OSError, ValueError):
            continue
        # v2 says "max" without a limit; v1 a number near 2**63.
        if limit != "max" and int(limit) < 1 << 60:
            return max(int(limit) - usage, 0)
    return None


def _machine_available() -> int | None:
    try:
        with open("/proc/meminfo") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
