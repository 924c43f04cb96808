//! Bytes wherever they live: read by range through one trait (a buffer in memory, a local file,
//! one version of a store object), written through sinks that publish a file or object whole.
//!
//! Format code reads through [`RangeRead`] and never asks whether a file is local or remote;
//! [`open`] is the one place that decides.

mod local;
mod remote;
mod sink;

use std::ops::Range;

use arrow_buffer::Buffer;

use crate::error::Result;
use crate::store::{retry_if_changed, Location};

pub use local::map_file;
pub(crate) use local::LocalFile;
pub(crate) use remote::PinnedObject;
pub(crate) use sink::CountingWriter;
pub use sink::{AtomicFile, Sink};

/// Bytes read from the end of a file first, where its footer is: the footer of an IPC file of
/// thousands of batches fits, and a store object up to this size arrives in one request.
pub(crate) const TAIL_BYTES: u64 = 256 << 10;

/// Reads byte ranges of one file, wherever it lives.
pub(crate) trait RangeRead: Send + Sync {
    /// Size in bytes (of the version being read).
    fn size(&self) -> u64;

    /// The bytes of `range`, in one 64-byte-aligned buffer.
    fn read_range(&self, range: Range<u64>) -> Result<Buffer>;

    /// The bytes from `start` into all of `out`: a local file reads them straight there.
    fn read_into(&self, start: u64, out: &mut [u8]) -> Result<()> {
        out.copy_from_slice(&self.read_range(start..start + out.len() as u64)?);
        Ok(())
    }

    /// Each of `ranges`, in order (a store downloads them several at once).
    fn read_ranges(&self, ranges: Vec<Range<u64>>) -> Result<Vec<Buffer>> {
        ranges
            .into_iter()
            .map(|range| self.read_range(range))
            .collect()
    }

    /// The path or URI, for messages.
    fn name(&self) -> &str;
}

impl RangeRead for Buffer {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_range(&self, range: Range<u64>) -> Result<Buffer> {
        Ok(self.slice_with_length(range.start as usize, (range.end - range.start) as usize))
    }

    fn name(&self) -> &str {
        "the input"
    }
}

/// The bytes at `location`, ready to be read by range: a local file opened once (an empty one
/// is refused), or a store object pinned to the version a HEAD sees now.
pub(crate) fn open(location: &Location) -> Result<Box<dyn RangeRead>> {
    Ok(match location {
        Location::Local(path) => Box::new(LocalFile::open(path)?),
        Location::Remote(object) => Box::new(PinnedObject::pin(object)?),
    })
}

/// Runs `read` over the bytes at `location` (see [`open`]); when another writer replaces a
/// store object during the read, the whole read starts again on the new version.
pub(crate) fn read_consistently<T>(
    location: &Location,
    mut read: impl FnMut(&dyn RangeRead) -> Result<T>,
) -> Result<T> {
    retry_if_changed(|| read(open(location)?.as_ref()))
}
