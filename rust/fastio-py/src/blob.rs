use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3_arrow::PyArray;

use crate::encode::bytes_array;
use crate::errors::detached;

/// Compresses a bytes payload (a pickle) with zstd into `path`; returns the stored size.
#[pyfunction]
#[pyo3(signature = (path, data, level = 1, fsync = false))]
pub fn write_zstd_file(
    py: Python<'_>,
    path: PathBuf,
    data: &[u8],
    level: i32,
    fsync: bool,
) -> PyResult<u64> {
    detached(py, || {
        fastio_core::blob::write_zstd_file(&path, data, level, fsync)
    })
}

/// Reads back a payload written by `write_zstd_file`, as a uint8 Arrow array over the
/// decompressed bytes (no copy into a Python `bytes`).
#[pyfunction]
pub fn read_zstd_file(py: Python<'_>, path: PathBuf) -> PyResult<PyArray> {
    let data = detached(py, || fastio_core::blob::read_zstd_file(&path))?;
    Ok(bytes_array(data))
}
