//! Record batch messages compressed buffer by buffer, in parallel.
//!
//! arrow-ipc's encoder compresses a batch's buffers one after another on the thread that
//! encodes the batch, and its lz4 frames use blocks of up to 4 MiB, which liblz4 cannot
//! decode in place. Here arrow-ipc encodes the batch uncompressed (its buffers are the
//! source's own memory), each buffer becomes its own task on the rayon pool, and the header
//! is rebuilt with arrow-ipc's flatbuffer types to describe the compressed body. A buffer that
//! does not shrink is stored raw, marked by the uncompressed length -1, as the format allows.

use arrow_buffer::Buffer;
use arrow_ipc::{CompressionType, MessageBuilder, MessageHeader};
use flatbuffers::FlatBufferBuilder;
use rayon::prelude::*;

use crate::error::{FastIoError, Result};
use crate::ipc::batch_header;
use crate::ipc::codec;

/// Compressed buffers are padded to this in the body (the format's minimum, as pyarrow does).
const BODY_ALIGNMENT: usize = 8;

/// The uncompressed-length prefix that marks a buffer stored raw.
const RAW_PREFIX: [u8; 8] = (-1i64).to_le_bytes();

/// One buffer of the compressed body.
enum Packed {
    Empty,
    /// The length prefix and the frame.
    Frame(Vec<u8>),
    /// Stored uncompressed: the source's bytes, after a -1 prefix.
    Raw(Buffer),
}

impl Packed {
    fn len(&self) -> usize {
        match self {
            Packed::Empty => 0,
            Packed::Frame(bytes) => bytes.len(),
            Packed::Raw(bytes) => RAW_PREFIX.len() + bytes.len(),
        }
    }
}

/// A framed message as buffers to write in order, and the length of its metadata part.
pub(crate) struct CompressedMessage {
    pub buffers: Vec<Buffer>,
    pub metadata_len: usize,
}

/// Compresses the uncompressed record batch message `message` (arrow-ipc's framed buffers, the
/// first `metadata_len` bytes being its metadata) with `codec` (zstd at `level`).
pub(crate) fn compress_message(
    message: Vec<Buffer>,
    metadata_len: usize,
    codec: CompressionType,
    level: i32,
) -> Result<CompressedMessage> {
    let body = Body::split(message, metadata_len);
    let parsed = crate::ipc::message::parse_message(&body.metadata)?;
    let batch = parsed
        .header_as_record_batch()
        .ok_or_else(|| internal("arrow-ipc encoded something other than a record batch"))?;
    let sources = batch
        .buffers()
        .into_iter()
        .flatten()
        .map(|buffer| body.slice(buffer.offset() as usize, buffer.length() as usize))
        .collect::<Result<Vec<_>>>()?;
    let total: usize = sources.iter().map(Buffer::len).sum();
    let pack = |source: &Buffer| pack(source, codec, level);
    // Small batches are packed on this thread: tasks would cost more than they share.
    let packed: Vec<Packed> = if total > 1 << 20 {
        crate::pool::pool().install(|| sources.par_iter().map(pack).collect::<Result<_>>())?
    } else {
        sources.iter().map(pack).collect::<Result<_>>()?
    };

    let mut offsets = Vec::with_capacity(packed.len());
    let mut end = 0usize;
    for piece in &packed {
        offsets.push(arrow_ipc::Buffer::new(end as i64, piece.len() as i64));
        end = (end + piece.len()).next_multiple_of(BODY_ALIGNMENT);
    }
    let body_len = end;

    let mut fbb = FlatBufferBuilder::with_capacity(512 + offsets.len() * 16);
    let header = batch_header::rebuild(&mut fbb, &batch, &offsets, Some(codec)).as_union_value();
    let mut root = MessageBuilder::new(&mut fbb);
    root.add_version(parsed.version());
    root.add_header_type(MessageHeader::RecordBatch);
    root.add_header(header);
    root.add_bodyLength(body_len as i64);
    let root = root.finish();
    fbb.finish(root, None);
    let flatbuffer = fbb.finished_data();

    // Continuation marker, metadata length, flatbuffer, padding: the body starts 8-aligned.
    let framed_len = (8 + flatbuffer.len()).next_multiple_of(BODY_ALIGNMENT);
    let mut frame = Vec::with_capacity(framed_len);
    frame.extend_from_slice(&[0xff; 4]);
    frame.extend_from_slice(&((framed_len - 8) as i32).to_le_bytes());
    frame.extend_from_slice(flatbuffer);
    frame.resize(framed_len, 0);

    let mut out = Vec::with_capacity(2 + packed.len() * 3);
    out.push(Buffer::from_vec(frame));
    for piece in packed {
        let len = piece.len();
        match piece {
            Packed::Empty => {}
            Packed::Frame(bytes) => out.push(Buffer::from_vec(bytes)),
            Packed::Raw(bytes) => {
                out.push(Buffer::from(RAW_PREFIX.as_slice()));
                out.push(bytes);
            }
        }
        let padding = len.next_multiple_of(BODY_ALIGNMENT) - len;
        if padding > 0 {
            out.push(Buffer::from(&[0u8; BODY_ALIGNMENT][..padding]));
        }
    }
    Ok(CompressedMessage {
        buffers: out,
        metadata_len: framed_len,
    })
}

/// The prefix and frame of one buffer, or the buffer raw when compressing does not shrink it.
fn pack(source: &Buffer, codec: CompressionType, level: i32) -> Result<Packed> {
    if source.is_empty() {
        return Ok(Packed::Empty);
    }
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(source.len() as i64).to_le_bytes());
    codec::compress_append(codec, level, source.as_slice(), &mut bytes)?;
    if bytes.len() >= RAW_PREFIX.len() + source.len() {
        return Ok(Packed::Raw(source.clone()));
    }
    Ok(Packed::Frame(bytes))
}

/// A message's metadata bytes, and its body as the pieces arrow-ipc produced.
struct Body {
    metadata: Vec<u8>,
    /// Each piece with the body offset it starts at.
    pieces: Vec<(usize, Buffer)>,
}

impl Body {
    fn split(message: Vec<Buffer>, metadata_len: usize) -> Body {
        let mut metadata = Vec::with_capacity(metadata_len);
        let mut pieces = Vec::with_capacity(message.len());
        let mut at = 0usize;
        for buffer in message {
            let in_metadata = (metadata_len - metadata.len()).min(buffer.len());
            metadata.extend_from_slice(&buffer.as_slice()[..in_metadata]);
            if in_metadata < buffer.len() {
                let rest = buffer.slice(in_metadata);
                let len = rest.len();
                pieces.push((at, rest));
                at += len;
            }
        }
        Body { metadata, pieces }
    }

    /// `length` bytes of the body from `offset`: a slice of one piece (no copy), or gathered
    /// from several if a buffer ever spans pieces.
    fn slice(&self, offset: usize, length: usize) -> Result<Buffer> {
        if length == 0 {
            return Ok(Buffer::from_vec(Vec::<u8>::new()));
        }
        let first = self.pieces.partition_point(|(start, _)| *start <= offset);
        let index = first
            .checked_sub(1)
            .ok_or_else(|| internal("a buffer starts before the body"))?;
        let (start, piece) = &self.pieces[index];
        let within = offset - start;
        if within + length <= piece.len() {
            return Ok(piece.slice_with_length(within, length));
        }
        let mut gathered = Vec::with_capacity(length);
        for (start, piece) in &self.pieces[index..] {
            let from = offset.saturating_sub(*start);
            let to = (offset + length - start).min(piece.len());
            gathered.extend_from_slice(&piece.as_slice()[from..to]);
            if gathered.len() == length {
                return Ok(Buffer::from_vec(gathered));
            }
        }
        Err(internal("a buffer reaches past the body"))
    }
}

fn internal(message: &str) -> FastIoError {
    FastIoError::Internal(message.into())
}
