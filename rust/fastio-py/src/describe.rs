//! What a file holds without decoding its data: an IPC file's or stream's message headers, or
//! a table file's footer alone.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PySchema;

use crate::args::{location, PyStorageOptions};
use crate::errors::detached;

/// What an Arrow IPC file or stream holds, from its message headers: a dict with `format`,
/// `schema`, `stored_bytes`, `dictionary_batches`, `footer_metadata` and `batches`, one
/// `(rows, stored_bytes, raw_bytes, codec)` tuple per record batch.
#[pyfunction]
#[pyo3(signature = (uri, storage_options = None))]
pub fn describe(
    py: Python<'_>,
    uri: String,
    storage_options: PyStorageOptions,
) -> PyResult<Bound<'_, PyDict>> {
    let summary = detached(py, move || {
        fastio_core::describe_location(&location(&uri, storage_options)?)
    })?;
    let result = PyDict::new(py);
    // "format" is the IPC framing ("file" or "stream") here, as Python has always read it.
    result.set_item("format", summary.framing)?;
    result.set_item("schema", PySchema::new(summary.schema.clone()))?;
    result.set_item("stored_bytes", summary.stored_bytes)?;
    result.set_item("dictionary_batches", summary.dictionary_batches)?;
    let batches: Vec<(u64, u64, u64, Option<&str>)> = summary
        .batches
        .iter()
        .map(|b| (b.rows, b.stored_bytes, b.raw_bytes, b.codec))
        .collect();
    result.set_item("batches", batches)?;
    let footer: std::collections::HashMap<&str, &str> = summary
        .footer_metadata
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    result.set_item("footer_metadata", footer)?;
    Ok(result)
}

/// A file's footer alone, with one ranged read on a store: a dict with `schema`, `metadata`
/// (the footer's key-value pairs), `batches` and `stored_bytes`.
#[pyfunction]
#[pyo3(signature = (uri, storage_options = None))]
pub fn read_footer(
    py: Python<'_>,
    uri: String,
    storage_options: PyStorageOptions,
) -> PyResult<Bound<'_, PyDict>> {
    let footer = detached(py, move || {
        fastio_core::read_footer(&location(&uri, storage_options)?)
    })?;
    let result = PyDict::new(py);
    result.set_item("schema", PySchema::new(footer.schema.clone()))?;
    let metadata: std::collections::HashMap<&str, &str> = footer
        .metadata
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    result.set_item("metadata", metadata)?;
    result.set_item("batches", footer.batches)?;
    result.set_item("stored_bytes", footer.stored_bytes)?;
    result.set_item("format", footer.format.name())?;
    result.set_item("rows", footer.rows)?;
    Ok(result)
}
