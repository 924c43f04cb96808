//! One table covering several partitions, split by its key columns into one file per
//! partition in a single streaming pass.
//!
//! Each row's partition comes from its key columns: a column's value names a partition key
//! (static and dynamic partitions), or falls in a time window (time partitions). Each batch
//! is mapped, grouped by partition with arrow-select's `take` (in parallel across partitions),
//! and each group goes to that partition's own encoder, whose batches compress on the pool.
//! A row that belongs to no target partition stops the write before anything is published;
//! each partition's file then appears atomically on commit, and a partition without rows gets
//! an empty file of the table's schema.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchReader, UInt32Array};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Schema, TimeUnit};
use rayon::prelude::*;

use crate::batch::WriteStats;
use crate::bytes::Sink;
use crate::error::{FastIoError, Result};
use crate::format::{create_table_file, FileEncoder, WritePlan};
use crate::store::Location;

/// How one key column names a partition of one dimension.
#[derive(Debug, Clone)]
pub enum KeyColumn {
    /// The column's value, as text, is the partition key: `keys[i]` is partition `i`.
    Values { column: String, keys: Vec<String> },
    /// The column's date or time falls in window `i`, `[starts[i], ends[i])` in microseconds
    /// since the epoch (UTC for zoned timestamps, wall-clock time for dates, zone-less
    /// timestamps and ISO strings).
    Windows {
        column: String,
        starts: Vec<i64>,
        ends: Vec<i64>,
    },
}

impl KeyColumn {
    fn column(&self) -> &str {
        match self {
            KeyColumn::Values { column, .. } | KeyColumn::Windows { column, .. } => column,
        }
    }
}

/// One output file: where it goes, its partition's index in each key column's list, and its
/// own footer entries.
pub struct PartitionTarget {
    pub location: Location,
    pub indices: Vec<u32>,
    pub footer_metadata: Vec<(String, String)>,
}

/// Splits `reader` by `keys` into `targets`; returns each target's stats and upload parts, in
/// the targets' order.
pub fn write_partitions(
    reader: impl RecordBatchReader,
    keys: &[KeyColumn],
    targets: Vec<PartitionTarget>,
    plan: &WritePlan,
    interrupt: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<(WriteStats, u64)>> {
    let schema = reader.schema();
    let columns = keys
        .iter()
        .map(|key| column_index(&schema, key))
        .collect::<Result<Vec<_>>>()?;
    let mut by_indices = HashMap::with_capacity(targets.len());
    for (position, target) in targets.iter().enumerate() {
        if target.indices.len() != keys.len() {
            return Err(FastIoError::InvalidArgument(
                "each partition target needs one index per key column".into(),
            ));
        }
        if by_indices
            .insert(target.indices.clone(), position)
            .is_some()
        {
            return Err(FastIoError::InvalidArgument(
                "two partition targets have the same key".into(),
            ));
        }
    }
    let mut encoders = targets
        .into_iter()
        .map(|target| {
            let plan = WritePlan {
                format: plan
                    .format
                    .clone()
                    .with_footer_entries(target.footer_metadata),
                ..plan.clone()
            };
            create_table_file(target.location, schema.clone(), &plan)
        })
        .collect::<Result<Vec<FileEncoder<Sink>>>>()?;
    for batch in reader {
        interrupt()?;
        let batch = batch?;
        let per_key = keys
            .iter()
            .zip(&columns)
            .map(|(key, index)| partition_of_rows(key, batch.column(*index)))
            .collect::<Result<Vec<_>>>()?;
        let groups = group_rows(&per_key, &by_indices, encoders.len(), |row| {
            describe_row(keys, &columns, &batch, row)
        })?;
        let pieces = groups
            .into_par_iter()
            .enumerate()
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(target, rows)| {
                let rows = UInt32Array::from(rows);
                Ok((
                    target,
                    arrow_select::take::take_record_batch(&batch, &rows)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        for (target, piece) in pieces {
            encoders[target].write(&piece)?;
        }
    }
    // Every file is complete before the first one is published.
    let finished = finish_all(encoders)?;
    finished
        .into_iter()
        .map(|(sink, stats)| Ok((stats, sink.commit_unless(interrupt)?)))
        .collect()
}

/// Finishes the encoders, several at once: a finish waits for its last batches, and the
/// partitions' batches should compress side by side rather than one file after another. The
/// waiting happens on threads of its own, never on the pool that does the compressing.
fn finish_all(mut encoders: Vec<FileEncoder<Sink>>) -> Result<Vec<(Sink, WriteStats)>> {
    let threads = crate::pool::pool().current_num_threads().max(1) * 2;
    let per_thread = encoders.len().div_ceil(threads).max(1);
    let mut groups = Vec::new();
    while !encoders.is_empty() {
        let take = per_thread.min(encoders.len());
        groups.push(encoders.drain(..take).collect::<Vec<_>>());
    }
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|group| {
                scope.spawn(move || {
                    group
                        .into_iter()
                        .map(FileEncoder::finish)
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|payload| Err(FastIoError::from_panic(payload)))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    Ok(results.into_iter().flatten().collect())
}

fn column_index(schema: &Schema, key: &KeyColumn) -> Result<usize> {
    schema.index_of(key.column()).map_err(|_| {
        FastIoError::InvalidArgument(format!(
            "the partition column {:?} is not in the output (columns: {})",
            key.column(),
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Each row's partition index in `key`'s list; `u32::MAX` for none.
fn partition_of_rows(key: &KeyColumn, column: &ArrayRef) -> Result<Vec<u32>> {
    match key {
        KeyColumn::Values { column: name, keys } => {
            let positions: HashMap<&str, u32> = keys
                .iter()
                .enumerate()
                .map(|(i, key)| (key.as_str(), i as u32))
                .collect();
            let text = arrow_cast::cast(column, &DataType::Utf8).map_err(|e| {
                FastIoError::InvalidArgument(format!(
                    "the partition column {name:?} ({}) cannot be read as partition keys: {e}",
                    column.data_type()
                ))
            })?;
            Ok(text
                .as_string::<i32>()
                .iter()
                .map(|value| {
                    value
                        .and_then(|v| positions.get(v).copied())
                        .unwrap_or(u32::MAX)
                })
                .collect())
        }
        KeyColumn::Windows {
            column: name,
            starts,
            ends,
        } => {
            let micros = match column.data_type() {
                DataType::Timestamp(_, zone) => DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
                DataType::Date32 | DataType::Date64 | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    DataType::Timestamp(TimeUnit::Microsecond, None)
                }
                other => {
                    return Err(FastIoError::InvalidArgument(format!(
                        "the partition column {name:?} is {other}: a time-window partition needs a date, a timestamp or ISO date text"
                    )))
                }
            };
            let times = arrow_cast::cast(column, &micros).map_err(|e| {
                FastIoError::InvalidArgument(format!(
                    "the partition column {name:?} cannot be read as times: {e}"
                ))
            })?;
            let times = times.as_primitive::<TimestampMicrosecondType>();
            Ok(times
                .iter()
                .map(|time| {
                    let Some(time) = time else { return u32::MAX };
                    // The window starting at or before `time`, if `time` is before its end.
                    match starts.partition_point(|start| *start <= time) {
                        0 => u32::MAX,
                        after => {
                            let window = after - 1;
                            if time < ends[window] {
                                window as u32
                            } else {
                                u32::MAX
                            }
                        }
                    }
                })
                .collect())
        }
    }
}

/// The rows of each target, in order; an error names the first row that has no target.
fn group_rows(
    per_key: &[Vec<u32>],
    by_indices: &HashMap<Vec<u32>, usize>,
    targets: usize,
    describe: impl Fn(usize) -> String,
) -> Result<Vec<Vec<u32>>> {
    let rows = per_key.first().map_or(0, Vec::len);
    let mut groups = vec![Vec::new(); targets];
    let mut indices = vec![0u32; per_key.len()];
    for row in 0..rows {
        for (slot, key) in indices.iter_mut().zip(per_key) {
            *slot = key[row];
        }
        match by_indices.get(indices.as_slice()) {
            Some(target) if !indices.contains(&u32::MAX) => groups[*target].push(row as u32),
            _ => {
                return Err(FastIoError::InvalidArgument(format!(
                    "a row belongs to no partition of this run ({}): an output for a range of \
                     partitions may only hold rows of those partitions",
                    describe(row)
                )))
            }
        }
    }
    Ok(groups)
}

fn describe_row(keys: &[KeyColumn], columns: &[usize], batch: &RecordBatch, row: usize) -> String {
    keys.iter()
        .zip(columns)
        .map(|(key, index)| {
            let column = batch.column(*index);
            let value = if column.is_null(row) {
                "null".to_string()
            } else {
                ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())
                    .map(|f| f.value(row).to_string())
                    .unwrap_or_else(|_| "?".into())
            };
            format!("{} = {value}", key.column())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Date32Array, Int64Array, RecordBatchIterator, StringArray};

    use super::*;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "region",
                Arc::new(StringArray::from(vec!["east", "west", "east", "north"])) as ArrayRef,
            ),
            // 2024-01-01 is day 19723.
            (
                "day",
                Arc::new(Date32Array::from(vec![19723, 19724, 19724, 19723])),
            ),
            ("n", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
        ])
        .unwrap()
    }

    const DAY: i64 = 86_400_000_000;

    fn windows() -> KeyColumn {
        let start = 19723 * DAY;
        KeyColumn::Windows {
            column: "day".into(),
            starts: vec![start, start + DAY],
            ends: vec![start + DAY, start + 2 * DAY],
        }
    }

    #[test]
    fn rows_map_to_values_and_windows() {
        let batch = batch();
        let regions = KeyColumn::Values {
            column: "region".into(),
            keys: vec!["east".into(), "west".into(), "north".into()],
        };
        assert_eq!(
            partition_of_rows(&regions, batch.column(0)).unwrap(),
            [0, 1, 0, 2]
        );
        assert_eq!(
            partition_of_rows(&windows(), batch.column(1)).unwrap(),
            [0, 1, 1, 0]
        );
        let narrow = KeyColumn::Values {
            column: "region".into(),
            keys: vec!["east".into()],
        };
        assert_eq!(
            partition_of_rows(&narrow, batch.column(0)).unwrap()[1],
            u32::MAX
        );
    }

    #[test]
    fn a_row_outside_the_targets_fails_the_whole_split() {
        let dir = tempfile::tempdir().unwrap();
        let batch = batch();
        let reader = RecordBatchIterator::new([Ok(batch.clone())], batch.schema());
        let keys = [KeyColumn::Values {
            column: "region".into(),
            keys: vec!["east".into(), "west".into()],
        }];
        let targets = (0..2)
            .map(|i| PartitionTarget {
                location: Location::Local(dir.path().join(format!("{i}.arrow"))),
                indices: vec![i],
                footer_metadata: vec![],
            })
            .collect();
        let error = write_partitions(
            reader,
            &keys,
            targets,
            &crate::format::WriteOptions::default().plan().unwrap(),
            &mut || Ok(()),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("region = north"), "{error}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing published"
        );
    }
}
