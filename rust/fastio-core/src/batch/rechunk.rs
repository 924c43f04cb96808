//! Re-chunking: turns whatever batch sizes arrive into batches of a target row count.

use arrow_array::RecordBatch;
use arrow_data::ArrayData;
use arrow_schema::{DataType, SchemaRef};
use arrow_select::concat::concat_batches;

use crate::error::Result;

/// Bytes a batch actually references, counting only the sliced part of shared buffers and
/// leaving out the values of top-level dictionaries, which every batch shares.
pub fn batch_slice_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|column| {
            let data = column.to_data();
            let all = data.get_slice_memory_size().unwrap_or(0);
            match column.data_type() {
                DataType::Dictionary(_, _) => all.saturating_sub(child_bytes(&data)),
                _ => all,
            }
        })
        .sum()
}

/// Bytes of the values of the top-level dictionaries of a batch.
pub fn dictionary_values_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .filter(|column| matches!(column.data_type(), DataType::Dictionary(_, _)))
        .map(|column| child_bytes(&column.to_data()))
        .sum()
}

fn child_bytes(data: &ArrayData) -> usize {
    data.child_data()
        .iter()
        .map(|child| child.get_slice_memory_size().unwrap_or(0))
        .sum()
}

/// Accumulates incoming batches and hands out batches of about `target_rows` rows.
///
/// Large batches are cut into zero-copy slices; small ones are concatenated. A batch between
/// half and one and a half times the target passes through untouched, so a source that
/// already has sensible chunks is never copied. When the target comes from a byte size (no
/// row count asked for), a batch down to an eighth of it passes through too: pandas frames
/// read from CSV keep their string columns in chunks of a few MB, and gathering those into
/// the target size copied every byte of the table for nothing a reader would notice.
pub struct Rechunker {
    schema: SchemaRef,
    target_rows: Option<usize>,
    target_bytes: usize,
    /// The smallest share of the target (1/n) a batch may have and still pass through.
    pass_through_fraction: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
}

impl Rechunker {
    pub fn new(schema: SchemaRef, target_rows: Option<usize>, target_bytes: usize) -> Self {
        Rechunker {
            schema,
            pass_through_fraction: if target_rows.is_some() { 2 } else { 8 },
            target_rows,
            target_bytes,
            pending: Vec::new(),
            pending_rows: 0,
        }
    }

    fn target_rows_for(&mut self, batch: &RecordBatch) -> usize {
        if let Some(rows) = self.target_rows {
            return rows;
        }
        let bytes_per_row = (batch_slice_bytes(batch) / batch.num_rows()).max(1);
        let rows = (self.target_bytes / bytes_per_row).max(1);
        // Fixed from the first non-empty batch so that every batch of a file has the same size.
        self.target_rows = Some(rows);
        rows
    }

    /// Feeds one batch; `emit` receives every batch that is complete.
    pub fn push(
        &mut self,
        batch: RecordBatch,
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let target = self.target_rows_for(&batch);
        let mut offset = 0;
        while offset < rows {
            let remaining = rows - offset;
            let smallest = target / self.pass_through_fraction;
            if self.pending_rows == 0 && remaining >= smallest && remaining <= target + target / 2 {
                return emit(batch.slice(offset, remaining));
            }
            let take = (target - self.pending_rows).min(remaining);
            self.pending.push(batch.slice(offset, take));
            self.pending_rows += take;
            offset += take;
            if self.pending_rows >= target {
                let full = self.take_pending()?;
                emit(full)?;
            }
        }
        Ok(())
    }

    /// Hands out whatever is left at the end of the stream.
    pub fn finish(&mut self, emit: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        if self.pending_rows > 0 {
            let rest = self.take_pending()?;
            emit(rest)?;
        }
        Ok(())
    }

    fn take_pending(&mut self) -> Result<RecordBatch> {
        self.pending_rows = 0;
        let pieces = std::mem::take(&mut self.pending);
        if pieces.len() == 1 {
            return Ok(pieces.into_iter().next().expect("one piece"));
        }
        Ok(concat_batches(&self.schema, &pieces)?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn batch(start: i64, rows: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let values = Int64Array::from_iter_values(start..start + rows as i64);
        RecordBatch::try_new(schema, vec![Arc::new(values)]).unwrap()
    }

    fn run(target: usize, sizes: &[usize]) -> Vec<RecordBatch> {
        let mut rechunker = Rechunker::new(batch(0, 0).schema(), Some(target), 0);
        let mut out = Vec::new();
        let mut start = 0;
        for &rows in sizes {
            rechunker
                .push(batch(start, rows), &mut |b| {
                    out.push(b);
                    Ok(())
                })
                .unwrap();
            start += rows as i64;
        }
        rechunker
            .finish(&mut |b| {
                out.push(b);
                Ok(())
            })
            .unwrap();
        out
    }

    fn values(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| {
                let column = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                column.values().to_vec()
            })
            .collect()
    }

    #[test]
    fn splits_one_huge_batch() {
        let out = run(100, &[1050]);
        assert_eq!(
            out.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
            vec![100, 100, 100, 100, 100, 100, 100, 100, 100, 150]
        );
        assert_eq!(values(&out), (0..1050).collect::<Vec<_>>());
    }

    #[test]
    fn merges_many_tiny_batches() {
        let out = run(100, &[7; 60]);
        assert_eq!(
            out.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
            vec![100, 100, 100, 100, 20]
        );
        assert_eq!(values(&out), (0..420).collect::<Vec<_>>());
    }

    #[test]
    fn passes_through_batches_near_the_target() {
        let out = run(100, &[120, 80, 0, 140]);
        assert_eq!(
            out.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
            vec![120, 80, 140]
        );
    }

    #[test]
    fn a_byte_target_passes_through_chunks_of_an_eighth_and_more() {
        let mut rechunker = Rechunker::new(batch(0, 0).schema(), None, 8 * 800);
        let mut sizes = Vec::new();
        let mut emit = |b: RecordBatch| {
            sizes.push(b.num_rows());
            Ok(())
        };
        for rows in [800, 100, 150, 20, 30, 2000] {
            rechunker.push(batch(0, rows), &mut emit).unwrap();
        }
        rechunker.finish(&mut emit).unwrap();
        // 100 and 150 rows pass; 20 and 30 are gathered with the start of the next batch.
        assert_eq!(sizes, vec![800, 100, 150, 800, 800, 450]);
    }

    #[test]
    fn derives_rows_from_bytes() {
        let mut rechunker = Rechunker::new(batch(0, 0).schema(), None, 8 * 1000);
        let mut sizes = Vec::new();
        rechunker
            .push(batch(0, 5000), &mut |b| {
                sizes.push(b.num_rows());
                Ok(())
            })
            .unwrap();
        assert_eq!(sizes, vec![1000, 1000, 1000, 1000, 1000]);
    }
}
