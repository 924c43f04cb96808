//! Fixed-width columns of an IPC file decoded straight into memory the caller owns (the NumPy
//! arrays of a pandas frame): each batch's values are decompressed (or copied) into their
//! place, with no Arrow array in between, so a load touches each byte once.
//!
//! Nulls are the caller's to mark: their validity bitmaps come back beside the values.

use arrow_buffer::Buffer;
use arrow_ipc::{CompressionType, MessageHeader};
use arrow_schema::{DataType, Field};
use rayon::prelude::*;

use crate::bytes::RangeRead;
use crate::error::{FastIoError, Result};
use crate::ipc::column_ranges::ColumnRanges;
use crate::ipc::inflate::fill_from;
use crate::ipc::layout::block_range;
use crate::ipc::message::parse_message;
use crate::ipc::reader::{IpcContents, Layout};
use crate::ipc::{corrupt, guard};

/// The validity bitmap of the rows `start..start + rows` of the `column`-th filled column, for
/// a batch that holds nulls (bit set: a value; bit clear: a null).
#[derive(Debug)]
pub struct NullRun {
    pub column: usize,
    pub start: usize,
    pub rows: usize,
    pub validity: Buffer,
}

/// Bytes per value of the types that are filled: integers and floats of 32 and 64 bits and
/// their smaller kin (half floats excepted: NumPy's are not the same type).
pub fn fill_width(data_type: &DataType) -> Option<usize> {
    match data_type {
        DataType::Int8 | DataType::UInt8 => Some(1),
        DataType::Int16 | DataType::UInt16 => Some(2),
        DataType::Int32 | DataType::UInt32 | DataType::Float32 => Some(4),
        DataType::Int64 | DataType::UInt64 | DataType::Float64 => Some(8),
        _ => None,
    }
}

/// Field nodes a column takes in a record batch message: its own and its children's.
fn nodes_of(field: &Field) -> usize {
    1 + match field.data_type() {
        DataType::List(child)
        | DataType::LargeList(child)
        | DataType::ListView(child)
        | DataType::LargeListView(child)
        | DataType::FixedSizeList(child, _)
        | DataType::Map(child, _) => nodes_of(child),
        DataType::Struct(children) => children.iter().map(|child| nodes_of(child)).sum(),
        DataType::Union(children, _) => children.iter().map(|(_, child)| nodes_of(child)).sum(),
        DataType::RunEndEncoded(ends, values) => nodes_of(ends) + nodes_of(values),
        _ => 0,
    }
}

impl IpcContents {
    /// Decodes the projected columns (every one of a type [`fill_width`] accepts, of `widths`
    /// bytes) into `targets`, one per column, each exactly the file's rows times the width;
    /// returns the validity of each batch that holds nulls. Batches decode in parallel, each
    /// read once, its columns written straight into their rows.
    pub fn fill_columns(
        &self,
        targets: &mut [&mut [u8]],
        widths: &[usize],
    ) -> Result<Vec<NullRun>> {
        let Layout::File {
            decoder,
            blocks,
            data_end,
        } = &self.layout
        else {
            return Err(FastIoError::InvalidArgument(
                "columns are filled from an Arrow IPC file, not a stream".into(),
            ));
        };
        let full_schema = decoder.full_schema();
        let projection: Vec<usize> = match decoder.projection() {
            Some(projection) => projection.to_vec(),
            None => (0..full_schema.fields().len()).collect(),
        };
        if targets.len() != projection.len() || widths.len() != projection.len() {
            return Err(FastIoError::InvalidArgument(format!(
                "{} targets and {} widths for {} columns",
                targets.len(),
                widths.len(),
                projection.len()
            )));
        }
        for (&index, &width) in projection.iter().zip(widths) {
            let field = full_schema.field(index);
            if fill_width(field.data_type()) != Some(width) {
                return Err(FastIoError::InvalidArgument(format!(
                    "column {:?} is {}, not a number of {width} bytes",
                    field.name(),
                    field.data_type()
                )));
            }
        }
        let node_starts: Vec<usize> = full_schema
            .fields()
            .iter()
            .scan(0, |next, field| {
                let start = *next;
                *next += nodes_of(field);
                Some(start)
            })
            .collect();
        let ranges = ColumnRanges::of_columns(full_schema, &projection).ok_or_else(|| {
            FastIoError::InvalidArgument("the file's buffer layout is not worked out".into())
        })?;
        let buffer_ranges: Vec<_> = (0..projection.len())
            .map(|column| ranges.column_buffers(column))
            .collect();
        // The row count of every batch first (each message's header alone), so that the
        // batches then decode side by side, each into its own rows of every target.
        let mut counts = Vec::with_capacity(blocks.len());
        let mut headers = Vec::with_capacity(blocks.len());
        for (index, block) in blocks.iter().enumerate() {
            let range = block_range(block, *data_end as u64)?;
            let metadata_len = block.metaDataLength() as u64;
            // The body's lengths are checked when the batch is filled, body and all.
            let header = self
                .bytes
                .read_range(range.start..range.start + metadata_len)?;
            let message = parse_message(header.as_slice())?;
            let length = message
                .header_as_record_batch()
                .filter(|_| message.header_type() == MessageHeader::RecordBatch)
                .ok_or_else(|| corrupt(format!("block {index} is not a record batch")))?
                .length();
            let rows = usize::try_from(length)
                .map_err(|_| corrupt(format!("batch {index} has a negative length")))?;
            counts.push(rows);
            headers.push(header);
        }
        let total: usize = counts.iter().sum();
        for (target, width) in targets.iter().zip(widths) {
            if target.len() != total * width {
                return Err(corrupt(format!(
                    "the file holds {total} rows, not the {} its footer says",
                    target.len() / width
                )));
            }
        }
        // Each target cut into one place per batch, then regrouped batch by batch.
        let mut places: Vec<Vec<&mut [u8]>> = counts.iter().map(|_| Vec::new()).collect();
        for (target, width) in targets.iter_mut().zip(widths) {
            let mut rest: &mut [u8] = target;
            for (batch, rows) in counts.iter().enumerate() {
                let (place, tail) = std::mem::take(&mut rest).split_at_mut(rows * width);
                places[batch].push(place);
                rest = tail;
            }
        }
        let starts: Vec<usize> = counts
            .iter()
            .scan(0, |next, rows| {
                let start = *next;
                *next += rows;
                Some(start)
            })
            .collect();
        let fill_batch = |(index, places): (usize, Vec<&mut [u8]>)| -> Result<Vec<NullRun>> {
            let block = &blocks[index];
            let (start, rows) = (starts[index], counts[index]);
            let range = block_range(block, *data_end as u64)?;
            let metadata_len = block.metaDataLength() as usize;
            let uncompressed = parse_message(headers[index].as_slice())?
                .header_as_record_batch()
                .is_some_and(|batch| batch.compression().is_none());
            // An uncompressed batch's values go from the file straight into their places (one
            // copy, no buffer between); a compressed one is read whole, then inflated.
            let message = if uncompressed {
                headers[index].clone()
            } else {
                self.bytes.read_range(range.clone())?
            };
            let (metadata, body) = if uncompressed {
                (message.as_slice(), None)
            } else {
                let (metadata, body) = message.as_slice().split_at(metadata_len);
                guard::check_message(metadata, body)?;
                (metadata, Some(body))
            };
            let body_start = range.start + metadata_len as u64;
            let body_len = (range.end - body_start) as usize;
            let fill = |buffer: &arrow_ipc::Buffer, codec, out: &mut [u8]| match body {
                Some(body) => fill_from(buffer, body, codec, out),
                None => read_raw(self.bytes.as_ref(), buffer, body_start, body_len, out),
            };
            let header = parse_message(metadata)?;
            let batch = header
                .header_as_record_batch()
                .ok_or_else(|| corrupt("a record batch message has no header"))?;
            if usize::try_from(batch.length()).ok() != Some(rows) {
                return Err(corrupt(format!("batch {index} changed while it was read")));
            }
            let codec: Option<CompressionType> = batch.compression().map(|c| c.codec());
            let nodes = batch
                .nodes()
                .ok_or_else(|| corrupt(format!("batch {index} lists no field nodes")))?;
            let buffers = batch
                .buffers()
                .ok_or_else(|| corrupt(format!("batch {index} lists no buffers")))?;
            let mut found = Vec::new();
            for (column, place) in places.into_iter().enumerate() {
                let node_index = node_starts[projection[column]];
                let node = (node_index < nodes.len())
                    .then(|| nodes.get(node_index))
                    .ok_or_else(|| corrupt(format!("batch {index} lacks a field node")))?;
                if usize::try_from(node.length()).ok() != Some(rows) {
                    return Err(corrupt(format!(
                        "batch {index}: a column of {} rows in a batch of {rows}",
                        node.length()
                    )));
                }
                let range = &buffer_ranges[column];
                if range.len() != 2 || range.end > buffers.len() {
                    return Err(corrupt(format!("batch {index} lacks a column's buffers")));
                }
                fill(buffers.get(range.start + 1), codec, place)?;
                if node.null_count() > 0 {
                    let mut validity = vec![0u8; rows.div_ceil(8)];
                    fill(buffers.get(range.start), codec, &mut validity)?;
                    found.push(NullRun {
                        column,
                        start,
                        rows,
                        validity: Buffer::from_vec(validity),
                    });
                }
            }
            Ok(found)
        };
        let found: Vec<Vec<NullRun>> = crate::pool::pool().install(|| {
            places
                .into_iter()
                .enumerate()
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(fill_batch)
                .collect::<Result<_>>()
        })?;
        Ok(found.into_iter().flatten().collect())
    }
}

/// An uncompressed buffer's first `out.len()` bytes, read from the file into `out`.
fn read_raw(
    bytes: &dyn RangeRead,
    buffer: &arrow_ipc::Buffer,
    body_start: u64,
    body_len: usize,
    out: &mut [u8],
) -> Result<()> {
    let (Ok(offset), Ok(length)) = (
        usize::try_from(buffer.offset()),
        usize::try_from(buffer.length()),
    ) else {
        return Err(corrupt("a buffer has a negative offset or length"));
    };
    if offset.checked_add(length).is_none_or(|end| end > body_len) {
        return Err(corrupt("a buffer lies outside its message"));
    }
    if length < out.len() {
        return Err(corrupt(format!(
            "a buffer of {length} bytes where its column needs {}",
            out.len()
        )));
    }
    bytes.read_into(body_start + offset as u64, out)
}
