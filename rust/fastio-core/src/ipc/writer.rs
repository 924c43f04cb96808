//! Parallel, ordered Arrow IPC file encoding.
//!
//! Batches are re-chunked on the calling thread, encoded and compressed on the rayon pool,
//! and written back in their original order. arrow-ipc does all the format work: the header
//! and schema come from its `FileWriter`, each message from `StreamEncoder` (or
//! `IpcDataGenerator` when dictionaries are involved), and the footer from its flatbuffer
//! builders; this module only schedules and places the pieces.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_ipc::convert::IpcSchemaEncoder;
use arrow_ipc::writer::{
    write_message, DictionaryTracker, EncodedData, FileWriter, IpcDataGenerator, IpcWriteContext,
    IpcWriteOptions,
};
use arrow_ipc::{Block, CompressionType, FooterBuilder, KeyValueBuilder, MetadataVersion};
use arrow_schema::{ArrowError, SchemaRef};
use flatbuffers::FlatBufferBuilder;
use rayon::ThreadPool;

use crate::batch::column_stats::{batch_stats, empty_stats, merge_stats, stats_json, ColumnStats};
use crate::batch::compat::{compact_views, stored_schema, to_stored};
use crate::batch::content_hash::{block_digests, block_split, BlockDigest, ContentHasher};
use crate::batch::keys::{
    writer_name, COLUMN_STATS_KEY, COMPRESSION_METADATA_KEY, CONTENT_HASH_KEY, ROWS_METADATA_KEY,
    WRITER_METADATA_KEY,
};
use crate::batch::rechunk::{batch_slice_bytes, dictionary_values_bytes, Rechunker};
use crate::batch::write::{conform, InterruptCheck, WriteGuard, WriteStats};
use crate::bytes::CountingWriter;
use crate::error::{guarded, FastIoError, Result};
use crate::ipc::batch_encoder::{encode_body, EncodedBatch};
use crate::ipc::options::EncodeOptions;
use crate::ipc::ARROW_FILE_MAGIC;

/// A batch's message and, when asked for, its column statistics and the digests of its whole
/// hash blocks (one list per column).
type Encoded = (
    EncodedBatch,
    Option<Vec<ColumnStats>>,
    Option<Vec<Vec<BlockDigest>>>,
);

/// What the ordered stage hashes itself: the batch, and its rows before and within its whole
/// blocks (see `content_hash::block_split`).
struct HashPlan {
    batch: RecordBatch,
    head: usize,
    whole: usize,
}

enum EncodedBody {
    InFlight(Receiver<Result<Encoded>>),
    Ready(Result<Encoded>),
}

/// One batch on its way to the sink: its dictionary messages, then its body.
struct PendingBatch {
    dictionaries: Vec<EncodedData>,
    body: EncodedBody,
    hash: Option<HashPlan>,
}

/// Writes record batches as an Arrow IPC file into any `Write`, encoding them in parallel.
pub struct IpcFileEncoder<W: Write> {
    out: CountingWriter<W>,
    /// The schema in the file.
    stored_schema: SchemaRef,
    write_options: IpcWriteOptions,
    data_gen: IpcDataGenerator,
    /// Sees every batch in order, so a changed dictionary is caught before anything is written.
    dictionary_tracker: DictionaryTracker,
    context: IpcWriteContext,
    has_dictionaries: bool,
    zstd_level: Option<i32>,
    /// The codec of record batch bodies, which this encoder applies itself.
    codec: Option<CompressionType>,
    pool: Arc<ThreadPool>,
    rechunker: Option<Rechunker>,
    in_flight: VecDeque<PendingBatch>,
    max_in_flight: usize,
    parallel: bool,
    dictionary_blocks: Vec<Block>,
    record_blocks: Vec<Block>,
    stats: WriteStats,
    /// Stops the write on an interrupt, and after a failure `finish` refuses to produce a file.
    guard: WriteGuard,
    /// The process that owns `pool`: a forked child must not queue work on the parent's.
    pool_owner: u32,
    /// Fed each batch in order on the calling thread, while the workers compress.
    hasher: Option<ContentHasher>,
    column_stats: Option<Vec<ColumnStats>>,
    footer_metadata: Vec<(String, String)>,
    compression_name: &'static str,
    /// The schema batches arrive with (see `compat`).
    input_schema: SchemaRef,
    /// Columns whose stored type differs from the arriving one.
    changed: Vec<usize>,
}

impl<W: Write> IpcFileEncoder<W> {
    pub fn try_new(sink: W, input_schema: SchemaRef, options: &EncodeOptions) -> Result<Self> {
        let write_options = options.ipc_write_options()?;
        let (schema, changed) = stored_schema(&input_schema, options.compat);
        let mut out = CountingWriter::new(sink);
        // arrow-ipc writes the leading magic, its padding and the schema message; the writer
        // is then dropped unfinished because the batches and footer are placed by this encoder.
        FileWriter::try_new_with_options(&mut out, &schema, write_options.clone())
            .map_err(write_error)?;
        let data_gen = IpcDataGenerator::default();
        let mut dictionary_tracker = DictionaryTracker::new(true);
        data_gen.schema_to_bytes_with_dictionary_tracker(
            &schema,
            &mut dictionary_tracker,
            &write_options,
        );
        let has_dictionaries = !dictionary_tracker.dict_id().is_empty();
        let pool = crate::pool::pool();
        let threads = pool.current_num_threads();
        // The hash and statistics describe the data as it arrived: `data_version(obj)` of the
        // caller's table matches the stored file's whatever the compatibility level rewrote.
        let schema_for_hash = input_schema.clone();
        Ok(IpcFileEncoder {
            out,
            pool,
            rechunker: Some(Rechunker::new(
                input_schema.clone(),
                options.chunk_rows,
                options.chunk_bytes,
            )),
            stored_schema: schema,
            write_options,
            data_gen,
            dictionary_tracker,
            context: IpcWriteContext::default(),
            has_dictionaries,
            zstd_level: options.zstd_level(),
            codec: options.compression.ipc_type(),
            in_flight: VecDeque::new(),
            // Two batches per worker keep every core busy while the oldest one is written.
            max_in_flight: 2 * threads,
            parallel: options.parallel && threads > 1,
            dictionary_blocks: Vec::new(),
            record_blocks: Vec::new(),
            stats: WriteStats::default(),
            guard: WriteGuard::default(),
            pool_owner: std::process::id(),
            hasher: options
                .content_hash
                .then(|| ContentHasher::new(&schema_for_hash)),
            column_stats: options.statistics.then(|| empty_stats(&schema_for_hash)),
            footer_metadata: options.footer_metadata.clone(),
            compression_name: options.compression.name(),
            input_schema,
            changed,
        })
    }

    /// Stops the write when `check` fails, between batches and before the footer: the sink is
    /// then never committed, so the previous version of the output stays.
    pub fn with_interrupt_check(mut self, check: InterruptCheck) -> Self {
        self.guard.set_interrupt_check(check);
        self
    }

    /// The schema batches must have (the file stores `compat`'s rewrite of it).
    pub fn schema(&self) -> &SchemaRef {
        &self.input_schema
    }

    /// Adds one batch; it is re-chunked, so it may be written now, later, or in pieces.
    ///
    /// A batch whose schema does not match is refused and the file stays usable; any other
    /// error leaves the encoder failed, and `finish` then refuses to complete the file.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.guard.check_usable()?;
        let batch = conform(batch, &self.input_schema)?;
        let mut rechunker = self.rechunker.take().expect("encoder used after finish");
        let result = rechunker.push(batch, &mut |chunk| self.submit(chunk));
        self.rechunker = Some(rechunker);
        self.guard.record(result)
    }

    /// Writes every batch of `reader`; an error from the source fails the encoder too, since
    /// the batches before it may sit half-written in the pipeline.
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

    /// Flushes the last batches and writes the footer; returns the sink and what was written.
    pub fn finish(mut self) -> Result<(W, WriteStats)> {
        self.guard.check_usable()?;
        let mut rechunker = self.rechunker.take().expect("encoder finished twice");
        rechunker.finish(&mut |chunk| self.submit(chunk))?;
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        self.guard.check_interrupt()?;
        self.stats.content_hash = self.hasher.take().and_then(ContentHasher::finish);
        self.stats.column_stats = self.column_stats.take();
        self.write_footer()?;
        self.out
            .flush()
            .map_err(|e| FastIoError::io("flushing the IPC file", e))?;
        self.stats.stored_bytes = self.out.written();
        Ok((self.out.into_inner(), std::mem::take(&mut self.stats)))
    }

    /// Whether an earlier error has made the output unusable.
    pub fn failed(&self) -> bool {
        self.guard.failed()
    }

    fn submit(&mut self, batch: RecordBatch) -> Result<()> {
        self.guard.check_interrupt()?;
        let first_row = self.stats.rows;
        self.stats.rows += batch.num_rows() as u64;
        self.stats.batches += 1;
        self.stats.raw_bytes += batch_slice_bytes(&batch) as u64;
        if std::process::id() != self.pool_owner {
            // Forked since the encoder was made: the pool's threads stayed in the parent.
            self.pool = crate::pool::pool();
            self.pool_owner = std::process::id();
        }
        let stored = to_stored(&batch, &self.stored_schema, &self.changed)?;
        let dictionaries = if self.has_dictionaries {
            // A zero-row slice keeps the full dictionaries, so the tracker sees them (and emits
            // each new one once) without encoding the batch body a second time.
            let (dictionaries, _) = self
                .data_gen
                .encode(
                    &stored.slice(0, 0),
                    &mut self.dictionary_tracker,
                    &self.write_options,
                    &mut self.context,
                )
                .map_err(dictionary_error)?;
            if !dictionaries.is_empty() {
                self.stats.raw_bytes += dictionary_values_bytes(&batch) as u64;
            }
            dictionaries
        } else {
            Vec::new()
        };
        let statistics = self.column_stats.is_some();
        let hash = self.hasher.is_some().then(|| {
            let (head, whole) = block_split(first_row, batch.num_rows());
            HashPlan {
                batch: batch.clone(),
                head,
                whole,
            }
        });
        let blocks = hash.as_ref().map(|plan| (plan.head, plan.whole));
        let body = if self.parallel {
            let (sender, receiver) = sync_channel(1);
            let schema = self.stored_schema.clone();
            let options = self.write_options.clone();
            let has_dictionaries = self.has_dictionaries;
            let level = self.zstd_level;
            let codec = self.codec;
            self.pool.spawn(move || {
                // A panic on a pool thread would abort the process; it becomes an error instead.
                let result = guarded(FastIoError::Internal, || {
                    // Statistics and hash blocks read the batch while it is in cache for the
                    // compressor, on the same worker.
                    let stats = statistics.then(|| batch_stats(&batch));
                    let digests = blocks.map(|(head, whole)| whole_blocks(&batch, head, whole));
                    let stored = compact_views(&stored);
                    encode_body(&stored, &schema, &options, codec, level, has_dictionaries)
                        .map(|body| (body, stats, digests))
                });
                let _ = sender.send(result);
            });
            EncodedBody::InFlight(receiver)
        } else {
            let stats = statistics.then(|| batch_stats(&batch));
            let digests = blocks.map(|(head, whole)| whole_blocks(&batch, head, whole));
            EncodedBody::Ready(
                encode_body(
                    &compact_views(&stored),
                    &self.stored_schema,
                    &self.write_options,
                    self.codec,
                    self.zstd_level,
                    self.has_dictionaries,
                )
                .map(|body| (body, stats, digests)),
            )
        };
        self.in_flight.push_back(PendingBatch {
            dictionaries,
            body,
            hash,
        });
        while self.in_flight.len() > self.max_in_flight {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> Result<()> {
        let Some(pending) = self.in_flight.pop_front() else {
            return Ok(());
        };
        for dictionary in pending.dictionaries {
            let block = self.write_message(dictionary)?;
            self.dictionary_blocks.push(block);
        }
        let (body, stats, digests) = match pending.body {
            EncodedBody::Ready(result) => result?,
            EncodedBody::InFlight(receiver) => receiver.recv().map_err(|_| {
                FastIoError::Internal("an encoding task ended without a result".into())
            })??,
        };
        if let (Some(total), Some(stats)) = (&mut self.column_stats, stats) {
            merge_stats(total, stats);
        }
        if let (Some(hasher), Some(plan), Some(digests)) = (&mut self.hasher, pending.hash, digests)
        {
            // In row order: the end of the block the batch started in, the whole blocks the
            // worker digested, then the start of the next block.
            let HashPlan { batch, head, whole } = plan;
            hasher.update_rows(&batch, 0, head);
            hasher.push_blocks(&digests, whole as u64);
            hasher.update_rows(&batch, head + whole, batch.num_rows() - head - whole);
        }
        let block = match body {
            EncodedBatch::Data(message) => self.write_message(message)?,
            EncodedBatch::Buffers {
                buffers,
                metadata_len,
            } => {
                let offset = self.out.written();
                for buffer in &buffers {
                    self.out
                        .write_all(buffer.as_slice())
                        .map_err(|e| FastIoError::io("writing a record batch", e))?;
                }
                let len = self.out.written() - offset;
                Block::new(
                    offset as i64,
                    metadata_len as i32,
                    (len - metadata_len as u64) as i64,
                )
            }
        };
        self.record_blocks.push(block);
        Ok(())
    }

    fn write_message(&mut self, message: EncodedData) -> Result<Block> {
        let offset = self.out.written() as i64;
        let (metadata_len, body_len) =
            write_message(&mut self.out, message, &self.write_options).map_err(write_error)?;
        Ok(Block::new(offset, metadata_len as i32, body_len as i64))
    }

    fn write_footer(&mut self) -> Result<()> {
        let mut fbb = FlatBufferBuilder::new();
        let dictionaries = fbb.create_vector(&self.dictionary_blocks);
        let record_batches = fbb.create_vector(&self.record_blocks);
        // A fresh tracker assigns the same dictionary ids as the header's schema message.
        let mut tracker = DictionaryTracker::new(true);
        let schema = IpcSchemaEncoder::new()
            .with_dictionary_tracker(&mut tracker)
            .schema_to_fb_offset(&mut fbb, &self.stored_schema);
        // The caller's entries first: what the encoder measured itself wins over them. Sorted,
        // so that the same table and options give the same bytes.
        let mut entries: BTreeMap<String, String> = self.footer_metadata.iter().cloned().collect();
        entries.insert(WRITER_METADATA_KEY.to_string(), writer_name());
        entries.insert(ROWS_METADATA_KEY.to_string(), self.stats.rows.to_string());
        entries.insert(
            COMPRESSION_METADATA_KEY.to_string(),
            self.compression_name.to_string(),
        );
        if let Some(hash) = &self.stats.content_hash {
            entries.insert(CONTENT_HASH_KEY.to_string(), hash.clone());
        }
        if let Some(stats) = &self.stats.column_stats {
            entries.insert(COLUMN_STATS_KEY.to_string(), stats_json(stats));
        }
        let pairs: Vec<_> = entries
            .iter()
            .map(|(key, value)| {
                let key = fbb.create_string(key);
                let value = fbb.create_string(value);
                let mut pair = KeyValueBuilder::new(&mut fbb);
                pair.add_key(key);
                pair.add_value(value);
                pair.finish()
            })
            .collect();
        let custom_metadata = fbb.create_vector(&pairs);
        let mut footer = FooterBuilder::new(&mut fbb);
        footer.add_version(MetadataVersion::V5);
        footer.add_schema(schema);
        footer.add_dictionaries(dictionaries);
        footer.add_recordBatches(record_batches);
        footer.add_custom_metadata(custom_metadata);
        let root = footer.finish();
        fbb.finish(root, None);
        let footer = fbb.finished_data();
        let context = "writing the IPC footer";
        self.out
            .write_all(footer)
            .map_err(|e| FastIoError::io(context, e))?;
        self.out
            .write_all(&(footer.len() as i32).to_le_bytes())
            .map_err(|e| FastIoError::io(context, e))?;
        self.out
            .write_all(ARROW_FILE_MAGIC)
            .map_err(|e| FastIoError::io(context, e))?;
        Ok(())
    }
}

/// The digests of the whole hash blocks of `batch`: `whole` rows from row `head`.
fn whole_blocks(batch: &RecordBatch, head: usize, whole: usize) -> Vec<Vec<BlockDigest>> {
    batch
        .columns()
        .iter()
        .map(|column| block_digests(column.data_type(), &column.slice(head, whole)))
        .collect()
}

/// Encodes a whole stream into an in-memory IPC file.
pub fn encode_to_vec(
    reader: impl RecordBatchReader,
    options: &EncodeOptions,
) -> Result<(Vec<u8>, WriteStats)> {
    let mut encoder = IpcFileEncoder::try_new(Vec::new(), reader.schema(), options)?;
    encoder.write_all(reader)?;
    encoder.finish()
}

fn write_error(error: ArrowError) -> FastIoError {
    match error {
        // arrow's context string repeats the OS error; the source already carries it.
        ArrowError::IoError(_, source) => FastIoError::io("writing the IPC file", source),
        other => other.into(),
    }
}

fn dictionary_error(error: ArrowError) -> FastIoError {
    match error {
        ArrowError::InvalidArgumentError(message) if message.contains("Dictionary replacement") => {
            FastIoError::InvalidArgument(
                "a dictionary-encoded column changes its dictionary between batches, which the \
                 Arrow IPC file format cannot store; give every batch the same dictionary \
                 (pyarrow: Table.unify_dictionaries()) or decode the column first"
                    .into(),
            )
        }
        other => other.into(),
    }
}
