use std::sync::Mutex;

use fastio_core::file_format::FileEncoder;
use fastio_core::open;
use fastio_core::{FastIoError, Sink};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PySchema;

use crate::encode::{python_signals, WriteStats};
use crate::errors::detached;
use crate::options::{write_options, FooterMetadata, Int, WithCompat, WithContent};
use crate::store::{location, upload_options, PyStorageOptions};

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
    #[pyo3(signature = (
        uri, schema, compression = "zstd", level = None, chunk_rows = None, fsync = false,
        storage_options = None, part_size = None, max_concurrency = None, metadata = None,
        content_hash = false, statistics = false, format = "ipc", compat = "standard"
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        uri: String,
        schema: PySchema,
        compression: &str,
        level: Option<Int>,
        chunk_rows: Option<Int>,
        fsync: bool,
        storage_options: PyStorageOptions,
        part_size: Option<Int>,
        max_concurrency: Option<Int>,
        metadata: FooterMetadata,
        content_hash: bool,
        statistics: bool,
        format: &str,
        compat: &str,
    ) -> PyResult<Self> {
        let options = write_options(py, format, compression, level, chunk_rows)?
            .with_content(metadata, content_hash, statistics)
            .with_compat(py, compat)?;
        let upload = upload_options(py, part_size, max_concurrency)?;
        let schema = schema.into_inner();
        let encoder = detached(py, move || {
            let target = location(&uri, storage_options)?;
            open::create_table_file(target, schema, &options, upload, fsync)
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
