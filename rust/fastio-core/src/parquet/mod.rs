//! Parquet files, through arrow-rs's `parquet` crate: row groups encoded column by column on
//! every core, and read back fetching only the column chunks a read needs.
//!
//! What the reader and the writer share lives here, so that neither imports the other.

mod int96;
mod metadata;
mod options;
mod prune;
mod read;
mod write;

use arrow_schema::ArrowError;
use parquet::errors::ParquetError;

use crate::error::FastIoError;

pub(crate) use metadata::footer_from_tail;
pub use options::{ParquetOptions, ParquetReadOptions};
pub(crate) use read::read_all;
pub use read::ParquetContents;
pub use write::ParquetFileEncoder;

/// The magic at both ends of a Parquet file.
pub(crate) const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

/// What a panic in the parquet crate (on damaged input) becomes, with `guarded`.
pub(crate) fn unreadable(panic: String) -> FastIoError {
    FastIoError::CorruptParquet(format!("unreadable data: {panic}"))
}

pub(crate) fn read_error(error: ParquetError) -> FastIoError {
    match error {
        ParquetError::External(source) => match source.downcast::<FastIoError>() {
            Ok(inner) => *inner,
            Err(other) => FastIoError::CorruptParquet(other.to_string()),
        },
        ParquetError::NYI(message) => FastIoError::UnsupportedParquet(message),
        other => FastIoError::CorruptParquet(other.to_string()),
    }
}

pub(crate) fn arrow_read_error(error: ArrowError) -> FastIoError {
    match error {
        ArrowError::ExternalError(source) => match source.downcast::<ParquetError>() {
            Ok(parquet) => read_error(*parquet),
            Err(other) => FastIoError::CorruptParquet(other.to_string()),
        },
        ArrowError::ParquetError(message) => FastIoError::CorruptParquet(message),
        other => FastIoError::CorruptParquet(other.to_string()),
    }
}
