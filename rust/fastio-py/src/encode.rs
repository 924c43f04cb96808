use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::UInt8Array;
use arrow_buffer::{Buffer, ScalarBuffer};
use fastio_core::{encode_to_vec, AtomicFile, IpcFileEncoder};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyArray;

use crate::errors::detached;
use crate::options::encode_options;

/// What one write produced.
#[pyclass(frozen, get_all, module = "dagster_fastio._core")]
#[derive(Clone, Copy)]
pub struct WriteStats {
    pub rows: u64,
    pub batches: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
}

#[pymethods]
impl WriteStats {
    fn __repr__(&self) -> String {
        format!(
            "WriteStats(rows={}, batches={}, raw_bytes={}, stored_bytes={})",
            self.rows, self.batches, self.raw_bytes, self.stored_bytes
        )
    }
}

impl From<fastio_core::WriteStats> for WriteStats {
    fn from(stats: fastio_core::WriteStats) -> Self {
        WriteStats {
            rows: stats.rows,
            batches: stats.batches,
            raw_bytes: stats.raw_bytes,
            stored_bytes: stats.stored_bytes,
        }
    }
}

/// Encodes an Arrow stream into an IPC file held in memory.
///
/// The bytes come back as a uint8 Arrow array over the encoder's own allocation, so Python
/// can view them as a buffer without copying them.
#[pyfunction]
#[pyo3(signature = (data, compression = "zstd", level = None, chunk_rows = None))]
pub fn encode(
    py: Python<'_>,
    data: AnyRecordBatch,
    compression: &str,
    level: Option<i64>,
    chunk_rows: Option<i64>,
) -> PyResult<(PyArray, WriteStats)> {
    let options = encode_options(py, compression, level, chunk_rows)?;
    let reader = data.into_reader()?;
    let (bytes, stats) = detached(py, move || encode_to_vec(reader, &options))?;
    Ok((bytes_array(bytes), stats.into()))
}

/// Hands a byte vector to Python as a uint8 Arrow array over the same allocation.
pub fn bytes_array(bytes: Vec<u8>) -> PyArray {
    let len = bytes.len();
    let values = ScalarBuffer::new(Buffer::from_vec(bytes), 0, len);
    PyArray::from_array_ref(Arc::new(UInt8Array::new(values, None)))
}

/// Encodes an Arrow stream into a local file, replaced atomically.
#[pyfunction]
#[pyo3(signature = (data, path, compression = "zstd", level = None, chunk_rows = None, fsync = false))]
pub fn write_file(
    py: Python<'_>,
    data: AnyRecordBatch,
    path: PathBuf,
    compression: &str,
    level: Option<i64>,
    chunk_rows: Option<i64>,
    fsync: bool,
) -> PyResult<WriteStats> {
    let options = encode_options(py, compression, level, chunk_rows)?;
    let reader = data.into_reader()?;
    let stats = detached(py, move || {
        let file = AtomicFile::create(&path, fsync)?;
        let mut encoder = IpcFileEncoder::try_new(file, reader.schema(), &options)?;
        encoder.write_all(reader)?;
        let (file, stats) = encoder.finish()?;
        file.commit()?;
        Ok(stats)
    })?;
    Ok(stats.into())
}
