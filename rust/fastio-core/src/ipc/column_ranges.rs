//! Which byte ranges of a record batch message hold the projected columns, so that a store
//! read of a few columns downloads those columns' buffers only.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::writer::{DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions};
use arrow_schema::{DataType, FieldRef, Schema};

/// Which buffers of a record batch message belong to the projected columns.
///
/// A message lists its buffers column after column, each column's in a number fixed by its
/// type. That number is taken from arrow-ipc itself, by encoding an empty batch of each column;
/// view types (with a variable count of data buffers) opt out, and their batches are fetched
/// whole.
pub(crate) struct ColumnRanges {
    /// Buffer index range of each projected column, in the message's buffer list.
    buffers: Vec<Range<usize>>,
    total_buffers: usize,
}

/// Ranges of the body closer than this are fetched as one.
const RANGE_GAP: u64 = 64 << 10;

impl ColumnRanges {
    pub(crate) fn new(schema: &Schema, projection: &[usize]) -> Option<Self> {
        if projection.len() == schema.fields().len() {
            return None;
        }
        Self::of_columns(schema, projection)
    }

    /// The buffers of `projection`'s columns, also when it holds every column.
    pub(crate) fn of_columns(schema: &Schema, projection: &[usize]) -> Option<Self> {
        let counts = schema
            .fields()
            .iter()
            .map(buffers_of)
            .collect::<Option<Vec<_>>>()?;
        let starts: Vec<usize> = counts
            .iter()
            .scan(0, |next, count| {
                let start = *next;
                *next += count;
                Some(start)
            })
            .collect();
        Some(ColumnRanges {
            buffers: projection
                .iter()
                .map(|&column| starts[column]..starts[column] + counts[column])
                .collect(),
            total_buffers: counts.iter().sum(),
        })
    }

    /// The buffer indices of the `column`-th projected column in a message's buffer list.
    pub(crate) fn column_buffers(&self, column: usize) -> Range<usize> {
        self.buffers[column].clone()
    }

    /// Which buffers of a message belong to the projected columns, one flag per buffer.
    pub(crate) fn kept_buffers(&self) -> Vec<bool> {
        let mut kept = vec![false; self.total_buffers];
        for columns in &self.buffers {
            kept[columns.clone()].fill(true);
        }
        kept
    }

    /// Body byte ranges (merged when close) holding the projected columns' buffers, from the
    /// batch's message header; None when the header does not match the schema's layout.
    pub(crate) fn body_ranges(&self, metadata: &[u8], body_len: u64) -> Option<Vec<Range<u64>>> {
        let message = crate::ipc::message::parse_message(metadata).ok()?;
        let batch = message.header_as_record_batch()?;
        let buffers = batch.buffers()?;
        if buffers.len() != self.total_buffers {
            return None;
        }
        let mut wanted: Vec<Range<u64>> = Vec::new();
        for columns in &self.buffers {
            for index in columns.clone() {
                let buffer = buffers.get(index);
                let start = u64::try_from(buffer.offset()).ok()?;
                let end = start.checked_add(u64::try_from(buffer.length()).ok()?)?;
                if end > body_len {
                    return None;
                }
                if start < end {
                    wanted.push(start..end);
                }
            }
        }
        wanted.sort_by_key(|range| range.start);
        let mut merged: Vec<Range<u64>> = Vec::new();
        for range in wanted {
            match merged.last_mut() {
                Some(last) if range.start <= last.end + RANGE_GAP => {
                    last.end = last.end.max(range.end)
                }
                _ => merged.push(range),
            }
        }
        Some(merged)
    }
}

fn buffers_of(field: &FieldRef) -> Option<usize> {
    if has_view_type(field.data_type()) {
        return None;
    }
    // A dictionary column's buffers in a record batch are those of its keys.
    let keys_only = field
        .as_ref()
        .clone()
        .with_data_type(keys_of(field.data_type())?);
    let schema = Arc::new(Schema::new(vec![keys_only]));
    let empty = RecordBatch::new_empty(schema);
    let (_, encoded) = IpcDataGenerator::default()
        .encode(
            &empty,
            &mut DictionaryTracker::new(false),
            &IpcWriteOptions::default(),
            &mut IpcWriteContext::default(),
        )
        .ok()?;
    let message = arrow_ipc::root_as_message(&encoded.ipc_message).ok()?;
    Some(message.header_as_record_batch()?.buffers()?.len())
}

/// `data_type` with every dictionary replaced by its key type; None where that is not
/// worked out (unions, run-end encoding).
fn keys_of(data_type: &DataType) -> Option<DataType> {
    let field = |f: &FieldRef| -> Option<FieldRef> {
        Some(Arc::new(
            f.as_ref().clone().with_data_type(keys_of(f.data_type())?),
        ))
    };
    Some(match data_type {
        DataType::Dictionary(key, _) => key.as_ref().clone(),
        DataType::List(f) => DataType::List(field(f)?),
        DataType::LargeList(f) => DataType::LargeList(field(f)?),
        DataType::FixedSizeList(f, size) => DataType::FixedSizeList(field(f)?, *size),
        DataType::Map(f, sorted) => DataType::Map(field(f)?, *sorted),
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(field).collect::<Option<Vec<_>>>()?.into())
        }
        DataType::Union(..) | DataType::RunEndEncoded(..) => return None,
        other => other.clone(),
    })
}

fn has_view_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8View
        | DataType::BinaryView
        | DataType::ListView(_)
        | DataType::LargeListView(_) => true,
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => has_view_type(f.data_type()),
        DataType::Struct(fields) => fields.iter().any(|f| has_view_type(f.data_type())),
        DataType::Union(fields, _) => fields.iter().any(|(_, f)| has_view_type(f.data_type())),
        DataType::Dictionary(_, value) => has_view_type(value),
        DataType::RunEndEncoded(_, values) => has_view_type(values.data_type()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use arrow_schema::{Field, Fields};

    use super::*;

    #[test]
    fn buffer_counts_come_from_arrow_ipc_and_views_opt_out() {
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let pair = DataType::Struct(Fields::from(vec![
            Field::new("a", DataType::Float64, true),
            Field::new("b", dictionary.clone(), true),
        ]));
        let schema = Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("w", DataType::Utf8, true),
            Field::new("d", dictionary, true),
            Field::new("p", pair, true),
            Field::new("v", DataType::Utf8View, true),
        ]);
        let counts: Vec<_> = schema.fields().iter().map(buffers_of).collect();
        // validity + values; validity + offsets + data; the keys; struct validity + children.
        assert_eq!(counts, vec![Some(2), Some(3), Some(2), Some(5), None]);
        assert!(
            ColumnRanges::new(&schema, &[0, 3]).is_none(),
            "a view column opts out"
        );
        let without_views = Schema::new(schema.fields()[..4].to_vec());
        let ranges = ColumnRanges::new(&without_views, &[3, 1]).unwrap();
        assert_eq!(ranges.buffers, vec![7..12, 2..5]);
        assert_eq!(ranges.total_buffers, 12);
        assert!(ColumnRanges::new(&without_views, &[0, 1, 2, 3]).is_none());
        let kept = ranges.kept_buffers();
        assert_eq!(kept.iter().filter(|k| **k).count(), 8);
        assert!(kept[2..5].iter().chain(&kept[7..12]).all(|k| *k));
    }
}
