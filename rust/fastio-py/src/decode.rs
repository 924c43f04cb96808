use arrow_array::cast::AsArray;
use arrow_array::types::UInt8Type;
use arrow_array::RecordBatchIterator;
use fastio_core::decode::IpcContents;
use fastio_core::open::{self, LocalRead};
use fastio_core::IpcSource;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3_arrow::{PyArray, PyRecordBatchReader};

use crate::errors::detached;
use crate::store::{location, PyStorageOptions};

fn decoded_reader(
    schema: arrow_schema::SchemaRef,
    batches: Vec<arrow_array::RecordBatch>,
) -> PyRecordBatchReader {
    PyRecordBatchReader::new(Box::new(RecordBatchIterator::new(
        batches.into_iter().map(Ok),
        schema,
    )))
}

fn local_read(memory_map: bool) -> LocalRead {
    if memory_map {
        LocalRead::Map
    } else {
        LocalRead::Copy
    }
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
        Ok(decoded_reader(contents.schema(), contents.read_all()?))
    })
}

/// Reads a whole Arrow IPC file or stream: a local file is read (or memory-mapped) and decoded
/// in parallel; a store object is fetched range by range, decoded while downloading.
#[pyfunction]
#[pyo3(signature = (uri, columns = None, storage_options = None, memory_map = false))]
pub fn read_file(
    py: Python<'_>,
    uri: String,
    columns: Option<Vec<String>>,
    storage_options: PyStorageOptions,
    memory_map: bool,
) -> PyResult<PyRecordBatchReader> {
    detached(py, move || {
        let location = location(&uri, storage_options)?;
        let (schema, batches) =
            open::read_all(&location, columns.as_deref(), local_read(memory_map))?;
        Ok(decoded_reader(schema, batches))
    })
}

/// Opens an Arrow IPC file or stream for reading one batch at a time.
#[pyfunction]
#[pyo3(signature = (uri, columns = None, storage_options = None, memory_map = false))]
pub fn read_file_batches(
    py: Python<'_>,
    uri: String,
    columns: Option<Vec<String>>,
    storage_options: PyStorageOptions,
    memory_map: bool,
) -> PyResult<PyRecordBatchReader> {
    detached(py, move || {
        let location = location(&uri, storage_options)?;
        let reader = open::read_batches(location, columns.as_deref(), local_read(memory_map))?;
        Ok(PyRecordBatchReader::new(reader))
    })
}
