"""Runs one step of a handoff in a fresh Python process, as Dagster's default executor runs
each step: `python -m dagster_fastio.io_manager.bench_step` (the child, which imports Dagster)
reads the step as JSON on stdin and prints one JSON line back."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FRAMES", "METHODS", "Step", "run_step"]

METHODS = ("pickle", "ipc-lz4", "ipc-zstd", "parquet-zstd")
"""pickle as Dagster's FilesystemIOManager stores it; FastIOManager's Arrow IPC (lz4, zstd) and
Parquet (zstd)."""
FRAMES = ("pandas", "polars")
_RESULT_PREFIX = "fastio-fresh-step "
"""What the child's result line starts with (`io_manager.bench_step.RESULT_PREFIX`)."""


@dataclass(frozen=True)
class Step:
    method: str
    """One of `METHODS`."""
    frame: str
    """`pandas` or `polars`: what the write hands over and the load asks for."""
    action: str
    """`write` or `load`."""
    source: str
    """An uncompressed Arrow IPC file holding the table (a write reads it before the clock)."""
    base: str
    """The manager's folder or store URI."""
    key: str
    """The asset key: one per round, so every write hands over to a key with nothing stored."""
    storage_options: dict[str, str] | None = None


def run_step(step: Step) -> dict[str, Any]:
    """Runs `step` in a new interpreter and returns `seconds`, `peak_bytes` (None where the
    system cannot measure it), `baseline_bytes` (the process's RSS before the call),
    `frame_bytes` (the frame in memory), `rows` and, for a write, `stored_bytes`."""
    # The step goes through stdin, not the command line, which other users can list: its
    # storage options may hold credentials.
    done = subprocess.run(
        [sys.executable, "-m", "dagster_fastio.io_manager.bench_step"],
        input=json.dumps(asdict(step)),
        check=False,
        capture_output=True,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        failure = _last_error(done.stderr, step)
        raise RuntimeError(f"the {step.method} {step.frame} {step.action} step failed: {failure}")
    return json.loads(lines[-1].removeprefix(_RESULT_PREFIX))


_SECRET_WORDS = ("secret", "token", "password", "key", "sas", "credential")


def _last_error(stderr: str, step: Step) -> str:
    """The child's last line (the exception), with every storage option value that could be a
    credential masked: a child's error may quote what it was given."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    message = lines[-1] if lines else "no output"
    for key, value in (step.storage_options or {}).items():
        if value and any(word in key.lower() for word in _SECRET_WORDS):
            message = message.replace(value, "***")
    return message
