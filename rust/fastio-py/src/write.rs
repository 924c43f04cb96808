//! A whole table written to a file or object, which appears complete or not at all.

use fastio_core::FastIoError;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;

use crate::args::{location, PyStorageOptions};
use crate::errors::detached;
use crate::write_options::PyWriteOptions;

/// What one write produced.
#[pyclass(frozen, get_all, module = "dagster_fastio._core")]
#[derive(Clone)]
pub struct WriteStats {
    pub rows: u64,
    pub batches: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    /// Upload parts; 1 for a local file or a single PUT.
    pub parts: u64,
    /// `xxh3-128:<hex>` of the logical content, when computed.
    pub content_hash: Option<String>,
    /// The footer's JSON list of per-column statistics, when gathered.
    pub column_stats: Option<String>,
}

#[pymethods]
impl WriteStats {
    fn __repr__(&self) -> String {
        format!(
            "WriteStats(rows={}, batches={}, raw_bytes={}, stored_bytes={}, parts={})",
            self.rows, self.batches, self.raw_bytes, self.stored_bytes, self.parts
        )
    }
}

impl WriteStats {
    pub fn new(stats: fastio_core::WriteStats, parts: u64) -> Self {
        WriteStats {
            column_stats: stats.column_stats_json(),
            rows: stats.rows,
            batches: stats.batches,
            raw_bytes: stats.raw_bytes,
            stored_bytes: stats.stored_bytes,
            parts,
            content_hash: stats.content_hash,
        }
    }
}

/// Encodes an Arrow stream to a local file or a store object, which appears complete or not
/// at all: local files are renamed into place, uploads stream in parts and abort on failure.
#[pyfunction]
#[pyo3(signature = (data, uri, options, storage_options = None))]
pub fn write_file(
    py: Python<'_>,
    data: AnyRecordBatch,
    uri: String,
    options: PyWriteOptions,
    storage_options: PyStorageOptions,
) -> PyResult<WriteStats> {
    let plan = options.plan(py)?;
    let reader = data.into_reader()?;
    detached(py, move || {
        let target = location(&uri, storage_options)?;
        let mut encoder = fastio_core::create_table_file(target, reader.schema(), &plan)?
            .with_interrupt_check(Box::new(python_signals));
        encoder.write_all(reader)?;
        let (sink, stats) = encoder.finish()?;
        let parts = sink.commit_unless(&mut python_signals)?;
        Ok(WriteStats::new(stats, parts))
    })
}

/// Lets Python run its signal handlers between batches of a write that has released the GIL:
/// a Ctrl-C (Dagster terminates runs with SIGINT) stops the write before anything is
/// published, and the handler's exception is raised once the write has cleaned up.
pub fn python_signals() -> Result<(), FastIoError> {
    Python::attach(|py| py.check_signals()).map_err(crate::errors::interrupted_by)
}
