//! Work on record batches that both file formats share: re-chunking, type compatibility,
//! the content hash, column statistics, row filters, and what a write measured.

pub(crate) mod column_stats;
pub(crate) mod compat;
pub(crate) mod content_hash;
pub(crate) mod keys;
pub(crate) mod rechunk;
pub(crate) mod row_filter;
pub(crate) mod write;

pub use content_hash::hash_batches;
pub(crate) use keys::is_file_entry;
#[cfg(test)]
pub(crate) use keys::WRITER_METADATA_KEY;
pub use row_filter::{ColumnFilter, Comparison};
pub use write::{InterruptCheck, WriteStats};
