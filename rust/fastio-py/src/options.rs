use fastio_core::{Compression, EncodeOptions, FastIoError};
use pyo3::prelude::*;

use crate::errors::to_py_err;

pub fn encode_options(
    py: Python<'_>,
    compression: &str,
    level: Option<i32>,
    chunk_rows: Option<usize>,
) -> PyResult<EncodeOptions> {
    let build = || -> Result<EncodeOptions, FastIoError> {
        let options = EncodeOptions {
            level,
            chunk_rows,
            ..EncodeOptions::new(compression.parse::<Compression>()?)
        };
        options.validate()?;
        Ok(options)
    };
    build().map_err(|error| to_py_err(py, error))
}
