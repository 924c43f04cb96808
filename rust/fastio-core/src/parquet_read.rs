//! Parquet files read on every core: the footer first, then only the column chunks of the row
//! groups and columns asked for (concurrent ranged requests on a store, each pinned to one
//! version of the object), each (row group, column) pair decoded by arrow-rs's own reader on
//! its own worker, and the columns put back together as batches of one row group each.

use std::collections::VecDeque;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, RecordBatchReader};
use arrow_buffer::Buffer;
use arrow_schema::{ArrowError, Schema, SchemaRef};
use bytes::{Buf, Bytes};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::reader::{ChunkReader, Length};
use rayon::prelude::*;
use tokio::runtime::Runtime;

use crate::error::{panic_message, FastIoError, Result};
use crate::local::LocalFile;
use crate::row_filter::{chosen_row_groups, filter_columns, filter_rows, ColumnFilter};
use crate::store::fetch::{download_ranges, DEFAULT_FETCH_CONCURRENCY};
use crate::store::{retry_if_changed, runtime, Location, RemoteObject};

/// The magic at both ends of a Parquet file.
pub const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
/// Bytes read from the end first: the metadata of files of hundreds of row groups fits.
const TAIL_BYTES: u64 = 64 << 10;
/// Rows of each decoded array.
const DECODE_ROWS: usize = 64 << 10;
/// Neighbouring column chunks closer than this are fetched in one request.
const COALESCE_GAP: u64 = 64 << 10;

/// Where a file's bytes come from.
enum RangeSource {
    Local(LocalFile),
    /// Pinned to one version (see [`RemoteObject::pin`]).
    Remote(RemoteObject, Arc<Runtime>),
}

impl RangeSource {
    fn read(&self, ranges: Vec<Range<u64>>) -> Result<Vec<Buffer>> {
        match self {
            RangeSource::Local(file) => ranges
                .into_iter()
                .map(|range| file.read_range(range.start, (range.end - range.start) as usize))
                .collect(),
            RangeSource::Remote(object, runtime) => {
                let download = runtime.spawn(download_ranges(
                    object.clone(),
                    ranges,
                    DEFAULT_FETCH_CONCURRENCY,
                ));
                match runtime.block_on(download) {
                    Ok(result) => result,
                    Err(join) => Err(object.failure(format!("a read did not finish: {join}"))),
                }
            }
        }
    }
}

/// An opened Parquet file: its metadata, the Arrow schema it decodes to, and the columns and
/// row groups a read takes.
pub struct ParquetContents {
    source: RangeSource,
    size: u64,
    metadata: ArrowReaderMetadata,
    /// The schema of what is returned: the projected columns, with the writer's schema
    /// metadata (the pandas metadata, for instance) but not the file's other key-value pairs.
    schema: SchemaRef,
    /// Root columns returned, in order.
    projection: Vec<usize>,
    /// Root columns decoded: the projection and any column a filter needs.
    decoded: Vec<usize>,
    row_groups: Vec<usize>,
    filters: Vec<ColumnFilter>,
}

impl ParquetContents {
    /// Reads the metadata of the Parquet file at `location` (pinning a store object to one
    /// version) and plans a read of `columns` (all when None) with `filters`.
    pub fn open(
        location: &Location,
        columns: Option<&[String]>,
        filters: &[ColumnFilter],
    ) -> Result<Self> {
        let (source, size) = match location {
            Location::Local(path) => {
                let file = LocalFile::open(path)?;
                let size = file.size();
                (RangeSource::Local(file), size)
            }
            Location::Remote(object) => {
                let (object, size) = object.pin()?;
                (RangeSource::Remote(object, runtime()?), size)
            }
        };
        let metadata = read_metadata(&source, size)?;
        let full = writer_schema(&metadata);
        let projection = match columns {
            None => (0..full.fields().len()).collect::<Vec<_>>(),
            Some(names) => names
                .iter()
                .map(|name| {
                    full.index_of(name).map_err(|_| {
                        FastIoError::InvalidArgument(format!(
                            "no column named {name:?} in the file; it has {}",
                            full.fields()
                                .iter()
                                .map(|f| format!("{:?}", f.name()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })
                })
                .collect::<Result<_>>()?,
        };
        let mut decoded = projection.clone();
        for index in filter_columns(filters, &full)? {
            if !decoded.contains(&index) {
                decoded.push(index);
            }
        }
        let row_groups = chosen_row_groups(filters, metadata.schema(), metadata.metadata())?;
        let schema = Arc::new(full.project(&projection)?);
        Ok(ParquetContents {
            source,
            size,
            metadata,
            schema,
            projection,
            decoded,
            row_groups,
            filters: filters.to_vec(),
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Row groups the read takes (after pruning by the filters' statistics).
    pub fn row_groups(&self) -> &[usize] {
        &self.row_groups
    }

    /// Every chosen row group, fetched at once and decoded in parallel.
    pub fn read_all(&self) -> Result<Vec<RecordBatch>> {
        if self.decoded.is_empty() {
            // No column asked for: each row group's row count, from the metadata alone.
            let mut batches = Vec::new();
            for &group in &self.row_groups {
                batches.extend(self.assemble(group, Vec::new())?);
            }
            return Ok(batches);
        }
        let chunks = self.fetch(&self.row_groups)?;
        let tasks: Vec<(usize, usize)> = self
            .row_groups
            .iter()
            .flat_map(|&group| self.decoded.iter().map(move |&column| (group, column)))
            .collect();
        let pieces: Vec<Vec<ArrayRef>> = crate::pool::pool().install(|| {
            tasks
                .par_iter()
                .map(|&(group, column)| self.decode_column(&chunks, group, column))
                .collect::<Result<_>>()
        })?;
        let mut batches = Vec::new();
        for (columns, &group) in pieces.chunks(self.decoded.len()).zip(&self.row_groups) {
            batches.extend(self.assemble(group, columns.to_vec())?);
        }
        Ok(batches)
    }

    /// A reader returning one batch per chosen row group, fetched and decoded when asked for.
    pub fn into_reader(self) -> ParquetBatchReader {
        ParquetBatchReader {
            next: 0,
            contents: self,
            ready: VecDeque::new(),
        }
    }

    fn read_row_group(&self, group: usize) -> Result<Vec<RecordBatch>> {
        if self.decoded.is_empty() {
            return self.assemble(group, Vec::new());
        }
        let chunks = self.fetch(&[group])?;
        let pieces: Vec<Vec<ArrayRef>> = crate::pool::pool().install(|| {
            self.decoded
                .par_iter()
                .map(|&column| self.decode_column(&chunks, group, column))
                .collect::<Result<_>>()
        })?;
        self.assemble(group, pieces)
    }

    /// The byte ranges of the decoded columns' chunks in `groups`, read (or downloaded).
    fn fetch(&self, groups: &[usize]) -> Result<FetchedChunks> {
        let parquet = self.metadata.metadata();
        let descriptor = parquet.file_metadata().schema_descr();
        let mut ranges = Vec::new();
        for &group in groups {
            let row_group = parquet.row_group(group);
            for leaf in 0..row_group.num_columns() {
                if self.decoded.contains(&descriptor.get_column_root_idx(leaf)) {
                    let (start, length) = row_group.column(leaf).byte_range();
                    let end = start.checked_add(length).filter(|end| *end <= self.size);
                    let Some(end) = end else {
                        return Err(FastIoError::CorruptParquet(format!(
                            "a column chunk lies outside the file ({start} + {length} bytes, \
                             the file has {})",
                            self.size
                        )));
                    };
                    ranges.push(start..end);
                }
            }
        }
        let ranges = coalesced(ranges);
        let buffers = self.source.read(ranges.clone())?;
        let pieces = ranges
            .iter()
            .zip(buffers)
            .map(|(range, buffer)| (range.start, Bytes::from_owner(OwnedBuffer(buffer))))
            .collect();
        Ok(FetchedChunks {
            size: self.size,
            pieces: Arc::new(pieces),
        })
    }

    /// One column of one row group, in pieces of [`DECODE_ROWS`] rows: decoding into arrays
    /// of a whole row group (a million rows in pyarrow's files) made reads twice as slow.
    fn decode_column(
        &self,
        chunks: &FetchedChunks,
        group: usize,
        column: usize,
    ) -> Result<Vec<ArrayRef>> {
        guarded(|| {
            let descriptor = self.metadata.metadata().file_metadata().schema_descr();
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
                chunks.clone(),
                self.metadata.clone(),
            )
            .with_row_groups(vec![group])
            .with_projection(ProjectionMask::roots(descriptor, [column]))
            .with_batch_size(DECODE_ROWS)
            .build()
            .map_err(read_error)?;
            reader
                .map(|batch| Ok(batch.map_err(arrow_read_error)?.column(0).clone()))
                .collect()
        })
    }

    /// One row group's batches: the decoded columns' pieces side by side, filtered, then
    /// projected.
    fn assemble(&self, group: usize, columns: Vec<Vec<ArrayRef>>) -> Result<Vec<RecordBatch>> {
        let rows = self.metadata.metadata().row_group(group).num_rows().max(0) as usize;
        if columns.is_empty() {
            let options = RecordBatchOptions::new().with_row_count(Some(rows));
            let batch = RecordBatch::try_new_with_options(self.schema.clone(), vec![], &options)?;
            return Ok(vec![batch]);
        }
        let lengths = |pieces: &Vec<ArrayRef>| pieces.iter().map(|a| a.len()).collect::<Vec<_>>();
        let first = lengths(&columns[0]);
        if first.iter().sum::<usize>() != rows || columns.iter().any(|c| lengths(c) != first) {
            return Err(FastIoError::CorruptParquet(format!(
                "row group {group} holds {rows} rows by its metadata, but its columns decoded \
                 to other lengths"
            )));
        }
        let full = self.metadata.schema();
        let decoded_schema = Arc::new(Schema::new(
            self.decoded
                .iter()
                .map(|&index| full.field(index).clone())
                .collect::<Vec<_>>(),
        ));
        (0..first.len())
            .map(|piece| {
                let arrays: Vec<ArrayRef> = columns.iter().map(|c| c[piece].clone()).collect();
                let options = RecordBatchOptions::new().with_row_count(Some(first[piece]));
                if self.filters.is_empty() {
                    return Ok(RecordBatch::try_new_with_options(
                        self.schema.clone(),
                        arrays,
                        &options,
                    )?);
                }
                let batch =
                    RecordBatch::try_new_with_options(decoded_schema.clone(), arrays, &options)?;
                let batch = filter_rows(&batch, &self.filters)?;
                let kept = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                Ok(RecordBatch::try_new_with_options(
                    self.schema.clone(),
                    batch.columns()[..self.projection.len()].to_vec(),
                    &kept,
                )?)
            })
            .collect()
    }
}

/// Batches of a Parquet file, one row group decoded at a time.
pub struct ParquetBatchReader {
    contents: ParquetContents,
    next: usize,
    ready: VecDeque<RecordBatch>,
}

impl Iterator for ParquetBatchReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.ready.is_empty() {
            let group = *self.contents.row_groups.get(self.next)?;
            self.next += 1;
            match self.contents.read_row_group(group) {
                Ok(batches) => self.ready.extend(batches),
                Err(error) => return Some(Err(ArrowError::ExternalError(Box::new(error)))),
            }
        }
        self.ready.pop_front().map(Ok)
    }
}

impl RecordBatchReader for ParquetBatchReader {
    fn schema(&self) -> SchemaRef {
        self.contents.schema()
    }
}

/// Every chosen row group of the Parquet file at `location`, decoded in parallel; a store
/// object is read from one version, retried from the start if it changed between requests.
pub fn read_all(
    location: &Location,
    columns: Option<&[String]>,
    filters: &[ColumnFilter],
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    retry_if_changed(|| {
        let contents = ParquetContents::open(location, columns, filters)?;
        Ok((contents.schema(), contents.read_all()?))
    })
}

/// What a Parquet file's footer says, without reading any row group.
pub struct ParquetFooter {
    pub schema: SchemaRef,
    /// The file's key-value pairs, except the encoded Arrow schema.
    pub metadata: Vec<(String, String)>,
    pub rows: u64,
    pub row_groups: usize,
    pub stored_bytes: u64,
}

/// The footer of a Parquet file whose last bytes (`tail`, ending at `size`) were read
/// already; `read` fetches a range when the metadata is longer than the tail.
pub(crate) fn footer_from_tail(
    size: u64,
    tail: &Buffer,
    read: impl Fn(u64, u64) -> Result<Buffer>,
) -> Result<ParquetFooter> {
    let metadata = decode_metadata(size, tail, read)?;
    let file = metadata.metadata().file_metadata();
    let pairs = file
        .key_value_metadata()
        .map(|pairs| {
            pairs
                .iter()
                .filter(|pair| pair.key != parquet::arrow::ARROW_SCHEMA_META_KEY)
                .map(|pair| (pair.key.clone(), pair.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    Ok(ParquetFooter {
        schema: Arc::new(writer_schema(&metadata)),
        metadata: pairs,
        rows: file.num_rows().max(0) as u64,
        row_groups: metadata.metadata().num_row_groups(),
        stored_bytes: size,
    })
}

fn read_metadata(source: &RangeSource, size: u64) -> Result<ArrowReaderMetadata> {
    let tail_start = size.saturating_sub(TAIL_BYTES);
    let read = |start: u64, end: u64| -> Result<Buffer> {
        Ok(source
            .read(std::iter::once(start..end).collect())?
            .pop()
            .expect("one range asked for"))
    };
    let tail = read(tail_start, size)?;
    decode_metadata(size, &tail, read)
}

/// The file's metadata and the Arrow schema it decodes to, from its last bytes (`tail`).
fn decode_metadata(
    size: u64,
    tail: &Buffer,
    read: impl Fn(u64, u64) -> Result<Buffer>,
) -> Result<ArrowReaderMetadata> {
    let bytes = metadata_bytes(size, tail, read)?;
    guarded(|| {
        let metadata = ParquetMetaDataReader::decode_metadata(&bytes).map_err(read_error)?;
        ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
            .map_err(read_error)
    })
}

/// The thrift-encoded metadata: before the last 8 bytes (its length and the magic).
fn metadata_bytes(
    size: u64,
    tail: &Buffer,
    read: impl Fn(u64, u64) -> Result<Buffer>,
) -> Result<Buffer> {
    if size < 12 || tail.len() < 8 {
        return Err(FastIoError::CorruptParquet(
            "too short to be a Parquet file".into(),
        ));
    }
    let trailer = &tail[tail.len() - 8..];
    if &trailer[4..] != PARQUET_MAGIC {
        return Err(FastIoError::CorruptParquet(
            "not a Parquet file: it does not end with PAR1 (truncated, or another format)".into(),
        ));
    }
    let length = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes")) as u64;
    if length + 12 > size {
        return Err(FastIoError::CorruptParquet(format!(
            "the footer claims {length} bytes of metadata in a file of {size}"
        )));
    }
    let start = size - 8 - length;
    let tail_start = size - tail.len() as u64;
    if start >= tail_start {
        Ok(tail.slice_with_length((start - tail_start) as usize, length as usize))
    } else {
        read(start, size - 8)
    }
}

/// The schema the writer gave: the fields arrow-rs restores (from ARROW:schema when there),
/// with the Arrow schema's own metadata rather than every key-value pair of the file, so a
/// table read back and written again does not carry the old file's row count or hash.
fn writer_schema(metadata: &ArrowReaderMetadata) -> Schema {
    let decoded = metadata.schema();
    let embedded = metadata
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|pairs| {
            pairs
                .iter()
                .find(|pair| pair.key == parquet::arrow::ARROW_SCHEMA_META_KEY)
        });
    match embedded {
        Some(_) => {
            let mut own = decoded.metadata().clone();
            let file_pairs = metadata.metadata().file_metadata().key_value_metadata();
            // The file's pairs were merged in by arrow-rs; keep those the Arrow schema itself
            // carried (pyarrow and this writer both repeat "pandas" in the two places).
            for pair in file_pairs.into_iter().flatten() {
                if crate::footer::is_file_entry(&pair.key) {
                    own.remove(&pair.key);
                }
            }
            own.remove(parquet::arrow::ARROW_SCHEMA_META_KEY);
            Schema::new_with_metadata(decoded.fields().clone(), own)
        }
        None => decoded.as_ref().clone(),
    }
}

/// Merges ranges closer than [`COALESCE_GAP`] (sorted first), so a read of neighbouring
/// columns is one request.
fn coalesced(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.sort_by_key(|range| range.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end + COALESCE_GAP => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// An Arrow buffer as the owner of `Bytes`, so fetched bytes reach the parquet reader uncopied.
struct OwnedBuffer(Buffer);

impl AsRef<[u8]> for OwnedBuffer {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// The column chunks fetched for a read, as the parquet reader asks for them.
#[derive(Clone)]
struct FetchedChunks {
    size: u64,
    /// (offset in the file, bytes), sorted by offset, not overlapping.
    pieces: Arc<Vec<(u64, Bytes)>>,
}

impl FetchedChunks {
    /// The fetched bytes from `start` to the end of the piece holding it.
    fn from(&self, start: u64) -> Option<Bytes> {
        let index = self.pieces.partition_point(|(offset, _)| *offset <= start);
        let (offset, bytes) = &self.pieces[index.checked_sub(1)?];
        let at = usize::try_from(start - offset).ok()?;
        (at <= bytes.len()).then(|| bytes.slice(at..))
    }

    fn outside(start: u64, end: u64) -> ParquetError {
        ParquetError::General(format!(
            "bytes {start}..{end} lie outside the column chunks the metadata describes"
        ))
    }
}

impl Length for FetchedChunks {
    fn len(&self) -> u64 {
        self.size
    }
}

impl ChunkReader for FetchedChunks {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        self.from(start)
            .map(Buf::reader)
            .ok_or_else(|| Self::outside(start, start + 1))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self.from(start) {
            Some(rest) if length <= rest.len() => Ok(rest.slice(..length)),
            _ => Err(Self::outside(start, start + length as u64)),
        }
    }
}

/// Runs `work`, turning a panic in the parquet crate (on damaged input) into `CorruptParquet`.
fn guarded<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        Err(FastIoError::CorruptParquet(format!(
            "unreadable data: {}",
            panic_message(&payload)
        )))
    })
}

fn read_error(error: ParquetError) -> FastIoError {
    match error {
        ParquetError::External(source) => match source.downcast::<FastIoError>() {
            Ok(inner) => *inner,
            Err(other) => FastIoError::CorruptParquet(other.to_string()),
        },
        ParquetError::NYI(message) => {
            FastIoError::CorruptParquet(format!("not supported by this reader: {message}"))
        }
        other => FastIoError::CorruptParquet(other.to_string()),
    }
}

fn arrow_read_error(error: ArrowError) -> FastIoError {
    match error {
        ArrowError::ExternalError(source) => match source.downcast::<ParquetError>() {
            Ok(parquet) => read_error(*parquet),
            Err(other) => FastIoError::CorruptParquet(other.to_string()),
        },
        ArrowError::ParquetError(message) => FastIoError::CorruptParquet(message),
        other => FastIoError::CorruptParquet(other.to_string()),
    }
}
