//! Checks the uncompressed lengths a compressed IPC body declares, before arrow-ipc trusts them.
//!
//! Each compressed buffer starts with its uncompressed length (an i64), and arrow-ipc allocates
//! that many bytes before it decompresses. One flipped bit there asks for a terabyte and the
//! allocator aborts the process, which no `catch_unwind` can stop. A length no codec can reach
//! from the bytes present is reported as corrupt instead.

use arrow_ipc::{CompressionType, Endianness, Message, MessageHeader};

use crate::error::{FastIoError, Result};

/// The most a buffer can legitimately claim: zstd turns a 128 KiB block of one repeated byte
/// into about four bytes (32768:1), lz4 cannot exceed about 255:1. Anything bigger, or over
/// 16 GiB for a single buffer, is damage.
pub(crate) fn max_uncompressed_len(compressed: usize, codec: CompressionType) -> usize {
    let ratio = if codec == CompressionType::LZ4_FRAME {
        256
    } else {
        1 << 16
    };
    compressed
        .saturating_mul(ratio)
        .saturating_add(1 << 20)
        .min(1 << 34)
}

/// Buffers claiming more than this are checked against what the allocator can give.
const PROBE_ABOVE: usize = 64 << 20;

/// Parses the flatbuffer of an encapsulated message (with or without the continuation marker).
pub(crate) fn parse(message: &[u8]) -> Result<Message<'_>> {
    let flatbuffer = match message {
        [0xff, 0xff, 0xff, 0xff, _, _, _, _, rest @ ..] => rest,
        [_, _, _, _, rest @ ..] => rest,
        _ => {
            return Err(FastIoError::Corrupt(
                "a message is shorter than its header".into(),
            ))
        }
    };
    arrow_ipc::root_as_message(flatbuffer)
        .map_err(|e| FastIoError::Corrupt(format!("unreadable message header: {e}")))
}

/// Refuses a schema written in the other byte order. arrow-rs cannot swap bytes, so its
/// decoders would read every multi-byte value wrong (and `fb_to_schema` panics on big-endian
/// decimals): this runs before a schema is converted, on every path that meets one.
pub(crate) fn check_byte_order(schema: arrow_ipc::Schema<'_>) -> Result<()> {
    let endianness = schema.endianness();
    if endianness.equals_to_target_endianness() {
        return Ok(());
    }
    let written = if endianness == Endianness::Big {
        "big-endian"
    } else {
        "little-endian"
    };
    Err(FastIoError::Corrupt(format!(
        "the data was written {written}, the other byte order from this machine's; \
         reading it is not supported (pyarrow can read it and write it back)"
    )))
}

/// Checks one message whose metadata is `message` and whose body is `body`.
pub fn check_message(message: &[u8], body: &[u8]) -> Result<()> {
    let message = parse(message)?;
    let batch = match message.header_type() {
        MessageHeader::RecordBatch => message.header_as_record_batch(),
        MessageHeader::DictionaryBatch => message
            .header_as_dictionary_batch()
            .and_then(|dictionary| dictionary.data()),
        _ => None,
    };
    let Some(batch) = batch else {
        return Ok(());
    };
    let Some(compression) = batch.compression() else {
        return Ok(());
    };
    for buffer in batch.buffers().into_iter().flatten() {
        let (Ok(offset), Ok(length)) = (
            usize::try_from(buffer.offset()),
            usize::try_from(buffer.length()),
        ) else {
            return Err(FastIoError::Corrupt(
                "a buffer has a negative offset or length".into(),
            ));
        };
        if length == 0 {
            continue;
        }
        let buffer = offset
            .checked_add(length)
            .filter(|end| length >= 8 && *end <= body.len())
            .map(|end| &body[offset..end])
            .ok_or_else(|| {
                FastIoError::Corrupt("a compressed buffer lies outside its message".into())
            })?;
        let (prefix, frame) = buffer.split_at(8);
        let declared = i64::from_le_bytes(prefix.try_into().expect("eight bytes"));
        // -1 marks a buffer stored uncompressed.
        if declared == -1 {
            continue;
        }
        let implausible = || {
            FastIoError::Corrupt(format!(
                "a buffer of {length} compressed bytes claims {declared} uncompressed bytes"
            ))
        };
        let limit = max_uncompressed_len(length - 8, compression.codec());
        let declared = usize::try_from(declared)
            .ok()
            .filter(|declared| *declared <= limit)
            .ok_or_else(implausible)?;
        if compression.codec() == CompressionType::ZSTD {
            // zstd frames record their own size (pyarrow's and arrow-rs's writers keep it):
            // the two must agree.
            if let Ok(Some(recorded)) = zstd::zstd_safe::get_frame_content_size(frame) {
                if recorded != declared as u64 {
                    return Err(implausible());
                }
            }
        }
        if declared > PROBE_ABOVE && Vec::<u8>::new().try_reserve_exact(declared).is_err() {
            // arrow-ipc allocates infallibly; a size this process cannot have is refused here.
            return Err(implausible());
        }
    }
    Ok(())
}

/// One message of an IPC stream, located by [`index_stream`].
pub(crate) struct StreamMessage {
    pub offset: usize,
    /// Prefix, flatbuffer and padding, as a file footer's block counts them.
    pub metadata_len: usize,
    pub body_len: usize,
    pub header: MessageHeader,
}

/// The messages of a stream, each checked; `complete` when the walk reached the end-of-stream
/// marker or the exact end of the bytes (a truncated stream is left to the stream decoder).
pub(crate) struct StreamIndex {
    pub messages: Vec<StreamMessage>,
    pub complete: bool,
}

/// Walks the messages of an IPC stream, checking each one (and each schema's byte order).
pub(crate) fn index_stream(bytes: &[u8]) -> Result<StreamIndex> {
    let mut messages = Vec::new();
    let mut offset = 0;
    let complete = loop {
        let stream = &bytes[offset..];
        if stream.is_empty() {
            break true;
        }
        if stream.len() < 4 {
            break false;
        }
        let (length_at, header_len) = if stream[..4] == [0xff; 4] {
            (4, 8)
        } else {
            (0, 4)
        };
        let Some(length) = stream.get(length_at..length_at + 4) else {
            break false;
        };
        let metadata_len = i32::from_le_bytes(length.try_into().expect("four bytes"));
        if metadata_len == 0 {
            break true;
        }
        if metadata_len < 0 {
            break false;
        }
        let metadata_end = header_len + metadata_len as usize;
        let Some(metadata) = stream.get(..metadata_end) else {
            break false;
        };
        let message = parse(metadata)?;
        if let Some(schema) = message.header_as_schema() {
            check_byte_order(schema)?;
        }
        let body_end = usize::try_from(message.bodyLength())
            .ok()
            .and_then(|body_len| metadata_end.checked_add(body_len))
            .filter(|end| *end <= stream.len());
        let Some(body_end) = body_end else {
            break false;
        };
        check_message(metadata, &stream[metadata_end..body_end])?;
        messages.push(StreamMessage {
            offset,
            metadata_len: metadata_end,
            body_len: body_end - metadata_end,
            header: message.header_type(),
        });
        offset += body_end;
    };
    Ok(StreamIndex { messages, complete })
}
