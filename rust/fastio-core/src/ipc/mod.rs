//! The Arrow IPC file format (Feather v2) and stream format: encoded and compressed in
//! parallel, decoded in parallel or zero-copy, checked before arrow-ipc trusts a length.
//!
//! The format's constants live here, above the reader and the writer, so that neither imports
//! the other.

mod batch_decoder;
mod batch_encoder;
mod batch_header;
mod codec;
mod column_ranges;
mod compress;
mod describe;
mod fill;
mod footer;
mod guard;
mod inflate;
mod layout;
mod message;
mod options;
mod reader;
mod remote;
mod validate;
mod writer;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::SchemaRef;

use crate::error::{FastIoError, Result};
use crate::store::Location;

pub use describe::{describe, describe_location, Summary};
pub use fill::{fill_width, NullRun};
pub(crate) use footer::footer_from_tail;
pub use options::{Compression, EncodeOptions};
pub use reader::{IpcContents, IpcSource};
pub use writer::{encode_to_vec, IpcFileEncoder};

/// An Arrow IPC file opens with these bytes (and closes with them after the footer).
pub(crate) const ARROW_FILE_MAGIC: &[u8; 6] = b"ARROW1";
/// Footer length (4 bytes) and closing magic (6 bytes).
pub(crate) const FILE_TRAILER_LEN: usize = 10;
/// Opening magic padded to 8 bytes.
pub(crate) const FILE_HEADER_LEN: usize = 8;

pub(crate) fn corrupt(message: impl Into<String>) -> FastIoError {
    FastIoError::Corrupt(message.into())
}

pub(crate) fn truncated(message: impl Into<String>) -> FastIoError {
    FastIoError::Corrupt(format!(
        "truncated or not an Arrow IPC file: {}",
        message.into()
    ))
}

/// How a local file is read: copied into memory (safe whatever another program does to the
/// file) or memory-mapped (zero-copy, at the risk described in `bytes::local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalRead {
    Copy,
    Map,
}

/// Every batch of the Arrow IPC file or stream at `location` (only `columns` when set),
/// decoded in parallel; a store object is fetched in concurrent ranges, one version of it.
///
/// The one place the IPC reader picks its strategy by where the bytes are: a local file is
/// read block by block (or mapped, zero-copy) and decoded on the pool, a store object's
/// batches are downloaded in pipelined groups, each decoded as it arrives.
pub(crate) fn read_all(
    location: &Location,
    columns: Option<&[String]>,
    local: LocalRead,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    match location {
        Location::Local(path) => {
            let contents = IpcContents::open(IpcSource::local(path, local), columns)?;
            Ok((contents.schema(), contents.read_all()?))
        }
        Location::Remote(object) => remote::RemoteContents::read_whole(object, columns),
    }
}

/// A reader that decodes (and for a store object, downloads) one batch at a time.
pub(crate) fn read_batches(
    location: Location,
    columns: Option<&[String]>,
    local: LocalRead,
) -> Result<Box<dyn RecordBatchReader + Send>> {
    match location {
        Location::Local(path) => Ok(Box::new(
            IpcContents::open(IpcSource::local(&path, local), columns)?.into_reader(),
        )),
        Location::Remote(object) => {
            Ok(remote::RemoteContents::open(object, columns)?.into_reader())
        }
    }
}
