"""The memory a call needed, measured: the process's peak resident set during the call minus
its resident set before it, the figure the benchmarks report (benches/RESULTS.md).

On Linux the peak (``VmHWM`` in ``/proc/self/status``) is first reset to the current resident
set by writing ``5`` to ``/proc/self/clear_refs`` (Linux >= 4.0), so the peak read afterwards is
this call's. Where the reset is refused, the peak is still this call's when it rose during the
call; when it did not, the call's peak is unknown (it stayed below an earlier one) and nothing
is reported. Elsewhere ``ru_maxrss`` only tells how far the call raised the process's peak: a
lower bound, labelled as such. On Windows nothing is measured.

The figure covers what the process's threads did meanwhile: steps that run one at a time per
process (Dagster's executors) are measured alone; I/O in concurrent threads of one process is
counted together. Measuring costs two reads of ``/proc/self/status`` and one write, tens of
microseconds. No Dagster import.
"""

from __future__ import annotations

import sys
from types import TracebackType

__all__ = ["PeakMemory"]

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
_RESET_PEAK = "5"


def _status_bytes(*names: str) -> tuple[int, ...] | None:
    """The ``kB`` figures of ``names`` in this process's status, in bytes."""
    found: dict[str, int] = {}
    try:
        with open(_STATUS, "rb") as status:
            for line in status:
                name, _, rest = line.partition(b":")
                key = name.decode()
                if key in names:
                    found[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    if len(found) != len(names):
        return None
    return tuple(found[name] for name in names)


def _reset_peak() -> bool:
    try:
        with open(_CLEAR_REFS, "w") as clear:
            clear.write(_RESET_PEAK)
        return True
    except OSError:
        return False


def _max_rss_bytes() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS and the BSDs' getrusage bytes.
    return peak if sys.platform == "darwin" else peak * 1024


class PeakMemory:
    """``with PeakMemory() as memory: ...``, then ``memory.added_bytes`` (None when it could
    not be measured) and ``memory.method``: ``"vmhwm"`` (exact, see the module), or
    ``"ru_maxrss_rise"`` (a lower bound)."""

    __slots__ = ("_before", "_method_planned", "added_bytes", "method")

    def __init__(self) -> None:
        self.added_bytes: int | None = None
        self.method: str | None = None
        self._before: tuple[int, ...] | None = None
        self._method_planned: str | None = None

    def __enter__(self) -> PeakMemory:
        status = _status_bytes("VmRSS", "VmHWM")
        if status is not None:
            rss, peak = status
            reset = _reset_peak()
            # After a reset the peak starts at the resident set; without one it starts where
            # it was, and only a rise above it belongs to this call.
            self._before = (rss, rss if reset else peak)
            self._method_planned = "vmhwm"
            return self
        max_rss = _max_rss_bytes()
        if max_rss is not None:
            self._before = (max_rss,)
            self._method_planned = "ru_maxrss_rise"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._before is None:
            return
        if self._method_planned == "vmhwm":
            status = _status_bytes("VmHWM")
            if status is None:
                return
            rss_before, peak_before = self._before
            (peak,) = status
            if peak < peak_before:  # a reset by someone else meanwhile: unknown
                return
            if peak == peak_before and peak_before > rss_before:
                return  # never rose above an earlier peak: this call's is unknown
            self.added_bytes = max(0, peak - rss_before)
            self.method = "vmhwm"
            return
        peak_after = _max_rss_bytes()
        if peak_after is not None:
            self.added_bytes = max(0, peak_after - self._before[0])
            self.method = "ru_maxrss_rise"
