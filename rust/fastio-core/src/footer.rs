//! A file's footer alone: its schema and key-value metadata (row count, content hash, column
//! statistics, provenance), read with one ranged request for the end of the file (two when the
//! footer is longer than that), without touching the batches. Arrow IPC files and Parquet
//! files are told apart by their last bytes.

use std::panic::{catch_unwind, AssertUnwindSafe};

use arrow_buffer::Buffer;
use arrow_schema::SchemaRef;

use crate::decode::FileFooter;
use crate::error::{panic_message, Result};
use crate::ipc_format::{corrupt, footer_len, footer_start, ARROW_FILE_MAGIC, FILE_TRAILER_LEN};
use crate::local::LocalFile;
use crate::parquet_read::{footer_from_tail, PARQUET_MAGIC};
use crate::store::{retry_if_changed, Location};

/// Bytes read from the end of the file first: the footers this package writes fit easily.
const TAIL_BYTES: u64 = 64 << 10;

/// What a file's footer says.
#[derive(Debug, Clone)]
pub struct Footer {
    pub schema: SchemaRef,
    pub metadata: Vec<(String, String)>,
    /// Record batches of an IPC file, row groups of a Parquet file.
    pub batches: usize,
    pub stored_bytes: u64,
    /// `"ipc"` or `"parquet"`.
    pub format: &'static str,
    /// Known from a Parquet file's metadata whoever wrote it; for an IPC file, see the
    /// `dagster_fastio.rows` entry.
    pub rows: Option<u64>,
}

/// Whether a key-value pair of a file is one this package writes beside the data (the row
/// count, codec, hash, statistics and provenance), as opposed to the schema's own metadata.
pub fn is_file_entry(key: &str) -> bool {
    key.starts_with("dagster_fastio.") || key.starts_with("dagster/")
}

impl Footer {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The footer of the Arrow IPC file at `location`; `NotFound` when nothing is there, and
/// `Corrupt` for a stream (which has no footer) or a damaged file.
pub fn read_footer(location: &Location) -> Result<Footer> {
    match location {
        Location::Local(path) => {
            let file = LocalFile::open(path)?;
            let size = file.size();
            from_tail(size, |start, end| {
                file.read_range(start, (end - start) as usize)
            })
        }
        Location::Remote(object) => retry_if_changed(|| {
            let (object, size) = object.pin()?;
            from_tail(size, |start, end| object.read_range(start..end))
        }),
    }
}

fn from_tail(size: u64, read: impl Fn(u64, u64) -> Result<Buffer>) -> Result<Footer> {
    if size < (FILE_TRAILER_LEN + 8) as u64 {
        return Err(corrupt("too short to be an Arrow IPC file"));
    }
    let tail_start = size.saturating_sub(TAIL_BYTES);
    let tail = read(tail_start, size)?;
    if tail.ends_with(PARQUET_MAGIC) {
        let parquet = footer_from_tail(size, &tail, read)?;
        return Ok(Footer {
            schema: parquet.schema,
            metadata: parquet.metadata,
            batches: parquet.row_groups,
            stored_bytes: parquet.stored_bytes,
            format: "parquet",
            rows: Some(parquet.rows),
        });
    }
    if !tail.ends_with(ARROW_FILE_MAGIC) {
        return Err(corrupt(
            "not an Arrow IPC file: an IPC stream has no footer to read",
        ));
    }
    let trailer_start = tail.len() - FILE_TRAILER_LEN;
    let length = footer_len(&tail[trailer_start..])? as u64;
    let start = footer_start(size, length)?;
    let footer = if start >= tail_start {
        tail.slice_with_length((start - tail_start) as usize, length as usize)
    } else {
        read(start, start + length)?
    };
    // arrow-ipc's schema conversion panics on some damaged field types.
    catch_unwind(AssertUnwindSafe(|| parse(footer.as_slice(), size))).unwrap_or_else(|payload| {
        Err(corrupt(format!(
            "unreadable footer: {}",
            panic_message(&payload)
        )))
    })
}

fn parse(bytes: &[u8], size: u64) -> Result<Footer> {
    let footer = FileFooter::parse(bytes, None)?;
    let raw =
        arrow_ipc::root_as_footer(bytes).map_err(|e| corrupt(format!("unreadable footer: {e}")))?;
    let metadata = raw
        .custom_metadata()
        .into_iter()
        .flatten()
        .filter_map(|pair| Some((pair.key()?.to_string(), pair.value()?.to_string())))
        .collect();
    Ok(Footer {
        schema: footer.full_schema,
        metadata,
        batches: footer.batches.len(),
        stored_bytes: size,
        format: "ipc",
        rows: None,
    })
}
