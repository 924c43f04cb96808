//! What a file stores for types some readers cannot open, and view arrays made fit to store.
//!
//! Measured against pyarrow 14 to 26, polars 2.1, DuckDB 2.0 and pandas 3.1 (README,
//! "Which readers open what"): polars panics on list views, run-end encoding and 256-bit
//! decimals; DuckDB refuses 256-bit decimals and half floats; pyarrow before 16 and pandas'
//! list conversion refuse string and binary views. The standard level rewrites the first kind,
//! which is lossless and costs nothing for data without those types; the wide level also
//! widens views and half floats, which costs a copy of those columns.

use std::str::FromStr;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, BinaryViewArray, RecordBatch, RecordBatchOptions, StringViewArray,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use crate::error::{FastIoError, Result};

/// How far a write rewrites types for other readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compatibility {
    /// Every type as it arrived.
    None,
    /// List views as lists, run-end encoded columns as their values, 256-bit decimals that fit
    /// as 128-bit ones.
    #[default]
    Standard,
    /// Also string and binary views as large strings and binaries, half floats as floats.
    Wide,
}

impl Compatibility {
    pub const CHOICES: &'static str = "\"standard\", \"wide\" or \"none\"";
}

impl FromStr for Compatibility {
    type Err = FastIoError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Compatibility::None),
            "standard" => Ok(Compatibility::Standard),
            "wide" => Ok(Compatibility::Wide),
            _ => Err(FastIoError::InvalidArgument(format!(
                "unknown compat level {s:?}: expected {}",
                Compatibility::CHOICES
            ))),
        }
    }
}

/// The type stored for `data_type` at `level`.
pub fn stored_type(data_type: &DataType, level: Compatibility) -> DataType {
    if level == Compatibility::None {
        return data_type.clone();
    }
    let wide = level == Compatibility::Wide;
    let field = |field: &Arc<Field>| -> Arc<Field> {
        Arc::new(
            field
                .as_ref()
                .clone()
                .with_data_type(stored_type(field.data_type(), level)),
        )
    };
    match data_type {
        DataType::ListView(item) | DataType::List(item) => DataType::List(field(item)),
        DataType::LargeListView(item) | DataType::LargeList(item) => {
            DataType::LargeList(field(item))
        }
        DataType::FixedSizeList(item, size) => DataType::FixedSizeList(field(item), *size),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(field).collect::<Fields>()),
        DataType::Map(entries, sorted) => DataType::Map(field(entries), *sorted),
        DataType::RunEndEncoded(_, values) => stored_type(values.data_type(), level),
        DataType::Decimal256(precision, scale) if *precision <= 38 => {
            DataType::Decimal128(*precision, *scale)
        }
        DataType::Dictionary(keys, values) => {
            DataType::Dictionary(keys.clone(), Box::new(stored_type(values, level)))
        }
        DataType::Utf8View if wide => DataType::LargeUtf8,
        DataType::BinaryView if wide => DataType::LargeBinary,
        DataType::Float16 if wide => DataType::Float32,
        other => other.clone(),
    }
}

/// The schema stored for `schema` at `level`, and the columns whose type changes.
pub fn stored_schema(schema: &SchemaRef, level: Compatibility) -> (SchemaRef, Vec<usize>) {
    let mut changed = Vec::new();
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let stored = stored_type(field.data_type(), level);
            if &stored == field.data_type() {
                return field.clone();
            }
            changed.push(index);
            Arc::new(field.as_ref().clone().with_data_type(stored))
        })
        .collect();
    if changed.is_empty() {
        return (schema.clone(), changed);
    }
    let stored = Schema::new_with_metadata(fields, schema.metadata().clone());
    (Arc::new(stored), changed)
}

/// `batch` in the `stored` schema, casting the `changed` columns.
pub fn to_stored(
    batch: &RecordBatch,
    stored: &SchemaRef,
    changed: &[usize],
) -> Result<RecordBatch> {
    if changed.is_empty() {
        return Ok(batch.clone());
    }
    let mut columns = batch.columns().to_vec();
    for &index in changed {
        columns[index] = arrow_cast::cast(&columns[index], stored.field(index).data_type())?;
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        stored.clone(),
        columns,
        &options,
    )?)
}

/// A slice of a view array still holds every data buffer of the whole array, so writing a
/// table in batches would store the strings of every batch in each one (a 70 MB column became
/// 290 MB uncompressed): each top-level view column of `batch` keeps only the bytes its own
/// rows use. Data buffers that are all empty (pyarrow makes one when every string is inline)
/// are dropped too; polars 2.1 panics on them in a compressed file.
pub fn compact_views(batch: &RecordBatch) -> RecordBatch {
    let mut compacted = None;
    for (index, column) in batch.columns().iter().enumerate() {
        let replacement = match column.data_type() {
            DataType::Utf8View => compact_strings(column.as_string_view()),
            DataType::BinaryView => compact_binaries(column.as_binary_view()),
            _ => None,
        };
        if let Some(replacement) = replacement {
            compacted.get_or_insert_with(|| batch.columns().to_vec())[index] = replacement;
        }
    }
    match compacted {
        None => batch.clone(),
        Some(columns) => {
            let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            RecordBatch::try_new_with_options(batch.schema(), columns, &options)
                .expect("same types and row count")
        }
    }
}

/// Bytes of the data buffers the views of `views` point into.
fn used_bytes(views: &[u128]) -> usize {
    views
        .iter()
        .map(|view| {
            let length = *view as u32 as usize;
            if length > 12 {
                length
            } else {
                0
            }
        })
        .sum()
}

/// Whether the buffers hold much more than the rows use, or are there for nothing.
fn worth_compacting(views: &[u128], buffers: &[arrow_buffer::Buffer]) -> bool {
    if buffers.is_empty() {
        return false;
    }
    let held: usize = buffers.iter().map(|buffer| buffer.len()).sum();
    held == 0 || held > 2 * used_bytes(views) + (64 << 10)
}

fn compact_strings(array: &StringViewArray) -> Option<ArrayRef> {
    if !worth_compacting(array.views(), array.data_buffers()) {
        return None;
    }
    Some(Arc::new(without_empty_buffers_strings(array.gc())))
}

fn compact_binaries(array: &BinaryViewArray) -> Option<ArrayRef> {
    if !worth_compacting(array.views(), array.data_buffers()) {
        return None;
    }
    Some(Arc::new(without_empty_buffers_binaries(array.gc())))
}

fn without_empty_buffers_strings(array: StringViewArray) -> StringViewArray {
    if array.data_buffers().iter().any(|buffer| !buffer.is_empty()) {
        return array;
    }
    let (views, _, nulls) = array.into_parts();
    // Every value is inline, so no view points into a buffer.
    StringViewArray::try_new(views, Vec::new(), nulls).expect("inline views only")
}

fn without_empty_buffers_binaries(array: BinaryViewArray) -> BinaryViewArray {
    if array.data_buffers().iter().any(|buffer| !buffer.is_empty()) {
        return array;
    }
    let (views, _, nulls) = array.into_parts();
    BinaryViewArray::try_new(views, Vec::new(), nulls).expect("inline views only")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_keeps_only_its_own_strings() {
        let long: Vec<String> = (0..10_000)
            .map(|i| format!("a value longer than inline {i}"))
            .collect();
        let array = StringViewArray::from_iter_values(long.iter());
        let schema = Arc::new(Schema::new(vec![Field::new(
            "s",
            DataType::Utf8View,
            false,
        )]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(array)]).unwrap();
        let slice = batch.slice(9_000, 100);
        let compacted = compact_views(&slice);
        let strings = compacted.column(0).as_string_view();
        let held: usize = strings.data_buffers().iter().map(|b| b.len()).sum();
        assert!(held < 4_000, "{held}");
        assert_eq!(strings.value(0), long[9_000]);
        assert_eq!(compacted.column(0).len(), 100);
    }

    #[test]
    fn empty_data_buffers_are_dropped() {
        let array = StringViewArray::try_new(
            StringViewArray::from_iter_values(["a", "bb"])
                .views()
                .clone(),
            vec![arrow_buffer::Buffer::from_vec(Vec::<u8>::new())],
            None,
        )
        .unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "s",
            DataType::Utf8View,
            false,
        )]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(array)]).unwrap();
        let compacted = compact_views(&batch);
        assert!(compacted
            .column(0)
            .as_string_view()
            .data_buffers()
            .is_empty());
        assert_eq!(compacted.column(0).as_string_view().value(1), "bb");
    }

    #[test]
    fn the_levels_rewrite_what_they_say() {
        let item = Arc::new(Field::new("item", DataType::Utf8View, true));
        let nested = DataType::ListView(item);
        assert_eq!(
            stored_type(&nested, Compatibility::Standard),
            DataType::List(Arc::new(Field::new("item", DataType::Utf8View, true)))
        );
        assert_eq!(
            stored_type(&nested, Compatibility::Wide),
            DataType::List(Arc::new(Field::new("item", DataType::LargeUtf8, true)))
        );
        assert_eq!(stored_type(&nested, Compatibility::None), nested);
        assert_eq!(
            stored_type(&DataType::Decimal256(40, 2), Compatibility::Standard),
            DataType::Decimal256(40, 2)
        );
        assert_eq!(
            stored_type(&DataType::Decimal256(20, 2), Compatibility::Standard),
            DataType::Decimal128(20, 2)
        );
    }
}
