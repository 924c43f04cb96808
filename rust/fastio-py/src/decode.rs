use arrow_array::cast::AsArray;
use arrow_array::types::UInt8Type;
use arrow_array::RecordBatchIterator;
use fastio_core::decode::IpcContents;
use fastio_core::store::fetch::{RemoteContents, DEFAULT_FETCH_CONCURRENCY as FETCH_CONCURRENCY};
use fastio_core::{IpcSource, Location};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3_arrow::{PyArray, PyRecordBatchReader};

use crate::errors::detached;
use crate::store::{location, PyStorageOptions};

fn decoded_reader(contents: IpcContents) -> Result<PyRecordBatchReader, fastio_core::FastIoError> {
    let schema = contents.schema();
    let batches = contents.read_all()?;
    Ok(PyRecordBatchReader::new(Box::new(
        RecordBatchIterator::new(batches.into_iter().map(Ok), schema),
    )))
}

fn local_source(path: &std::path::Path, memory_map: bool) -> IpcSource<'_> {
    if memory_map {
        IpcSource::MappedPath(path)
    } else {
        IpcSource::Path(path)
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
        decoded_reader(contents)
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
    detached(py, move || match location(&uri, storage_options)? {
        Location::Local(path) => {
            let contents = IpcContents::open(local_source(&path, memory_map), columns.as_deref())?;
            decoded_reader(contents)
        }
        Location::Remote(object) => {
            let (schema, batches) =
                RemoteContents::read_whole(&object, columns.as_deref(), FETCH_CONCURRENCY)?;
            Ok(PyRecordBatchReader::new(Box::new(
                RecordBatchIterator::new(batches.into_iter().map(Ok), schema),
            )))
        }
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
    detached(py, move || match location(&uri, storage_options)? {
        Location::Local(path) => {
            let contents = IpcContents::open(local_source(&path, memory_map), columns.as_deref())?;
            Ok(PyRecordBatchReader::new(Box::new(contents.into_reader())))
        }
        Location::Remote(object) => {
            let contents = RemoteContents::open(object, columns.as_deref(), FETCH_CONCURRENCY)?;
            Ok(PyRecordBatchReader::new(contents.into_reader()))
        }
    })
}
