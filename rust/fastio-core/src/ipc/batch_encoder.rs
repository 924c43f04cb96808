//! One record batch message encoded (and compressed) on any worker thread: arrow-ipc encodes
//! the buffers, `compress` compresses them buffer by buffer, and the message goes back to the
//! ordered stage of [`super::writer`] as separate buffers, with no gathering copy.

use std::cell::RefCell;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_buffer::Buffer;
use arrow_ipc::writer::{
    DictionaryHandling, DictionaryTracker, EncodedData, IpcDataGenerator, IpcWriteContext,
    IpcWriteOptions, StreamEncoder,
};
use arrow_ipc::CompressionType;
use arrow_schema::{DataType, Schema};

use crate::error::{FastIoError, Result};
use crate::ipc::compress::compress_message;

/// A record batch message, as arrow-ipc produced it.
pub(crate) enum EncodedBatch {
    /// Metadata and body copied into one vector (the path that can skip dictionaries).
    Data(EncodedData),
    /// The framed message as separate buffers: uncompressed column buffers stay the source's
    /// own memory, compressed ones the compressor's output, with no gathering copy.
    Buffers {
        buffers: Vec<Buffer>,
        metadata_len: usize,
    },
}

thread_local! {
    /// Each worker keeps its zstd context between batches; rebuilt when the level changes.
    static WRITE_CONTEXT: RefCell<(Option<i32>, IpcWriteContext)> =
        RefCell::new((None, IpcWriteContext::default()));
}

/// Encodes (and compresses) one record batch message; runs on any thread.
pub(crate) fn encode_body(
    batch: &RecordBatch,
    schema: &Schema,
    options: &IpcWriteOptions,
    codec: Option<CompressionType>,
    level: Option<i32>,
    has_dictionaries: bool,
) -> Result<EncodedBatch> {
    if !has_dictionaries {
        return encode_to_buffers(batch, schema, codec, level);
    }
    let data_gen = IpcDataGenerator::default();
    let mut tracker = DictionaryTracker::new(false);
    if has_dictionaries {
        // Dictionary columns need their ids; the dictionaries themselves were written by the
        // sequential stage, so the tracker is told it has seen them and encodes none again.
        data_gen.schema_to_bytes_with_dictionary_tracker(schema, &mut tracker, options);
        seed_top_level_dictionaries(batch, &mut tracker)?;
    }
    WRITE_CONTEXT.with_borrow_mut(|(context_level, context)| {
        if *context_level != level {
            *context = IpcWriteContext::default();
            *context_level = level;
        }
        let (_, body) = data_gen.encode(batch, &mut tracker, options, context)?;
        Ok(EncodedBatch::Data(body))
    })
}

/// Encodes one record batch message as buffers through arrow-ipc's stream encoder, then
/// compresses them buffer by buffer with `codec` (see `compress`).
fn encode_to_buffers(
    batch: &RecordBatch,
    schema: &Schema,
    codec: Option<CompressionType>,
    level: Option<i32>,
) -> Result<EncodedBatch> {
    // Compression is ours: arrow-ipc encodes the buffers as they are, with the same alignment
    // and metadata version as `options`.
    let plain = IpcWriteOptions::default();
    let mut encoder = StreamEncoder::try_new_with_options(schema, plain)?;
    // The encoder's first call also emits the schema; an empty batch takes that turn.
    encoder.encode(&batch.slice(0, 0))?;
    let buffers = encoder.encode(batch)?;
    // An encapsulated message opens with the continuation marker and the length of its
    // (padded) metadata; the footer's block needs that metadata length apart from the body.
    let prefix: Vec<u8> = buffers
        .iter()
        .flat_map(|buffer| buffer.as_slice().iter().copied())
        .take(8)
        .collect();
    let metadata_len = match prefix.as_slice() {
        [0xff, 0xff, 0xff, 0xff, a, b, c, d] => 8 + i32::from_le_bytes([*a, *b, *c, *d]) as usize,
        _ => {
            return Err(FastIoError::Internal(
                "arrow-ipc produced a message without its continuation marker".into(),
            ))
        }
    };
    let Some(codec) = codec else {
        return Ok(EncodedBatch::Buffers {
            buffers,
            metadata_len,
        });
    };
    let compressed = compress_message(buffers, metadata_len, codec, level.unwrap_or(0))?;
    Ok(EncodedBatch::Buffers {
        buffers: compressed.buffers,
        metadata_len: compressed.metadata_len,
    })
}

/// Records each top-level dictionary column of `batch` as already written.
///
/// The tracker numbers dictionaries depth-first through the schema; when every dictionary is a
/// top-level column, the ids follow the columns in order. With nested dictionaries the seeding
/// is skipped and they are encoded again, which costs time but not correctness.
fn seed_top_level_dictionaries(batch: &RecordBatch, tracker: &mut DictionaryTracker) -> Result<()> {
    let columns: Vec<&ArrayRef> = batch
        .columns()
        .iter()
        .filter(|column| matches!(column.data_type(), DataType::Dictionary(_, _)))
        .collect();
    let ids = tracker.dict_id().to_vec();
    if ids.len() != columns.len() {
        return Ok(());
    }
    for (id, column) in ids.into_iter().zip(columns) {
        tracker.insert_column(id, column, DictionaryHandling::Resend)?;
    }
    Ok(())
}
