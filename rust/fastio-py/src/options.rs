use fastio_core::{Compression, EncodeOptions, FastIoError};
use pyo3::prelude::*;

use crate::errors::to_py_err;

/// Options from Python values; numbers arrive as i64 so that a negative or huge one is a
/// ValueError naming the argument, not an OverflowError from the conversion.
pub fn encode_options(
    py: Python<'_>,
    compression: &str,
    level: Option<i64>,
    chunk_rows: Option<i64>,
) -> PyResult<EncodeOptions> {
    let build = || -> Result<EncodeOptions, FastIoError> {
        let level = level
            .map(|level| {
                i32::try_from(level).map_err(|_| {
                    FastIoError::InvalidArgument(format!(
                        "zstd level {level} is out of range: expected -7 to 22"
                    ))
                })
            })
            .transpose()?;
        let chunk_rows = chunk_rows
            .map(|rows| {
                usize::try_from(rows)
                    .ok()
                    .filter(|rows| *rows > 0)
                    .ok_or_else(|| {
                        FastIoError::InvalidArgument(format!(
                            "chunk_rows must be a positive number of rows, not {rows}"
                        ))
                    })
            })
            .transpose()?;
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
