//! The pure-Rust core of dagster-fastio: Arrow IPC files (Feather v2) encoded and
//! compressed in parallel, and decoded in parallel or zero-copy from memory maps; Parquet
//! files encoded and decoded column by column on every core.
//!
//! Nothing here knows about Python; `fastio-py` converts types and maps errors.
//!
//! Layers, each importing only those below it (the modules are private, so an import the
//! other way fails to compile unless this file re-exports the name):
//!
//! - `format`: what serves both formats (write options, one encoder type, opening a location,
//!   footers told apart by their last bytes, partition splits);
//! - `ipc` and `parquet`: one format each, never importing each other;
//! - `batch`: work on record batches both formats share (hash, statistics, compat, filters);
//! - `bytes`: reads by range wherever the bytes live, and sinks that publish whole;
//! - `store`: transport to object stores (S3, GCS, Azure, in-memory) through object_store;
//! - `error` and `pool`, which everything uses.
//!
//! `blob` stores opaque payloads (pickles) beside the tables, over `bytes` alone.

mod batch;
mod blob;
mod bytes;
mod error;
mod format;
mod ipc;
mod parquet;
mod pool;
mod store;

pub use batch::{hash_batches, ColumnFilter, Comparison, WriteStats};
pub use blob::{read_raw, read_zstd, write_zstd};
pub use bytes::{map_file, AtomicFile, Sink};
pub use error::{guarded, FastIoError, Result};
pub use format::{
    create_table_file, read_footer, read_table, read_table_batches, refusal, write_partitions,
    FileEncoder, FileFormat, Footer, KeyColumn, PartitionTarget, WriteOptions, WritePlan,
};
pub use ipc::{
    describe, describe_location, encode_to_vec, fill_width, Compression, EncodeOptions,
    IpcContents, IpcFileEncoder, IpcSource, LocalRead, NullRun, Summary,
};
pub use parquet::ParquetReadOptions;
pub use store::{list_below, Location, StoreOptions, UploadOptions};
