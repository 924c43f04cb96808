//! One table covering several partitions, split by its key columns into one file each.

use fastio_core::{FastIoError, KeyColumn, PartitionTarget};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use std::collections::HashMap;

use crate::args::{location, PyStorageOptions};
use crate::errors::detached;
use crate::write::{python_signals, WriteStats};
use crate::write_options::PyWriteOptions;

/// One key column, as Python gives it: `(column, keys)` for values, `(column, starts, ends)`
/// for time windows in microseconds.
#[derive(FromPyObject)]
pub enum PyKeyColumn {
    Values(String, Vec<String>),
    Windows(String, Vec<i64>, Vec<i64>),
}

impl From<PyKeyColumn> for KeyColumn {
    fn from(key: PyKeyColumn) -> Self {
        match key {
            PyKeyColumn::Values(column, keys) => KeyColumn::Values { column, keys },
            PyKeyColumn::Windows(column, starts, ends) => KeyColumn::Windows {
                column,
                starts,
                ends,
            },
        }
    }
}

/// A target's own footer entries, as Python gives them.
type PyFooterEntries = Option<HashMap<String, String>>;

/// Splits an Arrow stream covering several partitions into one file per partition (see
/// `fastio_core::write_partitions`): `targets` are `(uri, index per key column, footer
/// entries)`. Returns each target's stats, in order.
#[pyfunction]
#[pyo3(signature = (data, keys, targets, options, storage_options = None))]
pub fn write_partitions(
    py: Python<'_>,
    data: AnyRecordBatch,
    keys: Vec<PyKeyColumn>,
    targets: Vec<(String, Vec<u32>, PyFooterEntries)>,
    options: PyWriteOptions,
    storage_options: PyStorageOptions,
) -> PyResult<Vec<WriteStats>> {
    let plan = options.plan(py)?;
    let reader = data.into_reader()?;
    let keys: Vec<KeyColumn> = keys.into_iter().map(KeyColumn::from).collect();
    detached(py, move || {
        let targets = targets
            .into_iter()
            .map(|(uri, indices, entries)| {
                let mut footer_metadata: Vec<_> = entries.unwrap_or_default().into_iter().collect();
                footer_metadata.sort();
                Ok(PartitionTarget {
                    location: location(&uri, storage_options.clone())?,
                    indices,
                    footer_metadata,
                })
            })
            .collect::<Result<Vec<_>, FastIoError>>()?;
        let written =
            fastio_core::write_partitions(reader, &keys, targets, &plan, &mut python_signals)?;
        Ok(written
            .into_iter()
            .map(|(stats, parts)| WriteStats::new(stats, parts))
            .collect())
    })
}
