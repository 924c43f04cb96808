//! Objects and files as a whole: whether one exists, its size, deleting, listing a folder.

use fastio_core::StoreOptions;
use pyo3::prelude::*;

use crate::args::{location, PyStorageOptions};
use crate::errors::detached;

/// Whether the object or local file at `uri` exists; with `tell_missing_bucket`, a missing
/// bucket is a `StoreError` (one more request) rather than false.
#[pyfunction]
#[pyo3(signature = (uri, storage_options = None, tell_missing_bucket = true))]
pub fn object_exists(
    py: Python<'_>,
    uri: String,
    storage_options: PyStorageOptions,
    tell_missing_bucket: bool,
) -> PyResult<bool> {
    detached(py, move || {
        let location = location(&uri, storage_options)?;
        if tell_missing_bucket {
            location.exists()
        } else {
            location.exists_in_bucket()
        }
    })
}

/// Deletes the object or local file at `uri`; an absent one is not an error.
#[pyfunction]
#[pyo3(signature = (uri, storage_options = None))]
pub fn delete_object(
    py: Python<'_>,
    uri: String,
    storage_options: PyStorageOptions,
) -> PyResult<()> {
    detached(py, move || location(&uri, storage_options)?.delete())
}

/// Deletes every one of `uris` (absent ones are not an error); objects of one store in one
/// batched request where the store has one.
#[pyfunction]
#[pyo3(signature = (uris, storage_options = None))]
pub fn delete_objects(
    py: Python<'_>,
    uris: Vec<String>,
    storage_options: PyStorageOptions,
) -> PyResult<()> {
    detached(py, move || {
        let locations = uris
            .iter()
            .map(|uri| location(uri, storage_options.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        fastio_core::Location::delete_all(&locations)
    })
}

/// Size in bytes of the object or local file at `uri`.
#[pyfunction]
#[pyo3(signature = (uri, storage_options = None))]
pub fn object_size(
    py: Python<'_>,
    uri: String,
    storage_options: PyStorageOptions,
) -> PyResult<u64> {
    detached(py, move || location(&uri, storage_options)?.size())
}

/// `(uri, size, modified)` of every object below the folder `uri` names in a store, modified
/// in seconds since the epoch.
#[pyfunction]
#[pyo3(signature = (uri, storage_options = None))]
pub fn list_objects(
    py: Python<'_>,
    uri: String,
    storage_options: PyStorageOptions,
) -> PyResult<Vec<(String, u64, f64)>> {
    detached(py, move || {
        let options = StoreOptions::new(storage_options.unwrap_or_default());
        fastio_core::list_below(&uri, &options)
    })
}
