//! A hash of a table's logical content: the same schema (names, types, metadata) and values
//! give the same hash, whatever the batch boundaries, slice offsets, codec or level they were
//! written with.
//!
//! Each column feeds three xxh3-128 streams: the row numbers of its nulls, the lengths of its
//! variable-length values, and the bytes of its values (a null slot's bytes are zeroed or left
//! out). A stream fed batch by batch sees the same bytes as one fed the whole column, so the
//! hash does not depend on how the rows were cut into batches. Types without a plain layout
//! (nested, dictionary, run-end encoded) go through arrow-row's row format, which encodes each
//! row's logical value the same way wherever the row sits.

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, Schema};
use rayon::prelude::*;
use twox_hash::XxHash3_128;

/// Accumulates the content hash of a table fed batch by batch, in row order.
pub struct ContentHasher {
    schema_digest: u128,
    columns: Vec<ColumnHasher>,
    rows: u64,
}

impl ContentHasher {
    pub fn new(schema: &Schema) -> Self {
        let mut digest = XxHash3_128::new();
        for field in schema.fields() {
            // Names and types are part of the content: a renamed or retyped column is new data.
            for part in [field.name().as_str(), &field.data_type().to_string()] {
                digest.write(&(part.len() as u64).to_le_bytes());
                digest.write(part.as_bytes());
            }
            digest.write(&[field.is_nullable() as u8]);
        }
        // Schema metadata too (pandas' index and dtypes, the stored Python type): a reader
        // gives back something else when it changes. Sorted, as a map has no order.
        let mut pairs: Vec<_> = schema.metadata().iter().collect();
        pairs.sort();
        for (key, value) in pairs {
            for part in [key, value] {
                digest.write(&(part.len() as u64).to_le_bytes());
                digest.write(part.as_bytes());
            }
        }
        ContentHasher {
            schema_digest: digest.finish_128(),
            columns: schema
                .fields()
                .iter()
                .map(|field| ColumnHasher::new(field.data_type()))
                .collect(),
            rows: 0,
        }
    }

    /// Adds the next batch's rows.
    pub fn update(&mut self, batch: &RecordBatch) {
        for (hasher, column) in self.columns.iter_mut().zip(batch.columns()) {
            hasher.update(column);
        }
        self.rows += batch.num_rows() as u64;
    }

    /// Adds `len` rows of `batch` from `start`, in order.
    pub fn update_rows(&mut self, batch: &RecordBatch, start: usize, len: usize) {
        if len > 0 {
            self.update(&batch.slice(start, len));
        }
    }

    /// Adds whole blocks digested elsewhere ([`block_digests`], one list per column) that
    /// hold the next `rows` rows; the rows before them must end on a block boundary.
    pub fn push_blocks(&mut self, digests: &[Vec<BlockDigest>], rows: u64) {
        for (column, digests) in self.columns.iter_mut().zip(digests) {
            column.push_blocks(digests);
        }
        self.rows += rows;
    }

    /// `xxh3-128:<hex>`, or None when a column's type has no canonical form here.
    pub fn finish(self) -> Option<String> {
        let mut digest = XxHash3_128::new();
        digest.write(&self.schema_digest.to_le_bytes());
        digest.write(&self.rows.to_le_bytes());
        for column in self.columns {
            digest.write(&column.finish()?);
        }
        Some(format!("xxh3-128:{:032x}", digest.finish_128()))
    }
}

/// How a batch of `rows` rows starting at row `first` of the table splits for hashing: the
/// rows that end the block it starts in (hashed in order), then the rows of whole blocks
/// (hashed anywhere); the rest start the next block.
pub fn block_split(first: u64, rows: usize) -> (usize, usize) {
    let into_block = (first % BLOCK_ROWS as u64) as usize;
    let head = ((BLOCK_ROWS - into_block) % BLOCK_ROWS).min(rows);
    let whole = (rows - head) / BLOCK_ROWS * BLOCK_ROWS;
    (head, whole)
}

/// The content hash of a whole table, its columns hashed in parallel on the worker pool.
pub fn hash_batches(schema: &Schema, batches: &[RecordBatch]) -> Option<String> {
    let mut hasher = ContentHasher::new(schema);
    crate::pool::pool().install(|| {
        hasher
            .columns
            .par_iter_mut()
            .enumerate()
            .for_each(|(index, column)| {
                for batch in batches {
                    column.update(batch.column(index));
                }
            })
    });
    hasher.rows = batches.iter().map(|batch| batch.num_rows() as u64).sum();
    hasher.finish()
}

/// One column's hash: the digests of its blocks of `BLOCK_ROWS` rows, in order.
pub(crate) struct ColumnHasher {
    layout: Layout,
    /// The block being filled.
    current: BlockHasher,
    blocks: XxHash3_128,
}

/// The three streams of one block; null positions count from the block's first row.
struct BlockHasher {
    nulls: XxHash3_128,
    lengths: XxHash3_128,
    values: XxHash3_128,
    rows: u64,
    scratch: Vec<u8>,
}

/// Rows per block. Blocks start at fixed row numbers of the column, so a batch's whole blocks
/// hash on any thread and only the blocks it shares with its neighbours wait for the order.
pub const BLOCK_ROWS: usize = 4096;

/// A block's digest: its null, length and value streams.
pub type BlockDigest = [u8; 48];

enum Layout {
    /// Values of this many bytes each, back to back (booleans are widened to one byte).
    Fixed(usize),
    Boolean,
    Bytes,
    LargeBytes,
    Views,
    /// No values at all (the null type).
    Empty,
    Rows(RowConverter),
    Unsupported,
}

impl Layout {
    fn of(data_type: &DataType) -> Layout {
        match data_type {
            DataType::Null => Layout::Empty,
            DataType::Boolean => Layout::Boolean,
            DataType::Utf8 | DataType::Binary => Layout::Bytes,
            DataType::LargeUtf8 | DataType::LargeBinary => Layout::LargeBytes,
            DataType::Utf8View | DataType::BinaryView => Layout::Views,
            DataType::FixedSizeBinary(width) => Layout::Fixed(*width as usize),
            other => match other.primitive_width() {
                Some(width) => Layout::Fixed(width),
                None => match RowConverter::new(vec![SortField::new(other.clone())]) {
                    Ok(converter) => Layout::Rows(converter),
                    Err(_) => Layout::Unsupported,
                },
            },
        }
    }
}

impl ColumnHasher {
    pub(crate) fn new(data_type: &DataType) -> Self {
        ColumnHasher {
            layout: Layout::of(data_type),
            current: BlockHasher::new(),
            blocks: XxHash3_128::new(),
        }
    }

    /// Adds the column's next rows, cut at block boundaries.
    pub(crate) fn update(&mut self, array: &ArrayRef) {
        let mut offset = 0;
        while offset < array.len() {
            let room = BLOCK_ROWS - self.current.rows as usize;
            let take = room.min(array.len() - offset);
            let piece = array.slice(offset, take);
            self.current.update(&mut self.layout, piece.as_ref());
            offset += take;
            if self.current.rows as usize == BLOCK_ROWS {
                self.close_block();
            }
        }
    }

    /// Adds whole blocks digested elsewhere; the current block must be empty.
    pub(crate) fn push_blocks(&mut self, digests: &[BlockDigest]) {
        debug_assert!(digests.is_empty() || self.current.rows == 0);
        for digest in digests {
            self.blocks.write(digest);
        }
    }

    fn close_block(&mut self) {
        let block = std::mem::replace(&mut self.current, BlockHasher::new());
        self.blocks.write(&block.digest());
    }

    fn finish(mut self) -> Option<[u8; 16]> {
        if matches!(self.layout, Layout::Unsupported) {
            return None;
        }
        if self.current.rows > 0 {
            self.close_block();
        }
        Some(self.blocks.finish_128().to_le_bytes())
    }
}

/// The digests of the whole blocks of `array` (whose length is a multiple of `BLOCK_ROWS`),
/// for any thread: a block hashes the same wherever its rows are.
pub fn block_digests(data_type: &DataType, array: &ArrayRef) -> Vec<BlockDigest> {
    let mut layout = Layout::of(data_type);
    (0..array.len() / BLOCK_ROWS)
        .map(|block| {
            let mut hasher = BlockHasher::new();
            let piece = array.slice(block * BLOCK_ROWS, BLOCK_ROWS);
            hasher.update(&mut layout, piece.as_ref());
            hasher.digest()
        })
        .collect()
}

impl BlockHasher {
    fn new() -> Self {
        BlockHasher {
            nulls: XxHash3_128::new(),
            lengths: XxHash3_128::new(),
            values: XxHash3_128::new(),
            rows: 0,
            scratch: Vec::new(),
        }
    }

    fn digest(&self) -> BlockDigest {
        let mut out = [0u8; 48];
        out[..16].copy_from_slice(&self.nulls.finish_128().to_le_bytes());
        out[16..32].copy_from_slice(&self.lengths.finish_128().to_le_bytes());
        out[32..].copy_from_slice(&self.values.finish_128().to_le_bytes());
        out
    }

    fn update(&mut self, layout: &mut Layout, array: &dyn Array) {
        let len = array.len();
        // The null slots, found a word of the validity bitmap at a time.
        let null_slots: Vec<usize> = match array.logical_nulls() {
            Some(nulls) if nulls.null_count() > 0 => (!nulls.inner()).set_indices().collect(),
            _ => Vec::new(),
        };
        if !null_slots.is_empty() {
            self.scratch.clear();
            for index in &null_slots {
                self.scratch
                    .extend_from_slice(&(self.rows + *index as u64).to_le_bytes());
            }
            self.nulls.write(&self.scratch);
        }
        let valid = |index: usize| array.is_valid(index);
        let mut unsupported = false;
        match &*layout {
            Layout::Fixed(width) => {
                let data = array.to_data();
                let width = *width;
                let start = data.offset() * width;
                let bytes = &data.buffers()[0].as_slice()[start..start + len * width];
                if array.null_count() == 0 {
                    self.values.write(bytes);
                } else {
                    self.scratch.clear();
                    self.scratch.extend_from_slice(bytes);
                    for index in &null_slots {
                        self.scratch[index * width..(index + 1) * width].fill(0);
                    }
                    self.values.write(&self.scratch);
                }
            }
            Layout::Boolean => {
                let values = array.as_boolean();
                self.scratch.clear();
                self.scratch
                    .extend((0..len).map(|i| (valid(i) && values.value(i)) as u8));
                self.values.write(&self.scratch);
            }
            Layout::Bytes | Layout::LargeBytes => {
                let data = array.to_data();
                let (start, end) = (data.offset(), data.offset() + len);
                let buffers = data.buffers();
                let (lengths, values, scratch) =
                    (&mut self.lengths, &mut self.values, &mut self.scratch);
                if matches!(&*layout, Layout::Bytes) {
                    let offsets = &buffers[0].typed_data::<i32>()[start..=end];
                    feed_offsets(
                        lengths,
                        values,
                        scratch,
                        &null_slots,
                        offsets,
                        buffers[1].as_slice(),
                    );
                } else {
                    let offsets = &buffers[0].typed_data::<i64>()[start..=end];
                    feed_offsets(
                        lengths,
                        values,
                        scratch,
                        &null_slots,
                        offsets,
                        buffers[1].as_slice(),
                    );
                }
            }
            Layout::Views => {
                self.scratch.clear();
                let mut feed = |value: Option<&[u8]>| {
                    let value = value.unwrap_or_default();
                    self.scratch
                        .extend_from_slice(&(value.len() as u64).to_le_bytes());
                    self.values.write(value);
                };
                match array.data_type() {
                    DataType::Utf8View => array
                        .as_string_view()
                        .iter()
                        .for_each(|value| feed(value.map(str::as_bytes))),
                    _ => array.as_binary_view().iter().for_each(feed),
                }
                self.lengths.write(&self.scratch);
            }
            Layout::Empty | Layout::Unsupported => {}
            Layout::Rows(converter) => {
                let column: ArrayRef = arrow_array::make_array(array.to_data());
                match converter.convert_columns(&[column]) {
                    Ok(rows) => {
                        for row in rows.iter() {
                            let bytes = row.as_ref();
                            self.lengths.write(&(bytes.len() as u64).to_le_bytes());
                            self.values.write(bytes);
                        }
                    }
                    Err(_) => unsupported = true,
                }
            }
        }
        if unsupported {
            *layout = Layout::Unsupported;
        }
        self.rows += len as u64;
    }
}

/// Feeds offset-delimited values: each value's length (a null's as 0) and the bytes of the
/// valid values, written as the runs between null slots.
fn feed_offsets<O: Copy + Into<i64>>(
    lengths: &mut XxHash3_128,
    values: &mut XxHash3_128,
    scratch: &mut Vec<u8>,
    null_slots: &[usize],
    offsets: &[O],
    data: &[u8],
) {
    let at = |index: usize| offsets[index].into() as usize;
    scratch.clear();
    scratch.reserve(8 * (offsets.len() - 1));
    for pair in offsets.windows(2) {
        let length = (pair[1].into() - pair[0].into()) as u64;
        scratch.extend_from_slice(&length.to_le_bytes());
    }
    let mut run_start = at(0);
    for &slot in null_slots {
        scratch[slot * 8..slot * 8 + 8].fill(0);
        values.write(&data[run_start..at(slot)]);
        run_start = at(slot + 1);
    }
    values.write(&data[run_start..at(offsets.len() - 1)]);
    lengths.write(scratch);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::{
        BooleanArray, Float64Array, Int64Array, ListArray, StringArray, StringViewArray,
    };
    use arrow_schema::Field;

    use super::*;

    fn table() -> RecordBatch {
        let strings: Vec<Option<String>> = (0..1000)
            .map(|i| (i % 7 != 0).then(|| format!("value {i}")))
            .collect();
        let lists: Vec<Option<Vec<Option<i32>>>> = (0..1000)
            .map(|i| (i % 5 != 0).then(|| (0..i % 4).map(Some).collect()))
            .collect();
        RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from_iter(
                    (0..1000).map(|i| (i % 3 != 0).then_some(i)),
                )) as ArrayRef,
            ),
            (
                "x",
                Arc::new(Float64Array::from_iter_values(
                    (0..1000).map(|i| i as f64 / 3.0),
                )),
            ),
            (
                "flag",
                Arc::new(BooleanArray::from_iter(
                    (0..1000).map(|i| (i % 11 != 0).then_some(i % 2 == 0)),
                )),
            ),
            ("s", Arc::new(StringArray::from(strings.clone()))),
            ("v", Arc::new(StringViewArray::from_iter(strings))),
            (
                "l",
                Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(lists)),
            ),
        ])
        .unwrap()
    }

    fn streamed(batches: &[RecordBatch]) -> Option<String> {
        let mut hasher = ContentHasher::new(&batches[0].schema());
        batches.iter().for_each(|batch| hasher.update(batch));
        hasher.finish()
    }

    #[test]
    fn batch_boundaries_do_not_change_the_hash() {
        let whole = table();
        let one = streamed(std::slice::from_ref(&whole)).unwrap();
        for cuts in [
            vec![1, 999],
            vec![333, 333, 334],
            vec![7; 142].into_iter().chain([6]).collect(),
        ] {
            let mut offset = 0;
            let pieces: Vec<RecordBatch> = cuts
                .iter()
                .map(|len| {
                    let piece = whole.slice(offset, *len);
                    offset += len;
                    piece
                })
                .collect();
            assert_eq!(
                streamed(&pieces).unwrap(),
                one,
                "cut into {} batches",
                pieces.len()
            );
            assert_eq!(hash_batches(&whole.schema(), &pieces).unwrap(), one);
        }
    }

    #[test]
    fn any_change_of_a_value_a_null_or_a_name_changes_the_hash() {
        let whole = table();
        let base = streamed(std::slice::from_ref(&whole)).unwrap();
        let mut ids: Vec<Option<i64>> = whole
            .column(0)
            .as_primitive::<arrow_array::types::Int64Type>()
            .iter()
            .collect();
        ids[500] = ids[500].map(|v| v + 1);
        let changed = |index: usize, column: ArrayRef| {
            let mut columns = whole.columns().to_vec();
            columns[index] = column;
            streamed(&[RecordBatch::try_new(whole.schema(), columns).unwrap()]).unwrap()
        };
        assert_ne!(changed(0, Arc::new(Int64Array::from(ids.clone()))), base);
        ids[501] = None;
        assert_ne!(changed(0, Arc::new(Int64Array::from(ids))), base);
        let renamed = Schema::new(
            whole
                .schema()
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    if i == 1 {
                        Arc::new(Field::new("y", f.data_type().clone(), f.is_nullable()))
                    } else {
                        f.clone()
                    }
                })
                .collect::<Vec<_>>(),
        );
        let batch = RecordBatch::try_new(Arc::new(renamed), whole.columns().to_vec()).unwrap();
        assert_ne!(streamed(&[batch]).unwrap(), base);
        // Moving one row from a list to the next keeps the flattened values but not the rows.
        let shifted: Vec<Option<Vec<Option<i32>>>> = vec![Some(vec![Some(1)]), Some(vec![])];
        let other: Vec<Option<Vec<Option<i32>>>> = vec![Some(vec![]), Some(vec![Some(1)])];
        let lists = |rows| {
            let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(rows));
            streamed(&[RecordBatch::try_from_iter([("l", list)]).unwrap()]).unwrap()
        };
        assert_ne!(lists(shifted), lists(other));
    }

    #[test]
    fn the_encoder_hashes_whole_blocks_on_the_workers_to_the_same_hash() {
        let piece = table();
        let whole =
            arrow_select::concat::concat_batches(&piece.schema(), &vec![piece; 21]).unwrap();
        let expected = hash_batches(&whole.schema(), std::slice::from_ref(&whole)).unwrap();
        for chunk_rows in [
            1_000,
            BLOCK_ROWS,
            BLOCK_ROWS + 1,
            3 * BLOCK_ROWS - 7,
            20_000,
        ] {
            for parallel in [true, false] {
                let options = crate::ipc::EncodeOptions {
                    chunk_rows: Some(chunk_rows),
                    parallel,
                    content_hash: true,
                    ..Default::default()
                };
                let reader =
                    arrow_array::RecordBatchIterator::new([Ok(whole.clone())], whole.schema());
                let (_, stats) = crate::ipc::encode_to_vec(reader, &options).unwrap();
                assert_eq!(
                    stats.content_hash.as_deref(),
                    Some(expected.as_str()),
                    "{chunk_rows}"
                );
            }
        }
    }

    #[test]
    fn bytes_under_a_null_do_not_count() {
        // The same logical column, once with garbage under its null slot.
        let clean = Int64Array::from(vec![Some(1), None, Some(3)]);
        let dirty = Int64Array::new(vec![1, 99, 3].into(), clean.nulls().cloned());
        let hash = |column: Int64Array| {
            streamed(&[RecordBatch::try_from_iter([("a", Arc::new(column) as ArrayRef)]).unwrap()])
        };
        assert_eq!(hash(clean), hash(dirty));
    }
}
