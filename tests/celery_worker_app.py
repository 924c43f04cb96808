"""The celery app the test workers serve (`celery -A celery_worker_app worker`).

It is dagster-celery's own app: its broker and result backend come from the
`dagster_celery_config` module that the test writes into each worker's folder, as
`dagster-celery worker start --config-yaml` does. Before the prefork pool forks its children,
the worker's main process writes and reads a table on the store (FASTIO_WARM_UP_URI), so the
children start with the parent's worker pool and I/O runtime already running: the case a
forked child must survive.
"""

from __future__ import annotations

import os
from typing import Any

from celery.signals import worker_init
from dagster_celery.app import app, execute_plan

__all__ = ["app", "execute_plan"]

WARM_UP_VARIABLE = "FASTIO_WARM_UP_URI"


@worker_init.connect
def use_the_pool_and_runtime_before_forking(**_: Any) -> None:
    uri = os.environ.get(WARM_UP_VARIABLE)
    if not uri:
        return
    import pyarrow as pa
    from executor_jobs import step_options

    import dagster_fastio as fio

    table = pa.table({"n": list(range(200_000)), "pid": [os.getpid()] * 200_000})
    target = f"{uri}/{os.getpid()}.arrow"
    # Several batches, so the pool's threads start; the upload and the read start the runtime.
    fio.write(table, target, storage_options=step_options(), chunk_rows=20_000)
    if not fio.read(target, storage_options=step_options()).equals(table):
        raise RuntimeError("the warm-up table read back differs")
