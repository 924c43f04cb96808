"""pyarrow filesystems for this package's locations: the local disk, or S3 configured from the
same ``storage_options`` (object_store's keys) that the Rust core takes. What pyarrow cannot be
told is refused by name, never silently dropped. No Dagster import."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from dagster_fastio.uris import is_remote

TYPE_CHECKING = False
if TYPE_CHECKING:
    import pyarrow.fs as pafs

__all__ = ["arrow_filesystem"]

# object_store's S3 keys (with or without "aws_", any case) and pyarrow S3FileSystem's names.
_S3_OPTIONS = {
    "access_key_id": "access_key",
    "secret_access_key": "secret_key",
    "session_token": "session_token",
    "token": "session_token",
    "region": "region",
    "default_region": "region",
    "endpoint": "endpoint_override",
    "endpoint_url": "endpoint_override",
}
# Options that tune only this package's own client: pyarrow has its own defaults for them.
_S3_IGNORED = {"max_retries", "retry_timeout", "timeout", "connect_timeout"}
_TRUE = {"true", "1", "yes", "on"}


def arrow_filesystem(
    uris: Sequence[str],
    storage_options: Mapping[str, str] | None,
    memory_map: bool = False,
    instead: str = "read them with dagster_fastio.read",
) -> tuple[pafs.FileSystem, list[str]]:
    """The pyarrow filesystem holding ``uris`` (all under one base) and their paths in it:
    local, or S3 from object_store's options; ``instead`` says what to do for other stores."""
    import pyarrow.fs as pafs

    remote = {uri.partition("://")[0].lower() for uri in uris if is_remote(uri)}
    if not remote:
        return pafs.LocalFileSystem(use_mmap=memory_map), [os.path.abspath(uri) for uri in uris]
    if remote != {"s3"}:
        scheme = sorted(remote - {"s3"})[0]
        raise ValueError(
            f"pyarrow reads dagster-fastio's local files and s3:// objects, not {scheme}:// "
            f"ones: {instead}"
        )
    settings: dict[str, Any] = {}
    allow_http = False
    for key, value in (storage_options or {}).items():
        name = key.lower().removeprefix("aws_")
        if name in _S3_OPTIONS:
            settings[_S3_OPTIONS[name]] = value
        elif name == "allow_http":
            allow_http = str(value).lower() in _TRUE
        elif name == "virtual_hosted_style_request":
            settings["force_virtual_addressing"] = str(value).lower() in _TRUE
        elif name == "skip_signature":
            settings["anonymous"] = str(value).lower() in _TRUE
        elif name not in _S3_IGNORED:
            # The key only, never its value: any value may be a credential.
            raise ValueError(
                f"storage option {key!r} has no equivalent in pyarrow's S3FileSystem; "
                "supported: aws_access_key_id, "
                "aws_secret_access_key, aws_session_token, aws_region, aws_endpoint, "
                "aws_allow_http, aws_virtual_hosted_style_request, aws_skip_signature"
            )
    endpoint = settings.get("endpoint_override")
    if endpoint is not None and "://" in endpoint:
        scheme, _, rest = endpoint.partition("://")
        settings["endpoint_override"] = rest.rstrip("/")
        settings["scheme"] = scheme.lower()
    elif allow_http:
        settings["scheme"] = "http"
    return pafs.S3FileSystem(**settings), [uri.partition("://")[2] for uri in uris]
