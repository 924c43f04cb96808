//! Arguments every operation shares: where (`uri` and `storage_options`), integers that keep
//! their digits when they do not fit, and bytes handed to Python without a copy.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::UInt8Array;
use arrow_buffer::{Buffer, ScalarBuffer};
use fastio_core::{FastIoError, Location, StoreOptions};
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3_arrow::PyArray;

/// `storage_options` as given by Python (None for the environment alone). Not a write option:
/// it carries credentials, and reads take it too.
pub type PyStorageOptions = Option<HashMap<String, String>>;

/// Parses `uri`; object-store URIs build (or reuse) the store, which reads the environment.
pub fn location(uri: &str, storage_options: PyStorageOptions) -> Result<Location, FastIoError> {
    let options = StoreOptions::new(storage_options.unwrap_or_default());
    Location::parse(uri, &options)
}

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
    /// The value, or the core's refusal of the integer option `name` naming its digits.
    pub fn value(self, name: &str) -> Result<i64, FastIoError> {
        self.0.map_err(|digits| {
            fastio_core::refusal(name, &digits).expect("an integer option of the core")
        })
    }

    /// The core's refusal of a value beyond 64 bits for the integer option `name`; None for a
    /// value that fits, or a name that is no integer option (the core refuses that itself).
    pub fn refused(self, name: &str) -> Option<FastIoError> {
        self.0
            .err()
            .and_then(|digits| fastio_core::refusal(name, &digits))
    }
}

/// Hands a byte vector to Python as a uint8 Arrow array over the same allocation.
pub fn bytes_array(bytes: Vec<u8>) -> PyArray {
    buffer_array(Buffer::from_vec(bytes))
}

/// Hands a buffer to Python as a uint8 Arrow array over the same memory.
pub fn buffer_array(buffer: Buffer) -> PyArray {
    let len = buffer.len();
    let values = ScalarBuffer::new(buffer, 0, len);
    PyArray::from_array_ref(Arc::new(UInt8Array::new(values, None)))
}
