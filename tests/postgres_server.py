"""A PostgreSQL server for the tests of a Postgres-backed Dagster instance: Debian's
``postgresql`` binaries (``initdb``, ``postgres``), a cluster in a fresh temporary folder,
listening on 127.0.0.1 only, stopped and removed at the end.

PostgreSQL refuses to run as root. Tests run as root in CI containers, so there the server (and
``initdb``) runs as an unprivileged user through util-linux's ``setpriv``, which executes the
program in place (the process started is the server, and stopping it stops the server).
A missing binary is an error, not a skip: ``make test-servers`` installs Debian's package.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from servers import free_port, wait_for_port

__all__ = ["PostgresServer"]


def _binary(name: str) -> str:
    # Debian keeps them in /usr/lib/postgresql/<major>/bin, off PATH; the newest major wins.
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed; `make test-servers` installs Debian's "
            "postgresql package"
        )
    return found


class PostgresServer:
    """``start()`` makes a cluster whose superuser is ``user`` with ``password`` (SCRAM over
    TCP), and starts the server; ``database(name)`` creates one; ``stop()`` ends it all."""

    user = "fastio"
    password = "fastio-pg-secret-kept-out-of-output"

    def __init__(self) -> None:
        self.port = free_port()
        self.root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._prefix: list[str] = []
        self._owner: tuple[int, int] | None = None

    def start(self) -> PostgresServer:
        initdb, postgres = _binary("initdb"), _binary("postgres")
        # Not under pytest's tmp_path: its folders are private to root, and the unprivileged
        # server could not reach its data there.
        self.root = Path(tempfile.mkdtemp(prefix="fastio-postgres-"))
        data, password_file = self.root / "data", self.root / "password"
        password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:
            account = self._unprivileged_account()
            self._owner = (account.pw_uid, account.pw_gid)
            self._prefix = [
                "setpriv",
                f"--reuid={account.pw_uid}",
                f"--regid={account.pw_gid}",
                "--clear-groups",
                "--",
            ]
            for path in (self.root, password_file):
                os.chown(path, *self._owner)
        environment = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        subprocess.run(
            [
                *self._prefix,
                initdb,
                "--pgdata",
                str(data),
                "--username",
                self.user,
                "--pwfile",
                str(password_file),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            env=environment,
        )
        log = open(self.root / "postgres.log", "wb")  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                *self._prefix,
                postgres,
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                # No Unix socket: clients come over TCP, and /var/run/postgresql may not exist.
                "-k",
                "",
                # A test's database need not survive a crash of the machine.
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        log.close()
        try:
            wait_for_port(self.port, self._process, timeout=60)
        except Exception as error:
            raise RuntimeError(
                "postgres did not start:\n" + (self.root / "postgres.log").read_text()[-2000:]
            ) from error
        return self

    @staticmethod
    def _unprivileged_account() -> pwd.struct_passwd:
        # Debian's postgresql package creates `postgres`; `nobody` is on every Debian system.
        for name in ("postgres", "nobody"):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        raise RuntimeError("no unprivileged account (postgres, nobody) to run PostgreSQL as")

    def database(self, name: str) -> str:
        """Creates the database ``name`` (psycopg2, which dagster-postgres brings)."""
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname="postgres",
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return name

    def stop(self) -> None:
        if self._process is not None:
            # SIGINT: PostgreSQL's fast shutdown (clients disconnected, no wait for them).
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
