//! A table file written batch by batch, for output larger than memory.

use std::sync::Mutex;

use fastio_core::{FastIoError, FileEncoder, Sink};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PySchema;

use crate::args::{location, PyStorageOptions};
use crate::errors::detached;
use crate::write::{python_signals, WriteStats};
use crate::write_options::PyWriteOptions;

/// A table file (Arrow IPC or Parquet) written batch by batch; it appears at its path (or key)
/// only when finished.
/// An upload streams its parts while batches arrive, so the output may exceed memory.
#[pyclass(frozen, module = "dagster_fastio._core")]
pub struct TableFileWriter {
    encoder: Mutex<Option<FileEncoder<Sink>>>,
}

fn closed() -> FastIoError {
    FastIoError::InvalidArgument("the writer is already finished or aborted".into())
}

#[pymethods]
impl TableFileWriter {
    #[new]
    #[pyo3(signature = (uri, schema, options, storage_options = None))]
    fn new(
        py: Python<'_>,
        uri: String,
        schema: PySchema,
        options: PyWriteOptions,
        storage_options: PyStorageOptions,
    ) -> PyResult<Self> {
        let plan = options.plan(py)?;
        let schema = schema.into_inner();
        let encoder = detached(py, move || {
            let target = location(&uri, storage_options)?;
            fastio_core::create_table_file(target, schema, &plan)
                .map(|encoder| encoder.with_interrupt_check(Box::new(python_signals)))
        })?;
        Ok(TableFileWriter {
            encoder: Mutex::new(Some(encoder)),
        })
    }

    /// Adds a RecordBatch, Table or stream; its schema must match the writer's.
    fn write(&self, py: Python<'_>, data: AnyRecordBatch) -> PyResult<()> {
        let reader = data.into_reader()?;
        detached(py, || {
            let mut slot = self.encoder.lock().map_err(|_| closed())?;
            let encoder = slot.as_mut().ok_or_else(closed)?;
            encoder.write_all(reader)
        })
    }

    /// Writes the footer and publishes the file (rename, or upload completion).
    fn finish(&self, py: Python<'_>) -> PyResult<WriteStats> {
        detached(py, || {
            let encoder = self
                .encoder
                .lock()
                .map_err(|_| closed())?
                .take()
                .ok_or_else(closed)?;
            let (sink, stats) = encoder.finish()?;
            let parts = sink.commit_unless(&mut python_signals)?;
            Ok(WriteStats::new(stats, parts))
        })
    }

    /// Drops everything written so far (aborting an upload); the previous version, if any,
    /// stays.
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        // The lock is taken without the GIL: a `write` on another thread holds it while its
        // source may need the GIL.
        py.detach(|| {
            let mut slot = match self.encoder.lock() {
                Ok(slot) => slot,
                // A panic mid-write poisons the lock; aborting is exactly what is wanted then.
                Err(poisoned) => poisoned.into_inner(),
            };
            drop(slot.take());
        });
        Ok(())
    }

    /// True once finished or aborted. A write in progress on another thread counts as open.
    #[getter]
    fn closed(&self) -> bool {
        match self.encoder.try_lock() {
            Ok(slot) => slot.is_none(),
            Err(std::sync::TryLockError::WouldBlock) => false,
            Err(std::sync::TryLockError::Poisoned(_)) => true,
        }
    }
}
