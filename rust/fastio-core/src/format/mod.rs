//! What serves both file formats a table is stored in: the format's name, the write options
//! of either, the encoder of each behind one type (so a sink and the code driving a write need
//! not know which one they feed), opening a location for reading or writing, a footer told
//! apart by its last bytes, and one table split into partition files.
//!
//! This layer stands above `ipc` and `parquet`, which never import each other nor it.

mod footer;
mod open;
mod options;
mod partitions;

use std::io::Write;
use std::str::FromStr;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};

use crate::batch::{InterruptCheck, WriteStats};
use crate::error::{FastIoError, Result};
use crate::ipc::IpcFileEncoder;
use crate::parquet::ParquetFileEncoder;

pub use footer::{read_footer, Footer};
pub use open::{create_table_file, read_table, read_table_batches};
pub use options::{refusal, FormatOptions, WriteOptions, WritePlan};
pub use partitions::{write_partitions, KeyColumn, PartitionTarget};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// The Arrow IPC file format (Feather v2).
    Ipc,
    Parquet,
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Ipc => "ipc",
            FileFormat::Parquet => "parquet",
        }
    }
}

impl FromStr for FileFormat {
    type Err = FastIoError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ipc" | "arrow" | "feather" => Ok(FileFormat::Ipc),
            "parquet" => Ok(FileFormat::Parquet),
            _ => Err(FastIoError::InvalidArgument(format!(
                "unknown format {s:?}: expected \"ipc\" or \"parquet\""
            ))),
        }
    }
}

/// An encoder of either format.
pub enum FileEncoder<W: Write + Send> {
    Ipc(IpcFileEncoder<W>),
    Parquet(ParquetFileEncoder<W>),
}

impl<W: Write + Send> FileEncoder<W> {
    pub fn try_new(sink: W, schema: SchemaRef, options: &FormatOptions) -> Result<Self> {
        Ok(match options {
            FormatOptions::Ipc(options) => {
                FileEncoder::Ipc(IpcFileEncoder::try_new(sink, schema, options)?)
            }
            FormatOptions::Parquet(options) => {
                FileEncoder::Parquet(ParquetFileEncoder::try_new(sink, schema, options)?)
            }
        })
    }

    pub fn with_interrupt_check(self, check: InterruptCheck) -> Self {
        match self {
            FileEncoder::Ipc(encoder) => FileEncoder::Ipc(encoder.with_interrupt_check(check)),
            FileEncoder::Parquet(encoder) => {
                FileEncoder::Parquet(encoder.with_interrupt_check(check))
            }
        }
    }

    pub fn schema(&self) -> &SchemaRef {
        match self {
            FileEncoder::Ipc(encoder) => encoder.schema(),
            FileEncoder::Parquet(encoder) => encoder.schema(),
        }
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            FileEncoder::Ipc(encoder) => encoder.write(batch),
            FileEncoder::Parquet(encoder) => encoder.write(batch),
        }
    }

    pub fn write_all(
        &mut self,
        reader: impl Iterator<Item = Result<RecordBatch, ArrowError>>,
    ) -> Result<()> {
        match self {
            FileEncoder::Ipc(encoder) => encoder.write_all(reader),
            FileEncoder::Parquet(encoder) => encoder.write_all(reader),
        }
    }

    pub fn finish(self) -> Result<(W, WriteStats)> {
        match self {
            FileEncoder::Ipc(encoder) => encoder.finish(),
            FileEncoder::Parquet(encoder) => encoder.finish(),
        }
    }

    pub fn failed(&self) -> bool {
        match self {
            FileEncoder::Ipc(encoder) => encoder.failed(),
            FileEncoder::Parquet(encoder) => encoder.failed(),
        }
    }
}
