//! What an Arrow IPC file or stream holds, read from its message headers without decoding a
//! single column: rows, batches, codec, stored and uncompressed bytes.

use std::sync::Arc;

use arrow_buffer::Buffer;
use arrow_ipc::convert::fb_to_schema;
use arrow_ipc::{CompressionType, MessageHeader};
use arrow_schema::SchemaRef;

use crate::bytes::read_consistently;
use crate::error::{guarded, Result};
use crate::ipc::guard::check_message;
use crate::ipc::layout::{block_range, footer_len, footer_start, index_stream, opens_a_file};
use crate::ipc::message::parse_message;
use crate::ipc::reader::FileFooter;
use crate::ipc::{corrupt, truncated, ARROW_FILE_MAGIC, FILE_HEADER_LEN, FILE_TRAILER_LEN};
use crate::store::Location;

/// One record batch message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    pub rows: u64,
    /// Bytes of the message body as stored.
    pub stored_bytes: u64,
    /// Bytes of the body once decompressed.
    pub raw_bytes: u64,
    /// "zstd", "lz4" or None for uncompressed.
    pub codec: Option<&'static str>,
}

/// The whole file or stream.
#[derive(Debug, Clone)]
pub struct Summary {
    /// "file" (with a footer) or "stream": the IPC framing, not the file format.
    pub framing: &'static str,
    pub schema: SchemaRef,
    pub stored_bytes: u64,
    pub batches: Vec<BatchSummary>,
    pub dictionary_batches: u64,
    /// Key-value pairs of a file's footer (our writer records itself there).
    pub footer_metadata: Vec<(String, String)>,
}

impl Summary {
    pub fn rows(&self) -> u64 {
        self.batches.iter().map(|b| b.rows).sum()
    }

    pub fn raw_bytes(&self) -> u64 {
        self.batches.iter().map(|b| b.raw_bytes).sum()
    }

    /// The codecs used by the batches, in order of first use.
    pub fn codecs(&self) -> Vec<&'static str> {
        let mut codecs = Vec::new();
        for codec in self.batches.iter().map(|b| b.codec.unwrap_or("none")) {
            if !codecs.contains(&codec) {
                codecs.push(codec);
            }
        }
        codecs
    }
}

/// Summarizes a local file (read whole: a map would die if another program truncated it) or a store object
/// (downloaded in parallel ranges).
pub fn describe_location(location: &Location) -> Result<Summary> {
    let bytes = read_consistently(location, |source| match source.size() {
        0 => Err(corrupt(format!("{} is empty", source.name()))),
        size => source.read_range(0..size),
    })?;
    describe(&bytes)
}

/// Summarizes the IPC file or stream in `bytes`.
pub fn describe(bytes: &Buffer) -> Result<Summary> {
    // arrow-ipc's schema conversion panics on some damaged field types (an integer 2112 bits
    // wide): damage is reported as such, as `read` reports it.
    guarded(
        |panic| corrupt(format!("unreadable headers: {panic}")),
        || describe_bytes(bytes),
    )
}

/// What a walk of a file's footer or a stream's messages finds.
struct Walk {
    schema: SchemaRef,
    /// (offset, metadata length, body length) of every record batch message.
    messages: Vec<(usize, usize, usize)>,
    dictionary_batches: u64,
    footer_metadata: Vec<(String, String)>,
}

fn describe_bytes(bytes: &Buffer) -> Result<Summary> {
    let data = bytes.as_slice();
    let is_file = data.len() >= FILE_HEADER_LEN + FILE_TRAILER_LEN
        && opens_a_file(data)
        && data.ends_with(ARROW_FILE_MAGIC);
    let walk = if is_file {
        walk_file(data)?
    } else {
        walk_stream(data)?
    };
    let batches = walk
        .messages
        .iter()
        .map(|&(offset, metadata_len, body_len)| {
            let body_start = offset + metadata_len;
            summarize_batch(
                &data[offset..body_start],
                &data[body_start..body_start + body_len],
            )
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Summary {
        framing: if is_file { "file" } else { "stream" },
        schema: walk.schema,
        stored_bytes: data.len() as u64,
        batches,
        dictionary_batches: walk.dictionary_batches,
        footer_metadata: walk.footer_metadata,
    })
}

/// The batches a file's footer lists, and its key-value metadata.
fn walk_file(data: &[u8]) -> Result<Walk> {
    let footer_len = footer_len(&data[data.len() - FILE_TRAILER_LEN..])?;
    let footer_start = footer_start(data.len() as u64, footer_len as u64)?;
    let footer_bytes = &data[footer_start as usize..data.len() - FILE_TRAILER_LEN];
    let footer = FileFooter::parse(footer_bytes, None)?;
    let messages = footer
        .batches
        .iter()
        .map(|block| {
            let range = block_range(block, footer_start)?;
            let metadata = block.metaDataLength() as usize;
            let offset = range.start as usize;
            Ok((
                offset,
                metadata,
                (range.end - range.start) as usize - metadata,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Walk {
        schema: footer.schema,
        messages,
        dictionary_batches: footer.dictionaries.len() as u64,
        footer_metadata: footer.metadata,
    })
}

/// The messages of a whole stream.
fn walk_stream(data: &[u8]) -> Result<Walk> {
    let index = index_stream(data)?;
    if !index.complete {
        return Err(truncated("the stream ends part-way through a message"));
    }
    let mut schema = None;
    let mut messages = Vec::new();
    let mut dictionary_batches = 0;
    for message in &index.messages {
        match message.header {
            MessageHeader::Schema => {
                let metadata = &data[message.offset..message.offset + message.metadata_len];
                let parsed = parse_message(metadata)?;
                let ipc_schema = parsed
                    .header_as_schema()
                    .ok_or_else(|| corrupt("a schema message has no schema"))?;
                schema.get_or_insert_with(|| Arc::new(fb_to_schema(ipc_schema)));
            }
            MessageHeader::DictionaryBatch => dictionary_batches += 1,
            MessageHeader::RecordBatch => {
                messages.push((message.offset, message.metadata_len, message.body_len))
            }
            _ => {}
        }
    }
    Ok(Walk {
        schema: schema.ok_or_else(|| corrupt("no schema message"))?,
        messages,
        dictionary_batches,
        footer_metadata: Vec::new(),
    })
}

/// Rows, codec and sizes of one record batch message, from its header and buffer prefixes.
fn summarize_batch(metadata: &[u8], body: &[u8]) -> Result<BatchSummary> {
    let parsed = parse_message(metadata)?;
    let batch = parsed
        .header_as_record_batch()
        .ok_or_else(|| corrupt("a record batch message has no header"))?;
    check_message(metadata, body)?;
    let codec = batch.compression().map(|c| match c.codec() {
        CompressionType::LZ4_FRAME => "lz4",
        _ => "zstd",
    });
    let mut raw = 0u64;
    for buffer in batch.buffers().into_iter().flatten() {
        let length = buffer.length().max(0) as u64;
        raw += match codec {
            Some(_) if length >= 8 => {
                let at = buffer.offset() as usize;
                let prefix: [u8; 8] = body[at..at + 8].try_into().expect("checked by the guard");
                match i64::from_le_bytes(prefix) {
                    -1 => length - 8,
                    declared => declared.max(0) as u64,
                }
            }
            _ => length,
        };
    }
    Ok(BatchSummary {
        rows: batch.length().max(0) as u64,
        stored_bytes: body.len() as u64,
        raw_bytes: raw,
        codec,
    })
}

#[cfg(test)]
mod tests {
    use arrow_array::{Int64Array, RecordBatch, RecordBatchIterator};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;
    use crate::batch::WRITER_METADATA_KEY;
    use crate::ipc::{encode_to_vec, Compression, EncodeOptions};

    #[test]
    fn counts_rows_batches_and_bytes_of_our_files() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batches: Vec<_> = (0..3)
            .map(|i| {
                let values = Int64Array::from_iter_values(i * 1000..(i + 1) * 1000);
                RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap()
            })
            .collect();
        for (compression, codec) in [
            (Compression::Zstd, Some("zstd")),
            (Compression::Lz4Frame, Some("lz4")),
            (Compression::None, None),
        ] {
            let options = EncodeOptions {
                chunk_rows: Some(1000),
                ..EncodeOptions::new(compression)
            };
            let reader = RecordBatchIterator::new(batches.iter().cloned().map(Ok), schema.clone());
            let (bytes, stats) = encode_to_vec(reader, &options).unwrap();
            let summary = describe(&Buffer::from_vec(bytes)).unwrap();
            assert_eq!(summary.framing, "file");
            assert_eq!(summary.rows(), 3000);
            assert_eq!(summary.batches.len(), 3);
            assert_eq!(summary.raw_bytes(), 3 * 8000);
            assert_eq!(summary.stored_bytes, stats.stored_bytes);
            assert!(summary.batches.iter().all(|b| b.codec == codec));
            let keys: Vec<&str> = summary
                .footer_metadata
                .iter()
                .map(|(k, _)| k.as_str())
                .collect();
            assert!(keys.contains(&WRITER_METADATA_KEY), "{keys:?}");
        }
    }
}
