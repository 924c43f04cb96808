//! Opening a table file at a location, local or in a store, for reading or writing, in either
//! format.

use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};

use crate::batch::row_filter::{filter_rows, ColumnFilter};
use crate::bytes::Sink;
use crate::error::Result;
use crate::format::{FileEncoder, FileFormat, WritePlan};
use crate::ipc::{self, LocalRead};
use crate::parquet::{self, ParquetContents, ParquetReadOptions};
use crate::store::Location;

/// An encoder writing to `location` as `plan` says, where the file appears only once it is
/// committed.
pub fn create_table_file(
    location: Location,
    schema: SchemaRef,
    plan: &WritePlan,
) -> Result<FileEncoder<Sink>> {
    let sink = Sink::create(location, plan.upload, plan.fsync)?;
    FileEncoder::try_new(sink, schema, &plan.format)
}

/// The columns an IPC read decodes so that `filters` can be applied: the requested ones, then
/// any a filter names that is not among them.
fn with_filter_columns(
    columns: Option<&[String]>,
    filters: &[ColumnFilter],
) -> Option<Vec<String>> {
    let mut decoded = columns?.to_vec();
    for filter in filters {
        if !decoded.contains(&filter.column) {
            decoded.push(filter.column.clone());
        }
    }
    Some(decoded)
}

/// A batch filtered, then cut back to the first `keep` columns (those asked for).
fn filtered(
    batch: &RecordBatch,
    filters: &[ColumnFilter],
    keep: Option<usize>,
) -> Result<RecordBatch> {
    let batch = filter_rows(batch, filters)?;
    match keep {
        Some(keep) if keep < batch.num_columns() => {
            Ok(batch.project(&(0..keep).collect::<Vec<_>>())?)
        }
        _ => Ok(batch),
    }
}

/// Every batch of the table file at `location` in `format`, only `columns` when set, only the
/// rows passing `filters` (a Parquet file's row groups ruled out by their statistics are never
/// read). A local IPC file is read as `local` says, a Parquet file as `parquet_options`
/// says.
pub fn read_table(
    location: &Location,
    columns: Option<&[String]>,
    local: LocalRead,
    format: FileFormat,
    filters: &[ColumnFilter],
    parquet_options: ParquetReadOptions,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    match format {
        FileFormat::Parquet => parquet::read_all(location, columns, filters, parquet_options),
        FileFormat::Ipc if filters.is_empty() => ipc::read_all(location, columns, local),
        FileFormat::Ipc => {
            let decoded = with_filter_columns(columns, filters);
            let (schema, batches) = ipc::read_all(location, decoded.as_deref().or(columns), local)?;
            let keep = columns.map(<[String]>::len);
            let batches = batches
                .iter()
                .map(|batch| filtered(batch, filters, keep))
                .collect::<Result<Vec<_>>>()?;
            let schema = match keep {
                Some(keep) => Arc::new(schema.project(&(0..keep).collect::<Vec<_>>())?),
                None => schema,
            };
            Ok((schema, batches))
        }
    }
}

/// A reader of the table file at `location` that decodes (and for a store object, downloads)
/// one batch (Parquet: one row group) at a time.
pub fn read_table_batches(
    location: Location,
    columns: Option<&[String]>,
    local: LocalRead,
    format: FileFormat,
    filters: &[ColumnFilter],
    parquet_options: ParquetReadOptions,
) -> Result<Box<dyn RecordBatchReader + Send>> {
    match format {
        FileFormat::Parquet => Ok(Box::new(
            ParquetContents::open(&location, columns, filters, parquet_options)?.into_reader(),
        )),
        FileFormat::Ipc if filters.is_empty() => ipc::read_batches(location, columns, local),
        FileFormat::Ipc => {
            let decoded = with_filter_columns(columns, filters);
            let inner = ipc::read_batches(location, decoded.as_deref().or(columns), local)?;
            let keep = columns.map(<[String]>::len);
            let schema = match keep {
                Some(keep) => Arc::new(inner.schema().project(&(0..keep).collect::<Vec<_>>())?),
                None => inner.schema(),
            };
            let filters = filters.to_vec();
            let batches = inner.map(move |batch| {
                batch.and_then(|batch| {
                    filtered(&batch, &filters, keep)
                        .map_err(|e| ArrowError::ExternalError(Box::new(e)))
                })
            });
            Ok(Box::new(RecordBatchIterator::new(batches, schema)))
        }
    }
}
