//! The content hash of a table held in memory, as a write stores it.

use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;

use crate::errors::detached;

/// The content hash of a table or stream (see `fastio_core::hash_batches`), its columns hashed
/// in parallel; None when a column's type cannot be hashed.
#[pyfunction]
pub fn content_hash(py: Python<'_>, data: AnyRecordBatch) -> PyResult<Option<String>> {
    let reader = data.into_reader()?;
    detached(py, move || {
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        Ok(fastio_core::hash_batches(&schema, &batches))
    })
}
