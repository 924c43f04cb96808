//! Opening a location, local or in a store, for reading or writing: the one place that knows
//! which reader or sink serves which kind of location.

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};

use crate::decode::{IpcContents, IpcSource};
use crate::encode::IpcFileEncoder;
use crate::error::Result;
use crate::file_format::{FileEncoder, FileFormat, WriteOptions};
use crate::options::EncodeOptions;
use crate::parquet_read::{self, ParquetContents};
use crate::row_filter::{filter_rows, ColumnFilter};
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

/// An encoder of either format writing to `location`, where the file appears only once it is
/// committed.
pub fn create_table_file(
    location: Location,
    schema: SchemaRef,
    options: &WriteOptions,
    upload: UploadOptions,
    fsync: bool,
) -> Result<FileEncoder<Sink>> {
    let sink = Sink::create(location, upload, fsync)?;
    FileEncoder::try_new(sink, schema, options)
}

/// The columns an IPC read decodes so that `filters` can be applied: the requested ones, then
/// any a filter names that is not among them.
fn with_filter_columns(
    columns: Option<&[String]>,
    filters: &[ColumnFilter],
) -> Option<Vec<String>> {
    let mut decoded = columns?.to_vec();
    for filter in filters {
        if !decoded.contains(&filter.column) {
            decoded.push(filter.column.clone());
        }
    }
    Some(decoded)
}

/// A batch filtered, then cut back to the first `keep` columns (those asked for).
fn filtered(
    batch: &RecordBatch,
    filters: &[ColumnFilter],
    keep: Option<usize>,
) -> Result<RecordBatch> {
    let batch = filter_rows(batch, filters)?;
    match keep {
        Some(keep) if keep < batch.num_columns() => {
            Ok(batch.project(&(0..keep).collect::<Vec<_>>())?)
        }
        _ => Ok(batch),
    }
}

/// Every batch of the table file at `location` in `format`, only `columns` when set, only the
/// rows passing `filters` (a Parquet file's row groups ruled out by their statistics are never
/// read).
pub fn read_table(
    location: &Location,
    columns: Option<&[String]>,
    local: LocalRead,
    format: FileFormat,
    filters: &[ColumnFilter],
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    match format {
        FileFormat::Parquet => parquet_read::read_all(location, columns, filters),
        FileFormat::Ipc if filters.is_empty() => read_all(location, columns, local),
        FileFormat::Ipc => {
            let decoded = with_filter_columns(columns, filters);
            let (schema, batches) = read_all(location, decoded.as_deref().or(columns), local)?;
            let keep = columns.map(<[String]>::len);
            let batches = batches
                .iter()
                .map(|batch| filtered(batch, filters, keep))
                .collect::<Result<Vec<_>>>()?;
            let schema = match keep {
                Some(keep) => std::sync::Arc::new(schema.project(&(0..keep).collect::<Vec<_>>())?),
                None => schema,
            };
            Ok((schema, batches))
        }
    }
}

/// A reader of the table file at `location` that decodes (and for a store object, downloads)
/// one batch (Parquet: one row group) at a time.
pub fn read_table_batches(
    location: Location,
    columns: Option<&[String]>,
    local: LocalRead,
    format: FileFormat,
    filters: &[ColumnFilter],
) -> Result<Box<dyn RecordBatchReader + Send>> {
    match format {
        FileFormat::Parquet => Ok(Box::new(
            ParquetContents::open(&location, columns, filters)?.into_reader(),
        )),
        FileFormat::Ipc if filters.is_empty() => read_batches(location, columns, local),
        FileFormat::Ipc => {
            let decoded = with_filter_columns(columns, filters);
            let inner = read_batches(location, decoded.as_deref().or(columns), local)?;
            let keep = columns.map(<[String]>::len);
            let schema = match keep {
                Some(keep) => {
                    std::sync::Arc::new(inner.schema().project(&(0..keep).collect::<Vec<_>>())?)
                }
                None => inner.schema(),
            };
            let filters = filters.to_vec();
            let batches = inner.map(move |batch| {
                batch.and_then(|batch| {
                    filtered(&batch, &filters, keep)
                        .map_err(|e| ArrowError::ExternalError(Box::new(e)))
                })
            });
            Ok(Box::new(arrow_array::RecordBatchIterator::new(
                batches, schema,
            )))
        }
    }
}
