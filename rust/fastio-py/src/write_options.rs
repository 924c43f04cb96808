//! The write options, as one dict from Python, converted once into the core's
//! `WriteOptions` (whose fields are the one definition of them) and checked into a plan.

use fastio_core::{WriteOptions, WritePlan};
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt};

use crate::args::Int;
use crate::errors::to_py_err;

/// `options: dict[str, Any]` of a writing operation: the fields of `fastio_core::WriteOptions`
/// by name; missing ones take its defaults.
pub struct PyWriteOptions(pub WriteOptions);

impl<'a, 'py> FromPyObject<'a, 'py> for PyWriteOptions {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        let dict = obj.cast::<PyDict>()?;
        // pythonize carries integers up to 64 bits into an i64 field and raises a bare
        // OverflowError beyond; such a value is refused here by its option's own message.
        for (key, value) in dict.iter() {
            if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() {
                if let Some(error) = value.extract::<Int>()?.refused(&key.extract::<String>()?) {
                    return Err(to_py_err(py, error));
                }
            }
        }
        pythonize::depythonize::<WriteOptions>(&dict)
            .map(PyWriteOptions)
            .map_err(|error| shape_error(py, error.into()))
    }
}

/// pythonize raises serde's own complaints as a bare `Exception`: an unknown option is a
/// ValueError naming it (serde's message lists the valid ones), a value of the wrong type a
/// TypeError, as pyo3's argument extraction raised before.
fn shape_error(py: Python<'_>, error: PyErr) -> PyErr {
    let kind = error.get_type(py);
    let message = error.value(py).to_string();
    if kind.is(py.get_type::<PyException>()) && message.starts_with("unknown field") {
        PyValueError::new_err(format!("unknown write option: {message}"))
    } else if kind.is(py.get_type::<PyException>()) || kind.is(py.get_type::<PyTypeError>()) {
        PyTypeError::new_err(format!("write options: {message}"))
    } else {
        error
    }
}

impl PyWriteOptions {
    /// Every option checked (see `WriteOptions::plan`).
    pub fn plan(&self, py: Python<'_>) -> PyResult<WritePlan> {
        self.0.plan().map_err(|error| to_py_err(py, error))
    }
}
