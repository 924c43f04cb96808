use std::sync::Arc;

use arrow_array::UInt8Array;
use arrow_buffer::{Buffer, ScalarBuffer};
use fastio_core::open;
use fastio_core::partition_split::{
    write_partitions as write_partitions_core, KeyColumn, PartitionTarget,
};
use fastio_core::{encode_to_vec, FastIoError};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyArray;

use crate::errors::detached;
use crate::options::{encode_options, write_options, FooterMetadata, Int, WithCompat, WithContent};
use crate::store::{location, upload_options, PyStorageOptions};

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
            rows: stats.rows,
            batches: stats.batches,
            raw_bytes: stats.raw_bytes,
            stored_bytes: stats.stored_bytes,
            parts,
            content_hash: stats.content_hash,
            column_stats: stats
                .column_stats
                .as_deref()
                .map(fastio_core::column_stats::stats_json),
        }
    }
}

/// Encodes an Arrow stream into an IPC file held in memory.
///
/// The bytes come back as a uint8 Arrow array over the encoder's own allocation, so Python
/// can view them as a buffer without copying them.
#[pyfunction]
#[pyo3(signature = (
    data, compression = "zstd", level = None, chunk_rows = None, metadata = None,
    content_hash = false, statistics = false, compat = "standard"
))]
#[allow(clippy::too_many_arguments)]
pub fn encode(
    py: Python<'_>,
    data: AnyRecordBatch,
    compression: &str,
    level: Option<Int>,
    chunk_rows: Option<Int>,
    metadata: FooterMetadata,
    content_hash: bool,
    statistics: bool,
    compat: &str,
) -> PyResult<(PyArray, WriteStats)> {
    let options = encode_options(py, compression, level, chunk_rows)?
        .with_content(metadata, content_hash, statistics)
        .with_compat(py, compat)?;
    let reader = data.into_reader()?;
    let (bytes, stats) = detached(py, move || encode_to_vec(reader, &options))?;
    Ok((bytes_array(bytes), WriteStats::new(stats, 1)))
}

/// Hands a byte vector to Python as a uint8 Arrow array over the same allocation.
pub fn bytes_array(bytes: Vec<u8>) -> PyArray {
    buffer_array(Buffer::from_vec(bytes))
}

/// Hands a buffer to Python as a uint8 Arrow array over the same memory.
pub fn buffer_array(buffer: Buffer) -> PyArray {
    let len = buffer.len();
    let values = ScalarBuffer::new(buffer, 0, len);
    PyArray::from_array_ref(Arc::new(UInt8Array::new(values, None)))
}

/// Encodes an Arrow stream to a local file or a store object, which appears complete or not
/// at all: local files are renamed into place, uploads stream in parts and abort on failure.
#[pyfunction]
#[pyo3(signature = (
    data, uri, compression = "zstd", level = None, chunk_rows = None, fsync = false,
    storage_options = None, part_size = None, max_concurrency = None, metadata = None,
    content_hash = false, statistics = false, format = "ipc", compat = "standard"
))]
#[allow(clippy::too_many_arguments)]
pub fn write_file(
    py: Python<'_>,
    data: AnyRecordBatch,
    uri: String,
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
) -> PyResult<WriteStats> {
    let options = write_options(py, format, compression, level, chunk_rows)?
        .with_content(metadata, content_hash, statistics)
        .with_compat(py, compat)?;
    let upload = upload_options(py, part_size, max_concurrency)?;
    let reader = data.into_reader()?;
    detached(py, move || {
        let target = location(&uri, storage_options)?;
        let mut encoder =
            open::create_table_file(target, reader.schema(), &options, upload, fsync)?
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

/// The content hash of a table or stream (see `fastio_core::content_hash`), its columns hashed
/// in parallel; None when a column's type cannot be hashed.
#[pyfunction]
pub fn content_hash(py: Python<'_>, data: AnyRecordBatch) -> PyResult<Option<String>> {
    let reader = data.into_reader()?;
    detached(py, move || {
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        Ok(fastio_core::content_hash::hash_batches(&schema, &batches))
    })
}

/// One key column, as Python gives it: `(column, keys)` for values, `(column, starts, ends)`
/// for time windows in microseconds.
#[derive(FromPyObject)]
pub enum PyKeyColumn {
    Values(String, Vec<String>),
    Windows(String, Vec<i64>, Vec<i64>),
}

/// Splits an Arrow stream covering several partitions into one file per partition (see
/// `fastio_core::partition_split`): `targets` are `(uri, index per key column, footer
/// entries)`. Returns each target's stats, in order.
#[pyfunction]
#[pyo3(signature = (
    data, keys, targets, compression = "zstd", level = None, chunk_rows = None, fsync = false,
    storage_options = None, part_size = None, max_concurrency = None, metadata = None,
    content_hash = false, statistics = false, format = "ipc", compat = "standard"
))]
#[allow(clippy::too_many_arguments)]
pub fn write_partitions(
    py: Python<'_>,
    data: AnyRecordBatch,
    keys: Vec<PyKeyColumn>,
    targets: Vec<(String, Vec<u32>, FooterMetadata)>,
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
) -> PyResult<Vec<WriteStats>> {
    let options = write_options(py, format, compression, level, chunk_rows)?
        .with_content(metadata, content_hash, statistics)
        .with_compat(py, compat)?;
    let upload = upload_options(py, part_size, max_concurrency)?;
    let reader = data.into_reader()?;
    let keys: Vec<KeyColumn> = keys
        .into_iter()
        .map(|key| match key {
            PyKeyColumn::Values(column, keys) => KeyColumn::Values { column, keys },
            PyKeyColumn::Windows(column, starts, ends) => KeyColumn::Windows {
                column,
                starts,
                ends,
            },
        })
        .collect();
    detached(py, move || {
        let targets = targets
            .into_iter()
            .map(|(uri, indices, entries)| {
                let mut footer_metadata: Vec<_> = entries.unwrap_or_default().into_iter().collect();
                footer_metadata.sort();
                Ok(PartitionTarget {
                    location: location(&uri, storage_options.clone())?,
                    indices,
                    footer_metadata,
                })
            })
            .collect::<Result<Vec<_>, FastIoError>>()?;
        let written = write_partitions_core(
            reader,
            &keys,
            targets,
            &options,
            upload,
            fsync,
            &mut python_signals,
        )?;
        Ok(written
            .into_iter()
            .map(|(stats, parts)| WriteStats::new(stats, parts))
            .collect())
    })
}
