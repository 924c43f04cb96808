use std::collections::HashMap;

use fastio_core::compat::Compatibility;
use fastio_core::file_format::{FileFormat, WriteOptions};
use fastio_core::parquet_write::ParquetOptions;
use fastio_core::{Compression, EncodeOptions, FastIoError};
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;

use crate::errors::to_py_err;

/// An integer argument as Python gave it. One outside i64 keeps its digits, so that the check
/// of the option it was given for refuses it by name ("chunk_rows must be ..., not
/// 18446744073709551616"), where pyo3 alone would raise an OverflowError naming nothing.
pub struct Int(Result<i64, String>);

impl<'a, 'py> FromPyObject<'a, 'py> for Int {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<i64>() {
            Ok(value) => Ok(Int(Ok(value))),
            Err(error) if error.is_instance_of::<PyOverflowError>(obj.py()) => {
                Ok(Int(Err(obj.str()?.to_string())))
            }
            Err(error) => Err(error),
        }
    }
}

impl From<i64> for Int {
    fn from(value: i64) -> Self {
        Int(Ok(value))
    }
}

impl Int {
    /// The value as `T` when `accept` takes it; otherwise an invalid-argument error whose
    /// message `refusal` makes from the value's digits.
    pub fn to<T>(
        self,
        accept: impl FnOnce(i64) -> Option<T>,
        refusal: impl FnOnce(&str) -> String,
    ) -> Result<T, FastIoError> {
        let digits = match self.0 {
            Ok(value) => match accept(value) {
                Some(accepted) => return Ok(accepted),
                None => value.to_string(),
            },
            Err(digits) => digits,
        };
        Err(FastIoError::InvalidArgument(refusal(&digits)))
    }
}

/// A zstd level, checked against what zstd takes once the codec is known.
pub fn zstd_level(level: Int) -> Result<i32, FastIoError> {
    level.to(
        |level| i32::try_from(level).ok(),
        |level| format!("zstd level {level} is out of range: expected -7 to 22"),
    )
}

/// Options from Python values; a negative or huge number is a ValueError naming the argument.
pub fn encode_options(
    py: Python<'_>,
    compression: &str,
    level: Option<Int>,
    chunk_rows: Option<Int>,
) -> PyResult<EncodeOptions> {
    let build = || -> Result<EncodeOptions, FastIoError> {
        let level = level.map(zstd_level).transpose()?;
        let chunk_rows = chunk_rows
            .map(|rows| {
                rows.to(
                    |rows| usize::try_from(rows).ok().filter(|rows| *rows > 0),
                    |rows| format!("chunk_rows must be a positive number of rows, not {rows}"),
                )
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

/// Options of a write in `format`: for Parquet, `compression` names a Parquet codec and
/// `chunk_rows` caps the rows of a row group.
pub fn write_options(
    py: Python<'_>,
    format: &str,
    compression: &str,
    level: Option<Int>,
    chunk_rows: Option<Int>,
) -> PyResult<WriteOptions> {
    let format = format
        .parse::<FileFormat>()
        .map_err(|error| to_py_err(py, error))?;
    if format == FileFormat::Ipc {
        return Ok(WriteOptions::Ipc(encode_options(
            py,
            compression,
            level,
            chunk_rows,
        )?));
    }
    let build = || -> Result<WriteOptions, FastIoError> {
        let defaults = ParquetOptions::default();
        let row_group_rows = match chunk_rows {
            Some(rows) => rows.to(
                |rows| usize::try_from(rows).ok().filter(|rows| *rows > 0),
                |rows| format!("chunk_rows must be a positive number of rows, not {rows}"),
            )?,
            None => defaults.row_group_rows,
        };
        Ok(WriteOptions::Parquet(ParquetOptions {
            codec: compression.parse()?,
            level: level.map(zstd_level).transpose()?,
            row_group_rows,
            ..defaults
        }))
    };
    build().map_err(|error| to_py_err(py, error))
}

/// Key-value pairs for a file's footer, as Python gave them.
pub type FooterMetadata = Option<HashMap<String, String>>;

/// The footer contents a write asks for.
pub trait WithContent {
    fn with_content(self, metadata: FooterMetadata, content_hash: bool, statistics: bool) -> Self;
}

/// The compatibility level (see `fastio_core::compat`) set on write options.
pub trait WithCompat: Sized {
    fn with_compat(self, py: Python<'_>, compat: &str) -> PyResult<Self>;
}

fn compatibility(py: Python<'_>, compat: &str) -> PyResult<Compatibility> {
    compat.parse().map_err(|error| to_py_err(py, error))
}

impl WithCompat for EncodeOptions {
    fn with_compat(mut self, py: Python<'_>, compat: &str) -> PyResult<Self> {
        self.compat = compatibility(py, compat)?;
        Ok(self)
    }
}

impl WithCompat for WriteOptions {
    fn with_compat(self, py: Python<'_>, compat: &str) -> PyResult<Self> {
        let level = compatibility(py, compat)?;
        Ok(match self {
            WriteOptions::Ipc(mut options) => {
                options.compat = level;
                WriteOptions::Ipc(options)
            }
            WriteOptions::Parquet(mut options) => {
                options.compat = level;
                WriteOptions::Parquet(options)
            }
        })
    }
}

impl WithContent for EncodeOptions {
    fn with_content(
        mut self,
        metadata: FooterMetadata,
        content_hash: bool,
        statistics: bool,
    ) -> Self {
        let mut pairs: Vec<(String, String)> = metadata.unwrap_or_default().into_iter().collect();
        pairs.sort();
        self.footer_metadata = pairs;
        self.content_hash = content_hash;
        self.statistics = statistics;
        self
    }
}

impl WithContent for WriteOptions {
    fn with_content(self, metadata: FooterMetadata, content_hash: bool, statistics: bool) -> Self {
        match self {
            WriteOptions::Ipc(options) => {
                WriteOptions::Ipc(options.with_content(metadata, content_hash, statistics))
            }
            // A Parquet file has statistics per page and row group whatever is asked.
            WriteOptions::Parquet(mut options) => {
                let mut pairs: Vec<(String, String)> =
                    metadata.unwrap_or_default().into_iter().collect();
                pairs.sort();
                options.footer_metadata = pairs;
                options.content_hash = content_hash;
                WriteOptions::Parquet(options)
            }
        }
    }
}
