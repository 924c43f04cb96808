//! Core errors to Python exceptions. The exception classes live in `dagster_fastio.errors`,
//! so that `CorruptFileError` can be both a `FastIOError` and a `ValueError`.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use fastio_core::FastIoError;
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;

fn exception(py: Python<'_>, name: &str, message: String) -> PyErr {
    let class = py
        .import("dagster_fastio.errors")
        .and_then(|module| module.getattr(name))
        .and_then(|class| class.cast_into::<PyType>().map_err(PyErr::from));
    match class {
        Ok(class) => PyErr::from_type(class, message),
        Err(import_error) => import_error,
    }
}

thread_local! {
    /// The exception a signal handler raised during a write, raised when the write returns.
    static PENDING_SIGNAL: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// Keeps `error` (from a signal handler) to be raised when the interrupted write returns.
pub fn interrupted_by(error: PyErr) -> FastIoError {
    PENDING_SIGNAL.with_borrow_mut(|pending| *pending = Some(error));
    FastIoError::Interrupted
}

pub fn to_py_err(py: Python<'_>, error: FastIoError) -> PyErr {
    let message = error.to_string();
    match error {
        FastIoError::Corrupt(_) => exception(py, "CorruptFileError", message),
        FastIoError::NotFound(path) => PyFileNotFoundError::new_err((2, message, path)),
        FastIoError::InvalidArgument(_) => PyValueError::new_err(message),
        FastIoError::Io { ref source, .. } => match source.raw_os_error() {
            // OSError(errno, message) picks the matching subclass (PermissionError, ...).
            Some(errno) => PyOSError::new_err((errno, message)),
            None => PyOSError::new_err(message),
        },
        FastIoError::Store { .. } => exception(py, "StoreError", message),
        FastIoError::Changed(_) => exception(py, "ObjectChangedError", message),
        FastIoError::Interrupted => PENDING_SIGNAL
            .with_borrow_mut(Option::take)
            .unwrap_or_else(|| PyKeyboardInterrupt::new_err(message)),
        FastIoError::Arrow(_) | FastIoError::Internal(_) => exception(py, "FastIOError", message),
    }
}

/// Runs `work` with the GIL released; a panic inside becomes an exception, never an abort.
pub fn detached<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, FastIoError> + Send,
{
    py.detach(|| {
        catch_unwind(AssertUnwindSafe(work))
            .unwrap_or_else(|payload| Err(FastIoError::from_panic(payload)))
    })
    .map_err(|error| to_py_err(py, error))
}
