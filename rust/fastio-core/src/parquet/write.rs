//! Parquet files encoded on every core.
//!
//! arrow-rs's `parquet` crate does all the format work; this module only schedules it. Batches
//! are gathered into row groups sized by bytes; each row group's columns are encoded side by
//! side on the rayon pool by the crate's own column writers (`compute_leaves` feeding an
//! `ArrowColumnWriter` per leaf), and the finished column chunks are appended in order while
//! the next row group is being encoded. pyarrow's `pq.write_table` encodes one column after
//! another on one thread.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, DataType, Schema, SchemaRef};
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
    ArrowWriterOptions,
};
use parquet::arrow::ArrowWriter;
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;
use rayon::ThreadPool;

use crate::batch::compat::{stored_schema, to_stored};
use crate::batch::content_hash::ContentHasher;
use crate::batch::keys::{
    writer_name, COMPRESSION_METADATA_KEY, CONTENT_HASH_KEY, ROWS_METADATA_KEY, WRITER_METADATA_KEY,
};
use crate::batch::rechunk::batch_slice_bytes;
use crate::batch::write::{conform, InterruptCheck, WriteGuard, WriteStats};
use crate::bytes::CountingWriter;
use crate::error::{guarded, FastIoError, Result};
use crate::parquet::options::ParquetOptions;

/// One row group's encoded column chunks, in leaf order.
type RowGroupChunks = Vec<ArrowColumnChunk>;

/// Writes record batches as a Parquet file into any `Write`, encoding columns in parallel.
pub struct ParquetFileEncoder<W: Write + Send> {
    writer: Option<SerializedFileWriter<CountingWriter<W>>>,
    factory: ArrowRowGroupWriterFactory,
    /// The schema batches arrive with.
    schema: SchemaRef,
    /// The schema stored: `schema` with the types the parquet crate cannot encode recast.
    stored: SchemaRef,
    /// Columns recast from `schema` to `stored`.
    recast: Vec<usize>,
    /// The root column of each leaf column writer, in leaf order.
    leaf_roots: Vec<usize>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    pending_bytes: usize,
    row_groups: usize,
    in_flight: VecDeque<Receiver<Result<RowGroupChunks>>>,
    pool: Arc<ThreadPool>,
    pool_owner: u32,
    options: ParquetOptions,
    hasher: Option<ContentHasher>,
    stats: WriteStats,
    guard: WriteGuard,
}

impl<W: Write + Send> ParquetFileEncoder<W> {
    pub fn try_new(sink: W, schema: SchemaRef, options: &ParquetOptions) -> Result<Self> {
        let properties = options.properties()?;
        let (stored, recast) = storable_schema(&stored_schema(&schema, options.compat).0, &schema);
        let out = CountingWriter::new(sink);
        // ArrowWriter writes the leading magic and records the Arrow schema (ARROW:schema, with
        // the pandas metadata) for readers to restore types; its lower-level halves then let
        // the row groups be encoded here in parallel.
        let writer_options = ArrowWriterOptions::new().with_properties(properties);
        let (writer, factory) =
            ArrowWriter::try_new_with_options(out, stored.clone(), writer_options)
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(write_error)?;
        let descriptor = writer.schema_descr();
        let leaf_roots = (0..descriptor.num_columns())
            .map(|leaf| descriptor.get_column_root_idx(leaf))
            .collect();
        Ok(ParquetFileEncoder {
            writer: Some(writer),
            factory,
            leaf_roots,
            pending: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
            row_groups: 0,
            in_flight: VecDeque::new(),
            pool: crate::pool::pool(),
            pool_owner: std::process::id(),
            hasher: options.content_hash.then(|| ContentHasher::new(&schema)),
            schema,
            stored,
            recast,
            options: options.clone(),
            stats: WriteStats::default(),
            guard: WriteGuard::default(),
        })
    }

    /// Stops the write when `check` fails, between row groups and before the footer.
    pub fn with_interrupt_check(mut self, check: InterruptCheck) -> Self {
        self.guard.set_interrupt_check(check);
        self
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Whether an earlier error has made the output unusable.
    pub fn failed(&self) -> bool {
        self.guard.failed()
    }

    /// Adds one batch; it is gathered into the current row group (cut across two when it
    /// fills one). A batch whose schema does not match is refused and the file stays usable.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.guard.check_usable()?;
        let batch = conform(batch, &self.schema)?;
        let result = self.recast(batch).and_then(|batch| self.gather(batch));
        self.guard.record(result)
    }

    /// The batch in the stored schema; the hash is of the batch as it arrived.
    fn recast(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&batch);
        }
        to_stored(&batch, &self.stored, &self.recast)
    }

    /// Writes every batch of `reader`; an error from the source fails the encoder.
    pub fn write_all(
        &mut self,
        reader: impl Iterator<Item = Result<RecordBatch, ArrowError>>,
    ) -> Result<()> {
        for batch in reader {
            let batch = self.guard.record(batch.map_err(FastIoError::from))?;
            self.write(&batch)?;
        }
        Ok(())
    }

    /// Encodes the last row group and writes the footer; returns the sink and what was written.
    pub fn finish(mut self) -> Result<(W, WriteStats)> {
        self.guard.check_usable()?;
        let result = self.finish_file();
        self.guard.record(result)
    }

    fn finish_file(&mut self) -> Result<(W, WriteStats)> {
        if self.pending_rows > 0 {
            self.submit_row_group()?;
        }
        while !self.in_flight.is_empty() {
            self.append_oldest()?;
        }
        self.guard.check_interrupt()?;
        let mut writer = self.writer.take().expect("encoder finished twice");
        self.stats.content_hash = self.hasher.take().and_then(ContentHasher::finish);
        let mut entries = vec![
            (WRITER_METADATA_KEY.to_string(), writer_name()),
            (ROWS_METADATA_KEY.to_string(), self.stats.rows.to_string()),
            (
                COMPRESSION_METADATA_KEY.to_string(),
                self.options.codec.name().to_string(),
            ),
        ];
        if let Some(digest) = &self.stats.content_hash {
            entries.push((CONTENT_HASH_KEY.to_string(), digest.clone()));
        }
        for (key, value) in &self.options.footer_metadata {
            if !entries.iter().any(|(k, _)| k == key) {
                entries.push((key.clone(), value.clone()));
            }
        }
        entries.sort();
        for (key, value) in entries {
            writer.append_key_value_metadata(KeyValue::new(key, value));
        }
        let mut out = writer.into_inner().map_err(write_error)?;
        out.flush()
            .map_err(|e| FastIoError::io("flushing the Parquet file", e))?;
        self.stats.stored_bytes = out.written();
        Ok((out.into_inner(), std::mem::take(&mut self.stats)))
    }

    fn gather(&mut self, batch: RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        let bytes = batch_slice_bytes(&batch);
        self.stats.rows += rows as u64;
        self.stats.raw_bytes += bytes as u64;
        let bytes_per_row = bytes.div_ceil(rows.max(1)).max(1);
        let mut offset = 0;
        while offset < rows {
            let room_rows = self.options.row_group_rows - self.pending_rows;
            let room_bytes = self
                .options
                .row_group_bytes
                .saturating_sub(self.pending_bytes)
                .div_ceil(bytes_per_row)
                .max(1);
            let take = (rows - offset).min(room_rows).min(room_bytes);
            self.pending.push(batch.slice(offset, take));
            self.pending_rows += take;
            self.pending_bytes += take * bytes_per_row;
            offset += take;
            if self.pending_rows >= self.options.row_group_rows
                || self.pending_bytes >= self.options.row_group_bytes
            {
                self.submit_row_group()?;
            }
        }
        Ok(())
    }

    /// Starts encoding the gathered batches as the next row group, and appends the oldest
    /// finished one once two are in flight (one encoding while the other is written).
    fn submit_row_group(&mut self) -> Result<()> {
        self.guard.check_interrupt()?;
        let batches = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        self.pending_bytes = 0;
        let writers = self
            .factory
            .create_column_writers(self.row_groups)
            .map_err(write_error)?;
        self.row_groups += 1;
        self.stats.batches += 1;
        let mut by_column: Vec<Vec<ArrowColumnWriter>> = (0..self.stored.fields().len())
            .map(|_| Vec::new())
            .collect();
        for (leaf, writer) in writers.into_iter().enumerate() {
            by_column[self.leaf_roots[leaf]].push(writer);
        }
        if std::process::id() != self.pool_owner {
            // Forked since the encoder was made: the pool's threads stayed in the parent.
            self.pool = crate::pool::pool();
            self.pool_owner = std::process::id();
        }
        let schema = self.stored.clone();
        if !self.options.parallel {
            let (sender, receiver) = sync_channel(1);
            let _ = sender.send(encode_row_group(&schema, &batches, by_column, false));
            self.in_flight.push_back(receiver);
        } else {
            let (sender, receiver) = sync_channel(1);
            let pool = self.pool.clone();
            pool.spawn(move || {
                let result = guarded(
                    |panic| {
                        FastIoError::Internal(format!("encoding a row group panicked: {panic}"))
                    },
                    || encode_row_group(&schema, &batches, by_column, true),
                );
                let _ = sender.send(result);
            });
            self.in_flight.push_back(receiver);
        }
        while self.in_flight.len() > 1 {
            self.append_oldest()?;
        }
        Ok(())
    }

    fn append_oldest(&mut self) -> Result<()> {
        let receiver = self
            .in_flight
            .pop_front()
            .expect("a row group is in flight");
        let chunks = receiver.recv().map_err(|_| {
            FastIoError::Internal("a row group's encoder stopped without an answer".into())
        })??;
        let writer = self.writer.as_mut().expect("encoder used after finish");
        let mut row_group = writer.next_row_group().map_err(write_error)?;
        for chunk in chunks {
            chunk
                .append_to_row_group(&mut row_group)
                .map_err(write_error)?;
        }
        row_group.close().map_err(write_error)?;
        Ok(())
    }
}

/// Every column of one row group, each on its own worker; chunks come back in leaf order.
fn encode_row_group(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    by_column: Vec<Vec<ArrowColumnWriter>>,
    parallel: bool,
) -> Result<RowGroupChunks> {
    let encode_column = |(index, mut writers): (usize, Vec<ArrowColumnWriter>)| {
        let field = schema.field(index);
        for batch in batches {
            let leaves = compute_leaves(field, batch.column(index)).map_err(write_error)?;
            for (writer, leaf) in writers.iter_mut().zip(&leaves) {
                writer.write(leaf).map_err(write_error)?;
            }
        }
        writers
            .into_iter()
            .map(|writer| writer.close().map_err(write_error))
            .collect::<Result<Vec<_>>>()
    };
    let columns: Vec<Vec<ArrowColumnChunk>> = if parallel {
        by_column
            .into_par_iter()
            .enumerate()
            .map(encode_column)
            .collect::<Result<_>>()?
    } else {
        by_column
            .into_iter()
            .enumerate()
            .map(encode_column)
            .collect::<Result<_>>()?
    };
    Ok(columns.into_iter().flatten().collect())
}

/// `schema` with dictionaries of string or binary views stored as dictionaries of strings or
/// binaries, which the parquet crate encodes (a Parquet dictionary column's values are plain
/// byte arrays either way; polars hands its categoricals over as such views); and which
/// columns differ from `input`'s.
fn storable_schema(schema: &SchemaRef, input: &SchemaRef) -> (SchemaRef, Vec<usize>) {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Dictionary(keys, values)
                if matches!(values.as_ref(), DataType::Utf8View | DataType::BinaryView) =>
            {
                let plain = if values.as_ref() == &DataType::Utf8View {
                    DataType::Utf8
                } else {
                    DataType::Binary
                };
                Arc::new(
                    field
                        .as_ref()
                        .clone()
                        .with_data_type(DataType::Dictionary(keys.clone(), Box::new(plain))),
                )
            }
            _ => field.clone(),
        })
        .collect();
    let recast: Vec<usize> = (0..fields.len())
        .filter(|&index| fields[index].data_type() != input.field(index).data_type())
        .collect();
    if recast.is_empty() {
        return (input.clone(), recast);
    }
    let stored = Schema::new_with_metadata(fields, input.metadata().clone());
    (Arc::new(stored), recast)
}

/// A Parquet error as the core's; a failed sink (a store upload) comes back out as itself.
pub(crate) fn write_error(error: ParquetError) -> FastIoError {
    match error {
        ParquetError::External(source) => match source.downcast::<std::io::Error>() {
            Ok(io) => FastIoError::io("writing the Parquet file", *io),
            Err(other) => FastIoError::InvalidArgument(format!("writing Parquet: {other}")),
        },
        ParquetError::ArrowError(message) => {
            FastIoError::InvalidArgument(format!("writing Parquet: {message}"))
        }
        ParquetError::NYI(message) => FastIoError::InvalidArgument(format!(
            "this data cannot be written as Parquet yet: {message}"
        )),
        other => FastIoError::InvalidArgument(format!("writing Parquet: {other}")),
    }
}
