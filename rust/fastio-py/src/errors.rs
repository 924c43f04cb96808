//! Core errors to Python exceptions. The exception classes live in `dagster_fastio.errors`,
//! so that `CorruptFileError` can be both a `FastIOError` and a `ValueError`.

use std::cell::RefCell;

use fastio_core::FastIoError;
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The exception classes of `dagster_fastio.errors`, looked up once each.
static CORRUPT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STORE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CHANGED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UNSUPPORTED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static BASE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn exception(py: Python<'_>, class: &PyOnceLock<Py<PyType>>, name: &str, message: String) -> PyErr {
    match class.import(py, "dagster_fastio.errors", name) {
        Ok(class) => PyErr::from_type(class.clone(), message),
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
        FastIoError::Corrupt(_) | FastIoError::CorruptParquet(_) => {
            exception(py, &CORRUPT, "CorruptFileError", message)
        }
        FastIoError::UnsupportedParquet(_) => {
            exception(py, &UNSUPPORTED, "UnsupportedFileError", message)
        }
        FastIoError::NotFound(path) => PyFileNotFoundError::new_err((2, message, path)),
        FastIoError::InvalidArgument(_) => PyValueError::new_err(message),
        FastIoError::Io { ref source, .. } => match source.raw_os_error() {
            // OSError(errno, message) picks the matching subclass (PermissionError, ...).
            Some(errno) => PyOSError::new_err((errno, message)),
            None => PyOSError::new_err(message),
        },
        FastIoError::Store { .. } => exception(py, &STORE, "StoreError", message),
        FastIoError::Changed(_) => exception(py, &CHANGED, "ObjectChangedError", message),
        FastIoError::Interrupted => {
            let error = PENDING_SIGNAL
                .with_borrow_mut(Option::take)
                .unwrap_or_else(|| PyKeyboardInterrupt::new_err(message.clone()));
            // Says, in the traceback and Dagster's event log, that the write was undone: a
            // signal that arrives just after a write completed raises the same exception.
            let note = format!("dagster_fastio: {message}");
            let _ = error.value(py).call_method1("add_note", (note,));
            error
        }
        FastIoError::Arrow(_) | FastIoError::Internal(_) => {
            exception(py, &BASE, "FastIOError", message)
        }
    }
}

/// Runs `work` with the GIL released; a panic inside becomes an exception, never an abort.
pub fn detached<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, FastIoError> + Send,
{
    py.detach(|| fastio_core::guarded(FastIoError::Internal, work))
        .map_err(|error| to_py_err(py, error))
}
