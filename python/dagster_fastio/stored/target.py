"""``TableTarget``: where one table output goes and the options it is written with; an output
whose content the stored file already holds is left as it is. No Dagster import."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.keys import COMPAT_KEY, CONTENT_HASH_KEY, RAW_BYTES_KEY
from dagster_fastio.options import WriteOptions
from dagster_fastio.stored.codec_choice import choose_local_codec

__all__ = ["TableRoute", "TableTarget"]


@dataclass(frozen=True, slots=True)
class TableRoute:
    """Where a table larger than ``above`` bytes of Arrow data goes instead, and how."""

    above: int
    uri: str
    options: WriteOptions


@dataclass(frozen=True, slots=True)
class TableTarget:
    """One table output's location and write options (the content hash asked for, and the
    compat level recorded in the footer)."""

    uri: str
    options: WriteOptions
    storage_options: dict[str, str] | None
    previous: api.Footer | None = None
    """The footer of the version being replaced, if any."""
    choose_codec: bool = False
    """The codec is this package's to choose per table (``codec_choice``): no one asked for one
    and the file goes to a local disk."""
    route: TableRoute | None = None
    """Where a table in memory above a size goes instead (FastIOManager's ``parquet_above_mb``)."""

    @property
    def compression(self) -> str:
        return self.options.compression

    @property
    def format(self) -> str:
        return self.options.format

    def write(self, data: Any) -> api.WriteInfo:
        """Stores ``data`` with its content hash; a table whose hash is the stored file's is
        left as it is."""
        uri, options, reason, route = self.uri, self.options, None, None
        if isinstance(data, pa.Table):
            # A table in memory records its size, which a load's memory check reads back.
            metadata = {**(options.metadata or {}), RAW_BYTES_KEY: str(data.nbytes)}
            options = dataclasses.replace(options, metadata=metadata)
            if self.route is not None:
                uri, options, route = self._routed(data, options)
            if self.choose_codec and options.format == "ipc":
                codec, reason = choose_local_codec(data)
                options = dataclasses.replace(options, compression=codec)
        compat = options.compat
        # Recorded so that a changed compat level rewrites a table whose content did not change;
        # the version being replaced counts only in the format this write stores (a route
        # taken or left rewrites); an append's previous version is its key's last part.
        same_encoding = (
            self.previous is not None
            and self.previous.format == options.format
            and self.previous.metadata.get(COMPAT_KEY) == compat
        )
        digest = None
        if (
            isinstance(data, pa.Table)
            and same_encoding
            and self.previous
            and self.previous.content_hash
        ):
            # A table in memory is hashed before anything is written (all cores, no copy),
            # so an unchanged output costs a footer read and a hash, not a write or upload.
            start = time.perf_counter()
            digest = api.content_hash(data)
            if digest == self.previous.content_hash:
                unchanged = self._unchanged(data, digest, time.perf_counter() - start)
                return dataclasses.replace(unchanged, route=route)
            if digest is not None:
                # Already computed: the encoder stores it rather than hashing a second time.
                metadata = {**(options.metadata or {}), CONTENT_HASH_KEY: digest}
                options = dataclasses.replace(options, metadata=metadata, content_hash=False)
        info = api.write_with(data, uri, options, self.storage_options)
        if digest is not None:
            info = dataclasses.replace(info, content_hash=digest)
        return dataclasses.replace(info, compression_reason=reason, route=route)

    def _routed(self, data: pa.Table, options: WriteOptions) -> tuple[str, WriteOptions, str]:
        """Where ``data`` goes by its size: the route's file above the bound, this one at or
        below it; with the route taken, in words."""
        route = self.route
        assert route is not None
        size_mb, above_mb = data.nbytes / 1e6, route.above / 1e6
        if data.nbytes <= route.above:
            words = (
                f"{options.format}: {size_mb:,.1f} MB of Arrow data, not above {above_mb:,.0f} MB"
            )
            return self.uri, options, words
        routed = dataclasses.replace(route.options, metadata=options.metadata)
        words = (
            f"parquet {routed.compression}: {size_mb:,.1f} MB of Arrow data, above "
            f"parquet_above_mb={above_mb:,.0f}"
        )
        return route.uri, routed, words

    def _unchanged(self, data: pa.Table, digest: str | None, seconds: float) -> api.WriteInfo:
        previous = self.previous
        assert previous is not None
        return api.WriteInfo(
            uri=previous.uri,
            rows=data.num_rows,
            batches=previous.batches,
            raw_bytes=data.get_total_buffer_size(),
            stored_bytes=previous.stored_bytes,
            parts=0,
            seconds=seconds,
            compression=previous.compression or self.compression,
            content_hash=digest,
            column_stats=previous.column_stats,
            written=False,
            format=previous.format,
        )

    def open_writer(self, schema: pa.Schema) -> api.Writer:
        """A writer for batches streamed one at a time (hashed as they are encoded)."""
        return api.Writer.with_options(self.uri, schema, self.options, self.storage_options)
