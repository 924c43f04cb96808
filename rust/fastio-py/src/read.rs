//! Table files read whole or batch by batch: Arrow IPC (files and streams) or Parquet, local
//! or in a store, with a column projection and row filters.

use arrow_array::RecordBatchIterator;
use fastio_core::{ColumnFilter, Comparison, FileFormat, LocalRead, ParquetReadOptions};
use pyo3::prelude::*;
use pyo3_arrow::{PyArray, PyRecordBatchReader};

use crate::args::{location, PyStorageOptions};
use crate::errors::{detached, to_py_err};

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

/// `(column, operator, value)` filters as Python gave them, the value a one-element array.
type PyFilters = Option<Vec<(String, String, PyArray)>>;

fn column_filters(py: Python<'_>, filters: PyFilters) -> PyResult<Vec<ColumnFilter>> {
    filters
        .unwrap_or_default()
        .into_iter()
        .map(|(column, operator, value)| {
            let comparison = operator.parse::<Comparison>();
            comparison
                .and_then(|comparison| ColumnFilter::new(column, comparison, value.into_inner().0))
                .map_err(|error| to_py_err(py, error))
        })
        .collect()
}

fn file_format(py: Python<'_>, format: &str) -> PyResult<FileFormat> {
    format.parse().map_err(|error| to_py_err(py, error))
}

fn parquet_options(py: Python<'_>, int96_unit: Option<&str>) -> PyResult<ParquetReadOptions> {
    ParquetReadOptions::new(int96_unit).map_err(|error| to_py_err(py, error))
}

/// Reads a whole table file: an Arrow IPC file or stream (a local file is read, or
/// memory-mapped, and decoded in parallel; a store object is fetched range by range, decoded
/// while downloading), or a Parquet file (only the column chunks of the columns and row
/// groups needed, decoded in parallel).
#[pyfunction]
#[pyo3(signature = (
    uri, columns = None, storage_options = None, memory_map = false, format = "ipc",
    filters = None, coerce_int96_timestamp_unit = None
))]
#[allow(clippy::too_many_arguments)]
pub fn read_file(
    py: Python<'_>,
    uri: String,
    columns: Option<Vec<String>>,
    storage_options: PyStorageOptions,
    memory_map: bool,
    format: &str,
    filters: PyFilters,
    coerce_int96_timestamp_unit: Option<&str>,
) -> PyResult<PyRecordBatchReader> {
    let format = file_format(py, format)?;
    let filters = column_filters(py, filters)?;
    let parquet = parquet_options(py, coerce_int96_timestamp_unit)?;
    detached(py, move || {
        let location = location(&uri, storage_options)?;
        let (schema, batches) = fastio_core::read_table(
            &location,
            columns.as_deref(),
            local_read(memory_map),
            format,
            &filters,
            parquet,
        )?;
        Ok(decoded_reader(schema, batches))
    })
}

/// Opens a table file for reading one batch (of a Parquet file, one row group) at a time.
#[pyfunction]
#[pyo3(signature = (
    uri, columns = None, storage_options = None, memory_map = false, format = "ipc",
    filters = None, coerce_int96_timestamp_unit = None
))]
#[allow(clippy::too_many_arguments)]
pub fn read_file_batches(
    py: Python<'_>,
    uri: String,
    columns: Option<Vec<String>>,
    storage_options: PyStorageOptions,
    memory_map: bool,
    format: &str,
    filters: PyFilters,
    coerce_int96_timestamp_unit: Option<&str>,
) -> PyResult<PyRecordBatchReader> {
    let format = file_format(py, format)?;
    let filters = column_filters(py, filters)?;
    let parquet = parquet_options(py, coerce_int96_timestamp_unit)?;
    detached(py, move || {
        let location = location(&uri, storage_options)?;
        let reader = fastio_core::read_table_batches(
            location,
            columns.as_deref(),
            local_read(memory_map),
            format,
            &filters,
            parquet,
        )?;
        Ok(PyRecordBatchReader::new(reader))
    })
}
