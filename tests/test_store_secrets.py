"""Credentials stay out of errors, the Dagster event log and CLI output, however they arrived:
given as options, fetched by object_store itself from an instance-metadata service, or
written into an endpoint's URL, when a server echoes the signed request back.

One local HTTP server plays both parts: the EC2 instance-metadata service (IMDSv2: a session
token, then a role, then temporary credentials) and an S3 endpoint that refuses every request
with a body echoing its request line and headers (as S3's `SignatureDoesNotMatch` answers
echo the canonical request), after a HEAD that says the object exists.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from click.testing import CliRunner

import dagster_fastio as fio
from dagster_fastio import FastIOManager, StoreError
from dagster_fastio.cli import main

IMDS_TOKEN = "imds-session-AQAEAFlx8kzq"
ROLE = "fastio-role"
KEY_ID = "ASIAFASTIOTESTKEYID"
SECRET_KEY = "imds-secret-access-key-9f8e7d6c"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEFAKESESSIONTOKEN"
PASSWORD = "pw4u"
SHORT_TOKEN = "tk9"


class _Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: str, content_type: str = "text/plain") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        credentials = "/latest/meta-data/iam/security-credentials"
        if self.path == "/latest/api/token" and self.command == "PUT":
            return self._answer(200, IMDS_TOKEN)
        if self.path.startswith(credentials):
            if self.headers.get("X-aws-ec2-metadata-token") != IMDS_TOKEN:
                return self._answer(401, "")
            if self.path.rstrip("/") == credentials:
                return self._answer(200, ROLE)
            answer = {
                "AccessKeyId": KEY_ID,
                "SecretAccessKey": SECRET_KEY,
                "Token": SESSION_TOKEN,
                "Expiration": "2099-01-01T00:00:00Z",
            }
            return self._answer(200, json.dumps(answer), "application/json")
        if self.command == "HEAD":
            # An object exists, so that a read goes on to a signed GET.
            self.send_response(200)
            self.send_header("Content-Length", "4096")
            self.send_header("ETag", '"e1"')
            self.send_header("Last-Modified", "Tue, 01 Dec 2026 00:00:00 GMT")
            self.end_headers()
            return None
        echoed = "\n".join(
            [f"{self.command} {self.path}", *(f"{k}:{v}" for k, v in self.headers.items())]
        )
        body = (
            "<Error><Code>SignatureDoesNotMatch</Code>"
            f"<CanonicalRequest>{echoed}</CanonicalRequest></Error>"
        )
        return self._answer(403, body, "application/xml")

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _route

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # object_store reads AWS_* variables first: none may point elsewhere.
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def assert_clean(text: str) -> None:
    for secret in (IMDS_TOKEN, SECRET_KEY, SESSION_TOKEN, PASSWORD, SHORT_TOKEN):
        assert secret not in text, f"{secret!r} leaked into: {text}"


def imds_options(endpoint: str) -> dict[str, str]:
    """No credentials given: object_store fetches them from the metadata service."""
    return {
        "aws_endpoint": endpoint,
        "aws_metadata_endpoint": endpoint,
        "aws_region": "us-east-1",
        "max_retries": "0",
    }


def test_credentials_fetched_from_instance_metadata_stay_out_of_errors(echo_server: str) -> None:
    options = imds_options(echo_server)
    uri = "s3://bucket-imds/t.arrow"
    messages = []
    for call in (
        lambda: fio.read(uri, storage_options=options),
        lambda: fio.write(pa.table({"a": [1]}), uri, storage_options=options),
    ):
        with pytest.raises(StoreError) as raised:
            call()
        messages.append(str(raised.value))
    # The server did see and echo the session token: the test would catch a leak.
    assert all("x-amz-security-token:***" in m for m in messages), messages
    for message in messages:
        assert_clean(message)
        assert uri in message


def test_a_password_in_the_endpoint_and_a_short_token_stay_out(echo_server: str) -> None:
    host = echo_server.removeprefix("http://")
    options = {
        "aws_endpoint": f"http://fastio:{PASSWORD}@{host}",
        "aws_access_key_id": "AKIAFASTIO",
        "aws_secret_access_key": "s3cr",
        "aws_session_token": SHORT_TOKEN,
        "aws_region": "us-east-1",
        "max_retries": "0",
    }
    for call in (
        lambda: fio.read("s3://bucket-pw/t.arrow", storage_options=options),
        lambda: fio.write(pa.table({"a": [1]}), "s3://bucket-pw/t.arrow", storage_options=options),
    ):
        with pytest.raises(StoreError) as raised:
            call()
        message = str(raised.value)
        assert "x-amz-security-token:***" in message and "@127.0.0.1" in message, message
        assert_clean(message)
        assert "s3cr" not in message


def test_the_cli_and_the_event_log_stay_clean(
    echo_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = imds_options(echo_server)
    flags = [
        arg for key, value in options.items() for arg in ("--storage-option", f"{key}={value}")
    ]
    source = tmp_path / "t.arrow"
    fio.write(pa.table({"a": [1, 2]}), source)
    for args in (
        ["inspect", "s3://bucket-cli/t.arrow", *flags],
        ["head", "s3://bucket-cli/t.arrow", *flags],
        ["convert", str(source), "s3://bucket-cli/out.arrow", *flags],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code != 0, result.output
        assert "StoreError" in result.output or "403" in result.output, result.output
        assert_clean(result.output)

    @dg.asset
    def table() -> pa.Table:
        return pa.table({"a": [1]})

    manager = FastIOManager(base_path="s3://bucket-dagster/assets", storage_options=options)
    result = dg.materialize([table], resources={"io_manager": manager}, raise_on_error=False)
    assert not result.success
    for event in result.all_events:
        assert_clean(repr(event))
    for record in result.get_step_failure_events():
        assert_clean(record.event_specific_data.error.to_string())
    captured = capsys.readouterr()
    assert_clean(captured.out + captured.err)
