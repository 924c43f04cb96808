//! The pure-Rust core of dagster-fastio: Arrow IPC files (Feather v2) encoded and
//! compressed in parallel, and decoded in parallel or zero-copy from memory maps; Parquet
//! files encoded and decoded column by column on every core.
//!
//! Objects in S3, GCS and Azure go through object_store (see `store`).
//!
//! Nothing here knows about Python; `fastio-py` converts types and maps errors.

mod batch_decoder;
mod batch_header;
pub mod blob;
mod codec;
pub mod column_stats;
pub mod compat;
mod compress;
pub mod content_hash;
pub mod decode;
pub mod describe;
pub mod encode;
pub mod error;
pub mod file_format;
pub mod footer;
mod guard;
mod inflate;
mod ipc_format;
pub mod local;
pub mod open;
pub mod options;
pub mod parquet_read;
pub mod parquet_write;
pub mod partition_split;
pub mod pool;
pub mod rechunk;
pub mod row_filter;
pub mod sink;
pub mod store;
mod validate;

pub use decode::{IpcContents, IpcSource};
pub use encode::{encode_to_vec, IpcFileEncoder, WriteStats};
pub use error::{FastIoError, Result};
pub use options::{Compression, EncodeOptions};
pub use sink::{AtomicFile, Sink};
pub use store::{Location, StoreOptions, UploadOptions};
