//! The keys this package writes in a file's key-value metadata, beside the data, in both
//! formats: each defined here once, for the writers that set them and the readers that skip
//! or read them.

/// The program that wrote the file, read back by `inspect`-style tools.
pub const WRITER_METADATA_KEY: &str = "dagster_fastio.writer";
/// The row count, so a reader of the footer alone knows it.
pub const ROWS_METADATA_KEY: &str = "dagster_fastio.rows";
/// The codec the batches (or pages) were written with.
pub const COMPRESSION_METADATA_KEY: &str = "dagster_fastio.compression";
/// The content hash (see `content_hash`), written as `xxh3-128:<32 hex digits>`.
pub const CONTENT_HASH_KEY: &str = "dagster_fastio.content_hash";
/// The column statistics: a JSON list of `{"name", "null_count", "min", "max"}`.
pub const COLUMN_STATS_KEY: &str = "dagster_fastio.column_stats";

/// Whether a key-value pair of a file is one this package writes beside the data (the keys
/// above, and the Python layer's `dagster/` entries), as opposed to the schema's own metadata.
pub fn is_file_entry(key: &str) -> bool {
    key.starts_with("dagster_fastio.") || key.starts_with("dagster/")
}

/// The value of [`WRITER_METADATA_KEY`].
pub(crate) fn writer_name() -> String {
    format!("dagster-fastio {}", env!("CARGO_PKG_VERSION"))
}
