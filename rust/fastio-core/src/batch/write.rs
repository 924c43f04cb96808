//! What both writers share around the batches they encode: what a write measured, the check
//! that stops it, and the schema every batch must match.

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{Schema, SchemaRef};

use crate::batch::column_stats::{stats_json, ColumnStats};
use crate::error::{FastIoError, Result};

/// What an encoder wrote.
#[derive(Debug, Clone, Default)]
pub struct WriteStats {
    pub rows: u64,
    pub batches: u64,
    /// Size of the Arrow data before compression, as it sits in memory.
    pub raw_bytes: u64,
    /// Size of the file, header and footer included.
    pub stored_bytes: u64,
    /// See [`crate::batch::content_hash`]; None when not asked for, or for a type it cannot
    /// hash.
    pub content_hash: Option<String>,
    /// One entry per column, when asked for.
    pub column_stats: Option<Vec<ColumnStats>>,
}

impl WriteStats {
    /// The column statistics as the footer stores them (JSON), when gathered.
    pub fn column_stats_json(&self) -> Option<String> {
        self.column_stats.as_deref().map(stats_json)
    }
}

/// Returns an error (`FastIoError::Interrupted`) when the write must stop.
pub type InterruptCheck = Box<dyn FnMut() -> Result<()> + Send>;

/// What stops a write: the caller's interrupt check, and the first failure after which the
/// bytes already written cannot be trusted (a batch lost mid-write, a short write), after
/// which the encoder refuses to write more or to finish the file.
#[derive(Default)]
pub(crate) struct WriteGuard {
    failure: Option<String>,
    interrupt_check: Option<InterruptCheck>,
}

impl WriteGuard {
    pub(crate) fn set_interrupt_check(&mut self, check: InterruptCheck) {
        self.interrupt_check = Some(check);
    }

    /// Asks the interrupt check, if any, whether to stop.
    pub(crate) fn check_interrupt(&mut self) -> Result<()> {
        match &mut self.interrupt_check {
            Some(check) => check(),
            None => Ok(()),
        }
    }

    pub(crate) fn failed(&self) -> bool {
        self.failure.is_some()
    }

    pub(crate) fn check_usable(&self) -> Result<()> {
        match &self.failure {
            Some(cause) => Err(FastIoError::InvalidArgument(format!(
                "the writer failed earlier ({cause}); nothing more can be written to it"
            ))),
            None => Ok(()),
        }
    }

    /// Remembers the first error of `result`, which then fails the write.
    pub(crate) fn record<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(error) = &result {
            self.failure.get_or_insert_with(|| error.to_string());
        }
        result
    }
}

/// `batch` with the writer's `schema` (and its metadata), when its columns are the same;
/// otherwise an error showing both. The row count is explicit so that a batch without columns
/// keeps its rows.
pub(crate) fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema_ref().fields() != schema.fields() {
        return Err(FastIoError::InvalidArgument(format!(
            "batch schema does not match the file schema\n  file:  {}\n  batch: {}",
            describe_fields(schema),
            describe_fields(batch.schema_ref())
        )));
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        batch.columns().to_vec(),
        &options,
    )?)
}

fn describe_fields(schema: &Schema) -> String {
    let fields: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            format!(
                "{}: {}{}",
                f.name(),
                f.data_type(),
                if f.is_nullable() { "" } else { " not null" }
            )
        })
        .collect();
    fields.join(", ")
}
