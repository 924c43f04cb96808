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

/// Footer key of the hash, written as `xxh3-128:<32 hex digits>`.
pub const CONTENT_HASH_KEY: &str = "dagster_fastio.content_hash";

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
            hasher.update(column.as_ref());
        }
        self.rows += batch.num_rows() as u64;
    }

    /// `xxh3-128:<hex>`, or None when a column's type has no canonical form here.
    pub fn finish(self) -> Option<String> {
        let mut digest = XxHash3_128::new();
        digest.write(&self.schema_digest.to_le_bytes());
        digest.write(&self.rows.to_le_bytes());
        for column in &self.columns {
            digest.write(&column.finish()?);
        }
        Some(format!("xxh3-128:{:032x}", digest.finish_128()))
    }
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
                    column.update(batch.column(index).as_ref());
                }
            })
    });
    hasher.rows = batches.iter().map(|batch| batch.num_rows() as u64).sum();
    hasher.finish()
}

struct ColumnHasher {
    layout: Layout,
    nulls: XxHash3_128,
    lengths: XxHash3_128,
    values: XxHash3_128,
    /// Rows seen so far: null positions are fed as row numbers of the whole column.
    rows: u64,
    scratch: Vec<u8>,
}

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

impl ColumnHasher {
    fn new(data_type: &DataType) -> Self {
        let layout = match data_type {
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
        };
        ColumnHasher {
            layout,
            nulls: XxHash3_128::new(),
            lengths: XxHash3_128::new(),
            values: XxHash3_128::new(),
            rows: 0,
            scratch: Vec::new(),
        }
    }

    fn update(&mut self, array: &dyn Array) {
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
        match &self.layout {
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
            Layout::Bytes => {
                let data = array.to_data();
                let offsets =
                    &data.buffers()[0].typed_data::<i32>()[data.offset()..=data.offset() + len];
                feed_offsets(
                    &mut self.lengths,
                    &mut self.values,
                    &mut self.scratch,
                    &null_slots,
                    offsets,
                    data.buffers()[1].as_slice(),
                );
            }
            Layout::LargeBytes => {
                let data = array.to_data();
                let offsets =
                    &data.buffers()[0].typed_data::<i64>()[data.offset()..=data.offset() + len];
                feed_offsets(
                    &mut self.lengths,
                    &mut self.values,
                    &mut self.scratch,
                    &null_slots,
                    offsets,
                    data.buffers()[1].as_slice(),
                );
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
                    Err(_) => self.layout = Layout::Unsupported,
                }
            }
        }
        self.rows += len as u64;
    }

    fn finish(&self) -> Option<[u8; 48]> {
        if matches!(self.layout, Layout::Unsupported) {
            return None;
        }
        let mut out = [0u8; 48];
        out[..16].copy_from_slice(&self.nulls.finish_128().to_le_bytes());
        out[16..32].copy_from_slice(&self.lengths.finish_128().to_le_bytes());
        out[32..].copy_from_slice(&self.values.finish_128().to_le_bytes());
        Some(out)
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
