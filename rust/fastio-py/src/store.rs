use std::collections::HashMap;

use fastio_core::{FastIoError, Location, StoreOptions, UploadOptions};
use pyo3::prelude::*;

use crate::errors::{detached, to_py_err};
use crate::options::Int;

/// `storage_options` as given by Python (None for the environment alone).
pub type PyStorageOptions = Option<HashMap<String, String>>;

/// Parses `uri`; object-store URIs build (or reuse) the store, which reads the environment.
pub fn location(uri: &str, storage_options: PyStorageOptions) -> Result<Location, FastIoError> {
    let options = StoreOptions::new(storage_options.unwrap_or_default());
    Location::parse(uri, &options)
}

/// Upload options from Python values, checked like the other numeric arguments.
pub fn upload_options(
    py: Python<'_>,
    part_size: Option<Int>,
    max_concurrency: Option<Int>,
) -> PyResult<UploadOptions> {
    let build = || -> Result<UploadOptions, FastIoError> {
        // Values that fit these types are checked against S3's limits by `UploadOptions`.
        let part_size = part_size
            .map(|size| {
                size.to(
                    |size| u64::try_from(size).ok(),
                    |size| format!("part_size must be a positive number of bytes, not {size}"),
                )
            })
            .transpose()?;
        let max_concurrency = max_concurrency
            .map(|n| {
                n.to(
                    |n| usize::try_from(n).ok(),
                    |n| format!("max_concurrency must be a positive number, not {n}"),
                )
            })
            .transpose()?;
        UploadOptions::new(part_size, max_concurrency)
    };
    build().map_err(|error| to_py_err(py, error))
}

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
        fastio_core::store::list_below(&uri, &options)
    })
}
