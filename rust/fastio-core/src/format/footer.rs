//! A file's footer alone: its schema and key-value metadata (row count, content hash, column
//! statistics, provenance), read with one ranged request for the end of the file (two when the
//! footer is longer than that), without touching the batches. Arrow IPC files and Parquet
//! files are told apart by their last bytes.

use arrow_schema::SchemaRef;

use crate::bytes::{read_consistently, RangeRead, TAIL_BYTES};
use crate::error::{FastIoError, Result};
use crate::format::FileFormat;
use crate::ipc::{self, FILE_TRAILER_LEN};
use crate::parquet::{self, PARQUET_MAGIC};
use crate::store::Location;

/// What a file's footer says.
#[derive(Debug, Clone)]
pub struct Footer {
    pub schema: SchemaRef,
    pub metadata: Vec<(String, String)>,
    /// Record batches of an IPC file, row groups of a Parquet file.
    pub batches: usize,
    pub stored_bytes: u64,
    pub format: FileFormat,
    /// Known from a Parquet file's metadata whoever wrote it; for an IPC file, see the
    /// `dagster_fastio.rows` entry.
    pub rows: Option<u64>,
}

impl Footer {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The footer of the table file at `location`; `NotFound` when nothing is there, and
/// `Corrupt` for an IPC stream (which has no footer) or a damaged file.
pub fn read_footer(location: &Location) -> Result<Footer> {
    read_consistently(location, from_tail)
}

fn from_tail(source: &dyn RangeRead) -> Result<Footer> {
    let size = source.size();
    if size < (FILE_TRAILER_LEN + 8) as u64 {
        return Err(FastIoError::Corrupt(
            "too short to be an Arrow IPC file".into(),
        ));
    }
    let tail = source.read_range(size.saturating_sub(TAIL_BYTES)..size)?;
    if tail.ends_with(PARQUET_MAGIC) {
        let footer = parquet::footer_from_tail(source, &tail)?;
        return Ok(Footer {
            schema: footer.schema,
            metadata: footer.metadata,
            batches: footer.row_groups,
            stored_bytes: size,
            format: FileFormat::Parquet,
            rows: Some(footer.rows),
        });
    }
    let footer = ipc::footer_from_tail(source, &tail)?;
    Ok(Footer {
        schema: footer.schema,
        metadata: footer.metadata,
        batches: footer.batches,
        stored_bytes: size,
        format: FileFormat::Ipc,
        rows: None,
    })
}
