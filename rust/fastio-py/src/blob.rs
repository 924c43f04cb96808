//! Opaque payloads (pickles) compressed with zstd, and any stored object read as it is.

use fastio_core::{FastIoError, WriteOptions};
use pyo3::prelude::*;
use pyo3_arrow::PyArray;

use crate::args::{buffer_array, bytes_array, location, Int, PyStorageOptions};
use crate::errors::{detached, to_py_err};

/// Compresses a bytes payload (a pickle) with zstd into `uri`; returns the stored size and
/// the number of upload parts.
#[pyfunction]
#[pyo3(signature = (
    uri, data, level = Int::from(1), fsync = false, storage_options = None, part_size = None,
    max_concurrency = None
))]
#[allow(clippy::too_many_arguments)]
pub fn write_zstd_file(
    py: Python<'_>,
    uri: String,
    data: &[u8],
    level: Int,
    fsync: bool,
    storage_options: PyStorageOptions,
    part_size: Option<Int>,
    max_concurrency: Option<Int>,
) -> PyResult<(u64, u64)> {
    // The table writes' own checks of the same options.
    let checked = || -> Result<_, FastIoError> {
        let options = WriteOptions {
            level: Some(level.value("level")?),
            part_size: part_size.map(|size| size.value("part_size")).transpose()?,
            max_concurrency: max_concurrency
                .map(|n| n.value("max_concurrency"))
                .transpose()?,
            ..WriteOptions::default()
        };
        Ok((options.upload()?, options.zstd_level()?.unwrap_or(1)))
    };
    let (upload, level) = checked().map_err(|error| to_py_err(py, error))?;
    detached(py, || {
        let location = location(&uri, storage_options)?;
        fastio_core::write_zstd(location, data, level, fsync, upload)
    })
}

/// Reads back a payload written by `write_zstd_file`, as a uint8 Arrow array over the
/// decompressed bytes (no copy into a Python `bytes`).
#[pyfunction]
#[pyo3(signature = (uri, storage_options = None))]
pub fn read_zstd_file(
    py: Python<'_>,
    uri: String,
    storage_options: PyStorageOptions,
) -> PyResult<PyArray> {
    let data = detached(py, || {
        fastio_core::read_zstd(&location(&uri, storage_options)?)
    })?;
    Ok(bytes_array(data))
}

/// The bytes stored at `uri` as they are (one version of an object), as a uint8 Arrow array.
#[pyfunction]
#[pyo3(signature = (uri, storage_options = None))]
pub fn read_object(
    py: Python<'_>,
    uri: String,
    storage_options: PyStorageOptions,
) -> PyResult<PyArray> {
    let data = detached(py, || {
        fastio_core::read_raw(&location(&uri, storage_options)?)
    })?;
    Ok(buffer_array(data))
}
