use std::path::PathBuf;
use std::sync::Mutex;

use fastio_core::{AtomicFile, FastIoError, IpcFileEncoder};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PySchema;

use crate::encode::WriteStats;
use crate::errors::detached;
use crate::options::encode_options;

/// An IPC file written batch by batch; it appears at its path only when finished.
#[pyclass(frozen, module = "dagster_fastio._core")]
pub struct IpcFileWriter {
    encoder: Mutex<Option<IpcFileEncoder<AtomicFile>>>,
}

fn closed() -> FastIoError {
    FastIoError::InvalidArgument("the writer is already finished or aborted".into())
}

#[pymethods]
impl IpcFileWriter {
    #[new]
    #[pyo3(signature = (path, schema, compression = "zstd", level = None, chunk_rows = None, fsync = false))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        schema: PySchema,
        compression: &str,
        level: Option<i64>,
        chunk_rows: Option<i64>,
        fsync: bool,
    ) -> PyResult<Self> {
        let options = encode_options(py, compression, level, chunk_rows)?;
        let schema = schema.into_inner();
        let encoder = detached(py, move || {
            let file = AtomicFile::create(&path, fsync)?;
            IpcFileEncoder::try_new(file, schema, &options)
        })?;
        Ok(IpcFileWriter {
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

    /// Writes the footer and moves the file into place.
    fn finish(&self, py: Python<'_>) -> PyResult<WriteStats> {
        let stats = detached(py, || {
            let encoder = self
                .encoder
                .lock()
                .map_err(|_| closed())?
                .take()
                .ok_or_else(closed)?;
            let (file, stats) = encoder.finish()?;
            file.commit()?;
            Ok(stats)
        })?;
        Ok(stats.into())
    }

    /// Drops everything written so far; the previous file at the path, if any, stays.
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
