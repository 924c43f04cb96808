"""Dagster's distributed executors as the tests run them, all on 127.0.0.1 and started and
stopped by the tests: celery workers (prefork pool) serving one queue each, and a
dask.distributed cluster of worker processes holding one resource each.

Each worker is given one lane (see executor_jobs.py), so the tests know which worker must run
which step. The workers get this process's environment (PYTHONPATH included, so an uninstalled
checkout works as a pip-installed package does), plus the variables a test passes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from executor_jobs import (
    BASE_VARIABLE,
    ENDPOINT_VARIABLE,
    KEY_ID_VARIABLE,
    LANES,
    SECRET_VARIABLE,
    TESTS_FOLDER,
)
from servers import S3Server

WORKER_START_SECONDS = 120
WORKER_STOP_SECONDS = 60


def store_environment(server: S3Server, base: str, endpoint: str | None = None) -> dict[str, str]:
    """The variables the jobs' FastIOManager reads through dg.EnvVar: where and as whom."""
    return {
        BASE_VARIABLE: base,
        ENDPOINT_VARIABLE: endpoint or server.endpoint,
        KEY_ID_VARIABLE: server.access_key,
        SECRET_VARIABLE: server.secret_key,
    }


def worker_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with the tests folder on PYTHONPATH, plus `extra`."""
    env = {**os.environ, **extra}
    paths = [TESTS_FOLDER, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


class CeleryWorker:
    """`celery worker` with a prefork pool of `concurrency` processes on one queue."""

    def __init__(
        self,
        root: Path,
        *,
        broker: str,
        backend: str,
        queue: str,
        env: Mapping[str, str],
        concurrency: int = 2,
    ) -> None:
        self.root = root
        self.queue = queue
        self.broker = broker
        self.backend = backend
        self.concurrency = concurrency
        self.env = dict(env)
        self.log = root / "worker.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> CeleryWorker:
        config = self.root / "config"
        config.mkdir(parents=True, exist_ok=True)
        # What `dagster-celery worker start --config-yaml` writes: dagster_celery.app reads it.
        (config / "dagster_celery_config.py").write_text(
            f"broker_url = {self.broker!r}\n"
            f"result_backend = {self.backend!r}\n"
            "worker_prefetch_multiplier = 1\n"
            "broker_connection_retry_on_startup = True\n"
        )
        env = worker_environment(self.env)
        env["PYTHONPATH"] = os.pathsep.join([str(config), env["PYTHONPATH"]])
        command = [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "celery_worker_app",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(self.concurrency),
            "--queues",
            self.queue,
            "--hostname",
            f"{self.queue}@%h",
            "--prefetch-multiplier",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
            "--logfile",
            str(self.log),
        ]
        with (self.root / "stderr.log").open("wb") as stderr:
            self._process = subprocess.Popen(
                command,
                cwd=TESTS_FOLDER,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + WORKER_START_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"the celery worker for {self.queue} exited with code "
                    f"{self._process.returncode}:\n{self.tail()}"
                )
            if self.log.exists() and " ready." in self.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"the celery worker for {self.queue} is not ready:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        text = ""
        for path in (self.log, self.root / "stderr.log"):
            if path.exists():
                text += "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    def pool_pids(self) -> set[int]:
        """The prefork pool's processes, forked from the worker's main process."""
        import psutil

        return {child.pid for child in psutil.Process(self.pid).children()}

    def stop(self) -> None:
        if self._process is None:
            return
        # SIGTERM is celery's warm shutdown: running tasks finish, then the pool exits.
        self._process.terminate()
        try:
            self._process.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._process = None


def celery_run_config(broker: str, backend: str) -> dict[str, Any]:
    return {"execution": {"config": {"broker": broker, "backend": backend}}}


class DaskCluster:
    """A dask.distributed cluster on this machine: a scheduler in this process and
    `per_lane` worker processes (one thread each) per lane, each holding its lane's resource."""

    def __init__(self, env: Mapping[str, str], per_lane: int = 2) -> None:
        self.env = worker_environment(env)
        self.per_lane = per_lane
        self._cluster: Any = None
        self._client: Any = None

    def start(self) -> DaskCluster:
        from distributed import Client, Nanny, Scheduler, SpecCluster

        workers = {
            f"{lane}-{i}": {
                "cls": Nanny,
                "options": {
                    "nthreads": 1,
                    "host": "127.0.0.1",
                    "resources": {lane: 1},
                    "env": {
                        key: value for key, value in self.env.items() if key.startswith("FASTIO_")
                    },
                    "dashboard_address": None,
                    # Restores SIGINT and SIGTERM in each worker process (see the module).
                    "preload": ["dask_worker_setup"],
                },
            }
            for lane in LANES
            for i in range(self.per_lane)
        }
        scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": None}}
        previous = os.environ.get("PYTHONPATH")
        # The worker processes are spawned: they take this process's sys.path and environment.
        os.environ["PYTHONPATH"] = self.env["PYTHONPATH"]
        try:
            self._cluster = SpecCluster(workers=workers, scheduler=scheduler, name="fastio-tests")
        finally:
            if previous is None:
                os.environ.pop("PYTHONPATH")
            else:
                os.environ["PYTHONPATH"] = previous
        self._client = Client(self._cluster)
        self._client.wait_for_workers(len(workers), timeout=WORKER_START_SECONDS)
        return self

    @property
    def address(self) -> str:
        return str(self._cluster.scheduler_address)

    def lane_pids(self) -> dict[str, set[int]]:
        """The worker processes of each lane, by their process ids."""
        pids = self._client.run(os.getpid)
        workers = self._client.scheduler_info(n_workers=-1)["workers"]
        lanes: dict[str, set[int]] = {lane: set() for lane in LANES}
        for address, pid in pids.items():
            (lane,) = workers[address]["resources"]
            lanes[lane].add(pid)
        return lanes

    def sigterm_dispositions(self) -> set[Any]:
        """SIGTERM's disposition in each worker process, as dask_worker_setup.py left it."""
        return set(self._client.run(signal.getsignal, signal.SIGTERM).values())

    def run_config(self) -> dict[str, Any]:
        return {"execution": {"config": {"cluster": {"existing": {"address": self.address}}}}}

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close(timeout=WORKER_STOP_SECONDS)
            self._cluster = None
