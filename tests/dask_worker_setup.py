"""Preloaded by each dask worker process the tests start (engines.DaskCluster).

The worker processes are spawned by the nannies in the pytest process and inherit its signal
dispositions: started from a background job, SIGTERM (and SIGINT) ignored, which they would hand
on to every process a step starts. They restore the defaults before they take a task.
"""

from __future__ import annotations

from typing import Any

from dispositions import restore_default_dispositions


def dask_setup(worker: Any) -> None:
    restore_default_dispositions()
