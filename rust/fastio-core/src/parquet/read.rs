//! Parquet files read on every core: the footer first, then only the column chunks of the row
//! groups and columns asked for (concurrent ranged requests on a store, each pinned to one
//! version of the object), each (row group, column) pair decoded by arrow-rs's own reader on
//! its own worker, and the columns put back together as batches of one row group each.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use ::bytes::{Buf, Bytes};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, RecordBatchReader};
use arrow_buffer::Buffer;
use arrow_schema::{ArrowError, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{ChunkReader, Length};
use rayon::prelude::*;

use crate::batch::row_filter::{filter_columns, filter_rows, ColumnFilter};
use crate::bytes::{self, RangeRead};
use crate::error::{guarded, FastIoError, Result};
use crate::parquet::int96::{self, Int96Columns};
use crate::parquet::metadata::{read_metadata, writer_schema};
use crate::parquet::options::ParquetReadOptions;
use crate::parquet::prune::chosen_row_groups;
use crate::parquet::{arrow_read_error, read_error, unreadable};
use crate::store::{retry_if_changed, Location};

/// Rows of each decoded array.
const DECODE_ROWS: usize = 64 << 10;
/// Neighbouring column chunks closer than this are fetched in one request.
const COALESCE_GAP: u64 = 64 << 10;

/// An opened Parquet file: its metadata, the Arrow schema it decodes to, and the columns and
/// row groups a read takes.
pub struct ParquetContents {
    /// A store object is pinned to one version (see `RemoteObject::pin`).
    source: Box<dyn RangeRead>,
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
    /// The file's INT96 columns, each checked against a second decoding at whole seconds.
    int96: Option<Int96Columns>,
}

impl ParquetContents {
    /// Reads the metadata of the Parquet file at `location` (pinning a store object to one
    /// version) and plans a read of `columns` (all when None) with `filters`, as `options`
    /// say.
    pub fn open(
        location: &Location,
        columns: Option<&[String]>,
        filters: &[ColumnFilter],
        options: ParquetReadOptions,
    ) -> Result<Self> {
        let source = bytes::open(location)?;
        let size = source.size();
        let (metadata, int96) = int96::plan(read_metadata(source.as_ref())?, options.int96_unit)?;
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
        refuse_unknown_codecs(metadata.metadata(), &decoded, &row_groups)?;
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
            int96,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
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
        let buffers = self.source.read_ranges(ranges.clone())?;
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
        let pieces = self.decode_column_as(&self.metadata, chunks, group, column)?;
        if let Some(int96) = self.int96.as_ref().filter(|i| i.roots.contains(&column)) {
            let seconds = self.decode_column_as(&int96.seconds, chunks, group, column)?;
            let name = self.metadata.schema().field(column).name().clone();
            for (piece, whole) in pieces.iter().zip(&seconds) {
                int96::check_range(&name, piece, whole)?;
            }
        }
        Ok(pieces)
    }

    fn decode_column_as(
        &self,
        metadata: &ArrowReaderMetadata,
        chunks: &FetchedChunks,
        group: usize,
        column: usize,
    ) -> Result<Vec<ArrayRef>> {
        guarded(unreadable, || {
            let descriptor = metadata.metadata().file_metadata().schema_descr();
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
                chunks.clone(),
                metadata.clone(),
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
        let decoded_rows = first.iter().sum::<usize>();
        let rows_agree = decoded_rows == rows || self.counts_values_as_rows(group);
        if !rows_agree || columns.iter().any(|c| lengths(c) != first) {
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

    /// Whether row group `group` records as its row count the number of values of one of its
    /// repeated columns, a writer's mistake pyarrow reads through: the columns' decoded lengths,
    /// which must still agree with each other, are then its rows.
    fn counts_values_as_rows(&self, group: usize) -> bool {
        let row_group = self.metadata.metadata().row_group(group);
        row_group.columns().iter().any(|chunk| {
            chunk.column_descr().max_rep_level() > 0 && chunk.num_values() == row_group.num_rows()
        })
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
pub(crate) fn read_all(
    location: &Location,
    columns: Option<&[String]>,
    filters: &[ColumnFilter],
    options: ParquetReadOptions,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    retry_if_changed(|| {
        let contents = ParquetContents::open(location, columns, filters, options)?;
        Ok((contents.schema(), contents.read_all()?))
    })
}

/// Refuses, before anything is fetched, a column chunk to decode whose codec arrow-rs does not
/// implement: LZO, the one codec Parquet defines that it lacks (every other one is built in).
fn refuse_unknown_codecs(
    metadata: &ParquetMetaData,
    decoded: &[usize],
    row_groups: &[usize],
) -> Result<()> {
    let descriptor = metadata.file_metadata().schema_descr();
    for &group in row_groups {
        for (leaf, chunk) in metadata.row_group(group).columns().iter().enumerate() {
            let decodable = !matches!(chunk.compression(), Compression::LZO);
            if !decodable && decoded.contains(&descriptor.get_column_root_idx(leaf)) {
                return Err(FastIoError::UnsupportedParquet(format!(
                    "column {:?} is compressed with {}, a codec this reader does not decode \
                     (it decodes gzip, brotli, lz4, zstd, snappy and uncompressed pages)",
                    chunk.column_path().string(),
                    chunk.compression()
                )));
            }
        }
    }
    Ok(())
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
    type T = ::bytes::buf::Reader<Bytes>;

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
