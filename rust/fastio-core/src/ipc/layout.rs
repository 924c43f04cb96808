//! Where things are in an IPC file or stream: footer placement, the blocks a footer lists, and
//! the messages of a stream, each checked (see `guard`) before anything decodes it.

use std::ops::Range;

use arrow_ipc::reader::read_footer_length;
use arrow_ipc::{Block, MessageHeader};

use crate::error::Result;
use crate::ipc::guard::check_message;
use crate::ipc::message::{check_byte_order, parse_message};
use crate::ipc::{corrupt, truncated, ARROW_FILE_MAGIC, FILE_HEADER_LEN, FILE_TRAILER_LEN};

/// Whether `head` (the first bytes of an input) opens an IPC file rather than a stream.
pub(crate) fn opens_a_file(head: &[u8]) -> bool {
    head.len() >= FILE_HEADER_LEN && head.starts_with(ARROW_FILE_MAGIC)
}

/// Length of the footer, from the last ten bytes of a file (length and closing magic).
pub(crate) fn footer_len(trailer: &[u8]) -> Result<usize> {
    let trailer: [u8; FILE_TRAILER_LEN] = trailer
        .try_into()
        .map_err(|_| truncated("shorter than an empty Arrow file"))?;
    read_footer_length(trailer).map_err(|_| truncated("no footer at the end"))
}

/// Where the footer of a file `file_len` bytes long starts, which is where its batches end,
/// given the footer length its trailer records.
pub(crate) fn footer_start(file_len: u64, footer_len: u64) -> Result<u64> {
    file_len
        .checked_sub(FILE_TRAILER_LEN as u64)
        .and_then(|end| end.checked_sub(footer_len))
        .filter(|start| *start >= FILE_HEADER_LEN as u64)
        .ok_or_else(|| corrupt("the footer length points outside the file"))
}

/// The bytes a footer block points to: a message after the file's header that ends before
/// `data_end` (the footer), with a non-empty metadata part.
pub(crate) fn block_range(block: &Block, data_end: u64) -> Result<Range<u64>> {
    let offset = u64::try_from(block.offset()).ok();
    let metadata = u64::try_from(block.metaDataLength())
        .ok()
        .filter(|m| *m > 0);
    let body = u64::try_from(block.bodyLength()).ok();
    let (Some(offset), Some(metadata), Some(body)) = (offset, metadata, body) else {
        return Err(corrupt("a footer block has a negative offset or length"));
    };
    let end = offset
        .checked_add(metadata)
        .and_then(|end| end.checked_add(body))
        .filter(|end| *end <= data_end && offset >= FILE_HEADER_LEN as u64)
        .ok_or_else(|| truncated("a block reaches past the end of the data"))?;
    Ok(offset..end)
}

/// Checks the declared buffer lengths of the message `block` points to, held in `message`.
pub(crate) fn check_block(message: &[u8], block: &Block) -> Result<()> {
    let (metadata, body) = message.split_at(block.metaDataLength() as usize);
    check_message(metadata, body)
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
        let message = parse_message(metadata)?;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int32Array, RecordBatch};
    use arrow_ipc::writer::StreamWriter;

    use super::*;

    fn stream(batches: usize) -> Vec<u8> {
        let batch =
            RecordBatch::try_from_iter([("a", Arc::new(Int32Array::from(vec![1, 2])) as _)])
                .unwrap();
        let mut bytes = Vec::new();
        let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema()).unwrap();
        for _ in 0..batches {
            writer.write(&batch).unwrap();
        }
        writer.finish().unwrap();
        drop(writer);
        bytes
    }

    #[test]
    fn a_stream_walk_finds_each_message_and_whether_it_is_whole() {
        let bytes = stream(2);
        let index = index_stream(&bytes).unwrap();
        let headers: Vec<_> = index.messages.iter().map(|m| m.header).collect();
        assert_eq!(
            headers,
            [
                MessageHeader::Schema,
                MessageHeader::RecordBatch,
                MessageHeader::RecordBatch
            ]
        );
        assert!(index.complete);
        let last = index.messages.last().unwrap();
        // The end-of-stream marker (8 bytes) follows the last message.
        assert_eq!(
            last.offset + last.metadata_len + last.body_len + 8,
            bytes.len()
        );
        let cut = index_stream(&bytes[..last.offset + 5]).unwrap();
        assert!(!cut.complete);
        assert_eq!(cut.messages.len(), 2);
    }

    #[test]
    fn footers_and_blocks_must_lie_inside_the_file() {
        assert_eq!(footer_start(100, 50).unwrap(), 40);
        for (len, footer) in [(100, 83), (100, 200), (5, 0)] {
            assert!(footer_start(len, footer).is_err(), "{len} {footer}");
        }
        assert_eq!(block_range(&Block::new(8, 16, 32), 56).unwrap(), 8..56);
        for block in [
            Block::new(8, 16, 33), // past the footer
            Block::new(0, 16, 8),  // over the file's opening magic
            Block::new(8, 0, 8),   // no metadata
            Block::new(-1, 16, 8), // negative
            Block::new(8, 16, -8), // negative
            Block::new(i64::MAX, 16, 8),
        ] {
            assert!(block_range(&block, 56).is_err(), "{block:?}");
        }
    }

    #[test]
    fn files_are_told_from_streams_by_their_magic() {
        assert!(opens_a_file(b"ARROW1\0\0rest"));
        assert!(!opens_a_file(b"ARROW1"));
        assert!(!opens_a_file(&stream(1)));
    }
}
