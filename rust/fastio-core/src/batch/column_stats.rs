//! Per-column statistics gathered while a table is encoded: null count, and the smallest and
//! largest value of columns whose type has an order (numbers, temporal types, strings,
//! binary, booleans). Each batch's statistics come from arrow-arith's aggregate kernels on the
//! worker that encodes the batch; the writer merges them in order.

use std::sync::Arc;

use arrow_arith::aggregate;
use arrow_array::cast::AsArray;
use arrow_array::types::{ArrowPrimitiveType, ByteArrayType};
use arrow_array::GenericByteArray;
use arrow_array::{
    downcast_primitive_array, Array, ArrayRef, BinaryArray, BinaryViewArray, BooleanArray,
    LargeBinaryArray, LargeStringArray, PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_buffer::ArrowNativeType;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Schema};

/// Values longer than this are cut (at a character boundary) where they are shown.
const SHOWN_BYTES: usize = 120;

/// One column's statistics so far; `min` and `max` are one-value arrays of the column's type.
#[derive(Debug, Clone)]
pub struct ColumnStats {
    pub name: String,
    pub null_count: u64,
    min: Option<ArrayRef>,
    max: Option<ArrayRef>,
}

impl ColumnStats {
    /// The smallest value, formatted as Arrow displays it (ISO dates and times).
    pub fn min(&self) -> Option<String> {
        self.min.as_deref().and_then(shown)
    }

    pub fn max(&self) -> Option<String> {
        self.max.as_deref().and_then(shown)
    }
}

/// The statistics of one batch, one entry per column.
pub fn batch_stats(batch: &RecordBatch) -> Vec<ColumnStats> {
    batch
        .schema_ref()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| {
            let (min, max) = bounds(column.as_ref()).unzip();
            ColumnStats {
                name: field.name().clone(),
                null_count: column.logical_null_count() as u64,
                min,
                max,
            }
        })
        .collect()
}

/// Empty statistics for every column of `schema`, to merge batches into.
pub fn empty_stats(schema: &Schema) -> Vec<ColumnStats> {
    schema
        .fields()
        .iter()
        .map(|field| ColumnStats {
            name: field.name().clone(),
            null_count: 0,
            min: None,
            max: None,
        })
        .collect()
}

/// Folds a later batch's statistics into the running ones.
pub fn merge_stats(into: &mut [ColumnStats], batch: Vec<ColumnStats>) {
    for (total, part) in into.iter_mut().zip(batch) {
        total.null_count += part.null_count;
        total.min = pick(total.min.take(), part.min, true);
        total.max = pick(total.max.take(), part.max, false);
    }
}

/// The statistics as the footer's JSON.
pub fn stats_json(stats: &[ColumnStats]) -> String {
    let columns: Vec<serde_json::Value> = stats
        .iter()
        .map(|column| {
            serde_json::json!({
                "name": column.name,
                "null_count": column.null_count,
                "min": column.min(),
                "max": column.max(),
            })
        })
        .collect();
    serde_json::Value::Array(columns).to_string()
}

fn pick(a: Option<ArrayRef>, b: Option<ArrayRef>, smallest: bool) -> Option<ArrayRef> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let both = arrow_select::concat::concat(&[a.as_ref(), b.as_ref()]).ok()?;
            let (min, max) = bounds(both.as_ref())?;
            Some(if smallest { min } else { max })
        }
        (a, b) => a.or(b),
    }
}

/// The smallest and largest value of `array` as one-value arrays; None for types without an
/// order here, or when every value is null.
fn bounds(array: &dyn Array) -> Option<(ArrayRef, ArrayRef)> {
    if array.null_count() == array.len() {
        return None;
    }
    fn one<A: Array + 'static>(array: A) -> ArrayRef {
        Arc::new(array)
    }
    downcast_primitive_array!(
        array => primitive_bounds(array),
        DataType::Boolean => {
            let array = array.as_boolean();
            Some((
                one(BooleanArray::from(vec![aggregate::min_boolean(array)?])),
                one(BooleanArray::from(vec![aggregate::max_boolean(array)?])),
            ))
        }
        DataType::Utf8 => {
            let (min, max) = offsets_bounds(array.as_string::<i32>())?;
            Some((one(StringArray::from(vec![text(min)?])), one(StringArray::from(vec![text(max)?]))))
        }
        DataType::LargeUtf8 => {
            let (min, max) = offsets_bounds(array.as_string::<i64>())?;
            Some((one(LargeStringArray::from(vec![text(min)?])), one(LargeStringArray::from(vec![text(max)?]))))
        }
        DataType::Utf8View => {
            let (min, max) = byte_bounds(array.as_string_view().iter().map(|v| v.map(str::as_bytes)))?;
            Some((one(StringViewArray::from(vec![text(min)?])), one(StringViewArray::from(vec![text(max)?]))))
        }
        DataType::Binary => {
            let (min, max) = offsets_bounds(array.as_binary::<i32>())?;
            Some((one(BinaryArray::from(vec![min])), one(BinaryArray::from(vec![max]))))
        }
        DataType::LargeBinary => {
            let (min, max) = offsets_bounds(array.as_binary::<i64>())?;
            Some((one(LargeBinaryArray::from(vec![min])), one(LargeBinaryArray::from(vec![max]))))
        }
        DataType::BinaryView => {
            let (min, max) = byte_bounds(array.as_binary_view().iter())?;
            Some((one(BinaryViewArray::from(vec![min])), one(BinaryViewArray::from(vec![max]))))
        }
        _ => None,
    )
}

/// The smallest and largest byte string, in one pass. Each value is keyed by its first eight
/// bytes read as a big-endian number (zero-padded) and its length: a smaller number always
/// means a smaller value, and between values of at most eight bytes with the same number the
/// shorter is the smaller, so only longer values that tie compare whole. arrow-arith's
/// `min_string` and `max_string` compare every value whole, in two passes.
fn byte_bounds<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> Option<(&'a [u8], &'a [u8])> {
    let key = |value: &[u8]| {
        let mut bytes = [0u8; 8];
        let n = value.len().min(8);
        bytes[..n].copy_from_slice(&value[..n]);
        (u64::from_be_bytes(bytes), value.len())
    };
    let less = |a: (u64, usize), a_value: &[u8], b: (u64, usize), b_value: &[u8]| {
        if a.0 != b.0 {
            a.0 < b.0
        } else if a.1 <= 8 && b.1 <= 8 {
            a.1 < b.1
        } else {
            a_value < b_value
        }
    };
    let mut values = values.flatten();
    let first = values.next()?;
    let (mut low, mut high) = ((key(first), first), (key(first), first));
    for value in values {
        let k = key(value);
        if less(k, value, low.0, low.1) {
            low = (k, value);
        } else if less(high.0, high.1, k, value) {
            high = (k, value);
        }
    }
    Some((low.1, high.1))
}

/// `byte_bounds` of an offset-delimited array, in a plain loop over the offsets: each value's
/// first eight bytes come from one load of the value buffer, masked to the value's length.
fn offsets_bounds<T: ByteArrayType>(array: &GenericByteArray<T>) -> Option<(&[u8], &[u8])> {
    let offsets: &[T::Offset] = array.value_offsets();
    let data = array.value_data();
    let range = |index: usize| offsets[index].as_usize()..offsets[index + 1].as_usize();
    // (prefix, length) as one number: it orders values of at most eight bytes exactly, and
    // orders any two values whose prefixes differ.
    let key = |index: usize| -> u128 {
        let span = range(index);
        let word = match data.get(span.start..span.start + 8) {
            Some(bytes) => u64::from_be_bytes(bytes.try_into().expect("eight bytes")),
            None => {
                let mut bytes = [0u8; 8];
                let tail = &data[span.start..];
                bytes[..tail.len()].copy_from_slice(tail);
                u64::from_be_bytes(bytes)
            }
        };
        let len = span.len();
        let prefix = if len >= 8 {
            word
        } else if len == 0 {
            0
        } else {
            word & !(u64::MAX >> (8 * len))
        };
        ((prefix as u128) << 64) | len as u128
    };
    let exact = |key: u128| (key as u64) <= 8;
    let mut low: Option<(u128, usize)> = None;
    let mut high: Option<(u128, usize)> = None;
    let all_valid = array.null_count() == 0;
    for index in 0..array.len() {
        if !all_valid && array.is_null(index) {
            continue;
        }
        let k = key(index);
        let (Some((low_key, low_at)), Some((high_key, high_at))) = (low, high) else {
            low = Some((k, index));
            high = Some((k, index));
            continue;
        };
        let below = if (k >> 64) != (low_key >> 64) || (exact(k) && exact(low_key)) {
            k < low_key
        } else {
            data[range(index)] < data[range(low_at)]
        };
        if below {
            low = Some((k, index));
            continue;
        }
        let above = if (k >> 64) != (high_key >> 64) || (exact(k) && exact(high_key)) {
            k > high_key
        } else {
            data[range(index)] > data[range(high_at)]
        };
        if above {
            high = Some((k, index));
        }
    }
    Some((&data[range(low?.1)], &data[range(high?.1)]))
}

fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

fn primitive_bounds<T: ArrowPrimitiveType>(
    array: &PrimitiveArray<T>,
) -> Option<(ArrayRef, ArrayRef)> {
    // Intervals mix months, days and nanoseconds: they have no total order to report.
    if matches!(array.data_type(), DataType::Interval(_)) {
        return None;
    }
    let (min, max) = (aggregate::min(array)?, aggregate::max(array)?);
    let typed = |value: T::Native| -> ArrayRef {
        Arc::new(
            PrimitiveArray::<T>::from_iter_values([value])
                .with_data_type(array.data_type().clone()),
        )
    };
    Some((typed(min), typed(max)))
}

fn shown(value: &dyn Array) -> Option<String> {
    let mut text = match value.data_type() {
        // An instant is shown in UTC: naming the zone's local time would need the zone database.
        DataType::Timestamp(unit, Some(_)) => {
            let naive = arrow_array::make_array(
                value
                    .to_data()
                    .into_builder()
                    .data_type(DataType::Timestamp(*unit, None))
                    .build()
                    .ok()?,
            );
            let formatter = ArrayFormatter::try_new(&naive, &FormatOptions::default()).ok()?;
            format!("{}Z", formatter.value(0))
        }
        _ => {
            let formatter = ArrayFormatter::try_new(value, &FormatOptions::default()).ok()?;
            formatter.value(0).to_string()
        }
    };
    if text.len() > SHOWN_BYTES {
        let mut cut = SHOWN_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use arrow_array::types::Int32Type;
    use arrow_array::{
        Date32Array, Float64Array, Int32Array, ListArray, TimestampMicrosecondArray,
    };

    use super::*;

    #[test]
    fn merged_batches_give_the_whole_columns_bounds() {
        let batch = RecordBatch::try_from_iter([
            (
                "i",
                Arc::new(Int32Array::from(vec![Some(5), None, Some(-3), Some(9)])) as ArrayRef,
            ),
            ("f", Arc::new(Float64Array::from(vec![1.5, 0.25, 7.0, 2.0]))),
            (
                "s",
                Arc::new(StringArray::from(vec![
                    Some("pear"),
                    Some("apple"),
                    None,
                    Some("zoo"),
                ])),
            ),
            (
                "p",
                Arc::new(StringArray::from(vec![
                    "ab\0",
                    "ab",
                    "abcdefghij",
                    "abcdefghi",
                ])),
            ),
            (
                "d",
                Arc::new(Date32Array::from(vec![19000, 19001, 18000, 19500])),
            ),
            (
                "t",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![0, 1_000_000, 2_000_000, 3_000_000])
                        .with_timezone("UTC"),
                ),
            ),
            (
                "n",
                Arc::new(Int32Array::from(vec![None, None, None, None])),
            ),
            (
                "l",
                Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                    Some(
                        vec![Some(1)]
                    );
                    4
                ])),
            ),
        ])
        .unwrap();
        let mut total = empty_stats(&batch.schema());
        for offset in 0..4 {
            merge_stats(&mut total, batch_stats(&batch.slice(offset, 1)));
        }
        let whole = batch_stats(&batch);
        for (merged, direct) in total.iter().zip(&whole) {
            assert_eq!(
                (merged.min(), merged.max()),
                (direct.min(), direct.max()),
                "{}",
                merged.name
            );
            assert_eq!(merged.null_count, direct.null_count);
        }
        let by_name = |name: &str| total.iter().find(|c| c.name == name).unwrap();
        assert_eq!(
            (by_name("i").min().as_deref(), by_name("i").max().as_deref()),
            (Some("-3"), Some("9"))
        );
        assert_eq!(by_name("i").null_count, 1);
        assert_eq!(by_name("s").min().as_deref(), Some("apple"));
        // Values that tie on their first eight bytes are compared whole.
        assert_eq!(by_name("p").min().as_deref(), Some("ab"));
        assert_eq!(by_name("p").max().as_deref(), Some("abcdefghij"));
        assert_eq!(by_name("d").min().as_deref(), Some("2019-04-14"));
        assert_eq!(by_name("t").max().as_deref(), Some("1970-01-01T00:00:03Z"));
        assert_eq!((by_name("n").min(), by_name("n").null_count), (None, 4));
        assert_eq!(by_name("l").min(), None);
        let json: serde_json::Value = serde_json::from_str(&stats_json(&total)).unwrap();
        assert_eq!(json[0]["name"], "i");
        assert_eq!(json[0]["max"], "9");
    }

    #[test]
    fn long_values_are_cut_where_shown() {
        let long = "é".repeat(200);
        let batch = RecordBatch::try_from_iter([(
            "s",
            Arc::new(StringArray::from(vec![long.as_str()])) as ArrayRef,
        )])
        .unwrap();
        let shown = batch_stats(&batch)[0].min().unwrap();
        assert!(shown.ends_with('…') && shown.len() <= SHOWN_BYTES + '…'.len_utf8());
    }
}
