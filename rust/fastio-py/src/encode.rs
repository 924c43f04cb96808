//! Tables to and from Arrow IPC bytes held in memory.

use arrow_array::cast::AsArray;
use arrow_array::types::UInt8Type;
use arrow_array::RecordBatchIterator;
use fastio_core::{encode_to_vec, IpcContents, IpcSource};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::{PyArray, PyRecordBatchReader};

use crate::args::bytes_array;
use crate::errors::{detached, to_py_err};
use crate::write::WriteStats;
use crate::write_options::PyWriteOptions;

/// Encodes an Arrow stream into an IPC file held in memory, with the write options of a file
/// write: `format` must be "ipc", and the upload options are checked but unused.
///
/// The bytes come back as a uint8 Arrow array over the encoder's own allocation, so Python
/// can view them as a buffer without copying them.
#[pyfunction]
#[pyo3(signature = (data, options))]
pub fn encode(
    py: Python<'_>,
    data: AnyRecordBatch,
    options: PyWriteOptions,
) -> PyResult<(PyArray, WriteStats)> {
    let options = options
        .0
        .in_memory()
        .map_err(|error| to_py_err(py, error))?;
    let reader = data.into_reader()?;
    let (bytes, stats) = detached(py, move || encode_to_vec(reader, &options))?;
    Ok((bytes_array(bytes), WriteStats::new(stats, 1)))
}

/// Decodes an Arrow IPC file or stream handed over as a uint8 Arrow array (zero-copy).
#[pyfunction]
#[pyo3(signature = (data, columns = None))]
pub fn decode(
    py: Python<'_>,
    data: PyArray,
    columns: Option<Vec<String>>,
) -> PyResult<PyRecordBatchReader> {
    let (array, _) = data.into_inner();
    let bytes = array
        .as_primitive_opt::<UInt8Type>()
        .ok_or_else(|| PyTypeError::new_err("decode expects the bytes as a uint8 Arrow array"))?;
    let buffer = bytes.values().inner().clone();
    detached(py, move || {
        let contents = IpcContents::open(IpcSource::Memory(buffer), columns.as_deref())?;
        let batches = contents.read_all()?;
        Ok(PyRecordBatchReader::new(Box::new(
            RecordBatchIterator::new(batches.into_iter().map(Ok), contents.schema()),
        )))
    })
}
