//! Fixed-width columns of a local Arrow IPC file decoded straight into memory that Python
//! then owns (bytearrays the NumPy arrays of a pandas frame view, writable), with no Arrow
//! array in between.

use fastio_core::{FastIoError, IpcContents, IpcSource, Location};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};

use crate::args::location;
use crate::errors::detached;

/// The filled columns and, for each batch holding nulls, `(column, first row, rows, validity
/// bitmap)`.
type Filled<'py> = (
    Vec<Bound<'py, PyByteArray>>,
    Vec<(usize, usize, usize, Bound<'py, PyBytes>)>,
);

/// Decodes `columns` (fixed-width numbers, of `widths` bytes each) of the local IPC file at
/// `uri`, whose footer says it holds `rows`, into one new bytearray per column.
#[pyfunction]
pub fn fill_columns<'py>(
    py: Python<'py>,
    uri: String,
    columns: Vec<String>,
    widths: Vec<usize>,
    rows: usize,
) -> PyResult<Filled<'py>> {
    let arrays = widths
        .iter()
        .map(|width| {
            let len = rows.checked_mul(*width).ok_or_else(|| {
                pyo3::exceptions::PyValueError::new_err(format!("{rows} rows do not fit"))
            })?;
            // Grown, not zero-filled: the core writes every byte (or the call fails and they
            // are dropped), and pages first touched by its threads fault in on both cores.
            let array = PyByteArray::new(py, &[]);
            array.resize(len)?;
            Ok(array)
        })
        .collect::<PyResult<Vec<_>>>()?;
    // Safety: the bytearrays were just made here and no other code holds them until they are
    // returned, so nothing resizes or reads them while the core writes them; each is its own
    // allocation.
    let mut places: Vec<&mut [u8]> = arrays
        .iter()
        .map(|array| unsafe { array.as_bytes_mut() })
        .collect();
    let nulls = detached(py, move || {
        let Location::Local(path) = location(&uri, None)? else {
            return Err(FastIoError::InvalidArgument(format!(
                "columns are filled from local files only, not {uri}"
            )));
        };
        let contents = IpcContents::open(IpcSource::Path(&path), Some(&columns))?;
        contents.fill_columns(&mut places, &widths)
    })?;
    let nulls = nulls
        .into_iter()
        .map(|run| {
            let validity = PyBytes::new(py, run.validity.as_slice());
            (run.column, run.start, run.rows, validity)
        })
        .collect();
    Ok((arrays, nulls))
}
