//! Checks the uncompressed lengths a compressed IPC body declares, before arrow-ipc trusts them.
//!
//! Each compressed buffer starts with its uncompressed length (an i64), and arrow-ipc allocates
//! that many bytes before it decompresses. One flipped bit there asks for a terabyte and the
//! allocator aborts the process, which no `catch_unwind` can stop. A length no codec can reach
//! from the bytes present is reported as corrupt instead.

use arrow_ipc::{CompressionType, MessageHeader};

use crate::error::{FastIoError, Result};
use crate::ipc::message::parse_message;

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

/// Checks one message whose metadata is `message` and whose body is `body`.
pub fn check_message(message: &[u8], body: &[u8]) -> Result<()> {
    let message = parse_message(message)?;
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
