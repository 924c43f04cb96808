//! Opening a location, local or in a store, for reading or writing: the one place that knows
//! which reader or sink serves which kind of location.

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::SchemaRef;

use crate::decode::{IpcContents, IpcSource};
use crate::encode::IpcFileEncoder;
use crate::error::Result;
use crate::options::EncodeOptions;
use crate::sink::Sink;
use crate::store::fetch::{RemoteContents, DEFAULT_FETCH_CONCURRENCY};
use crate::store::{Location, UploadOptions};

/// How a local file is read: copied into memory (safe whatever another program does to the
/// file) or memory-mapped (zero-copy, at the risk described in [`crate::local`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalRead {
    Copy,
    Map,
}

fn open_local(
    path: &std::path::Path,
    local: LocalRead,
    columns: Option<&[String]>,
) -> Result<IpcContents> {
    let source = match local {
        LocalRead::Copy => IpcSource::Path(path),
        LocalRead::Map => IpcSource::MappedPath(path),
    };
    IpcContents::open(source, columns)
}

/// Every batch of the Arrow IPC file or stream at `location` (only `columns` when set),
/// decoded in parallel; a store object is fetched in concurrent ranges, one version of it.
pub fn read_all(
    location: &Location,
    columns: Option<&[String]>,
    local: LocalRead,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    match location {
        Location::Local(path) => {
            let contents = open_local(path, local, columns)?;
            Ok((contents.schema(), contents.read_all()?))
        }
        Location::Remote(object) => {
            RemoteContents::read_whole(object, columns, DEFAULT_FETCH_CONCURRENCY)
        }
    }
}

/// A reader that decodes (and for a store object, downloads) one batch at a time.
pub fn read_batches(
    location: Location,
    columns: Option<&[String]>,
    local: LocalRead,
) -> Result<Box<dyn RecordBatchReader + Send>> {
    match location {
        Location::Local(path) => Ok(Box::new(open_local(&path, local, columns)?.into_reader())),
        Location::Remote(object) => {
            Ok(RemoteContents::open(object, columns, DEFAULT_FETCH_CONCURRENCY)?.into_reader())
        }
    }
}

/// An encoder writing to `location`, where the file appears only once it is committed.
pub fn create_file(
    location: Location,
    schema: SchemaRef,
    options: &EncodeOptions,
    upload: UploadOptions,
    fsync: bool,
) -> Result<IpcFileEncoder<Sink>> {
    let sink = Sink::create(location, upload, fsync)?;
    IpcFileEncoder::try_new(sink, schema, options)
}
