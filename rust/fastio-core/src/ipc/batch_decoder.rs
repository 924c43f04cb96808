//! Record batch and dictionary messages to arrays: arrow-ipc's `RecordBatchDecoder` over the
//! file's schema, dictionaries and projection, with compressed bodies inflated first.
//!
//! An uncompressed body is decoded where it lies (a memory map, a download), realigned by
//! arrow-ipc only when another writer left a buffer misaligned. A compressed body is
//! decompressed into a new aligned body ([`super::inflate`]) and decoded with alignment
//! required, so any hidden copy would be an error instead. Columns are validated by
//! [`super::validate`], which checks what arrow-ipc's own validation checks, faster.

use std::collections::HashMap;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_buffer::Buffer;
use arrow_data::UnsafeFlag;
use arrow_ipc::reader::{read_dictionary_impl, RecordBatchDecoder};
use arrow_ipc::{Block, Message, MessageHeader, MetadataVersion};
use arrow_schema::{ArrowError, SchemaRef};

use crate::error::{FastIoError, Result};
use crate::ipc::column_ranges::ColumnRanges;
use crate::ipc::inflate::{compact_batch, inflate_batch, inflate_dictionary};
use crate::ipc::validate::validate_column;

/// Decodes the batches of one file (or indexed stream).
pub(crate) struct BatchDecoder {
    /// The file's schema, before projection: messages list every column.
    schema: SchemaRef,
    version: MetadataVersion,
    projection: Option<Vec<usize>>,
    /// With a projection, which buffers of a message belong to its columns (None: every
    /// buffer, or a layout not worked out); only those are decompressed or, when `compact`,
    /// copied out of an uncompressed body.
    kept: Option<Vec<bool>>,
    compact: bool,
    dictionaries: HashMap<i64, ArrayRef>,
}

impl BatchDecoder {
    pub fn new(schema: SchemaRef, version: MetadataVersion) -> Self {
        BatchDecoder {
            schema,
            version,
            projection: None,
            kept: None,
            compact: false,
            dictionaries: HashMap::new(),
        }
    }

    pub fn with_projection(mut self, projection: Vec<usize>) -> Self {
        self.kept =
            ColumnRanges::new(&self.schema, &projection).map(|ranges| ranges.kept_buffers());
        self.projection = Some(projection);
        self
    }

    /// The file's schema, before projection, and the projected columns' indices in it.
    pub fn full_schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }

    /// Copies the projected columns of an uncompressed batch out of its message, so that they
    /// do not keep the whole message alive. Off where the message is a memory map (its
    /// untouched pages cost nothing) or already holds only those columns.
    pub fn compact_projections(&mut self, compact: bool) {
        self.compact = compact;
    }

    /// The message header of `bytes` (metadata then body), checked against the file's version
    /// as arrow-ipc's own file decoder checks it.
    fn message<'a>(&self, block: &Block, bytes: &'a Buffer) -> Result<Message<'a>> {
        let metadata_len = usize::try_from(block.metaDataLength())
            .ok()
            .filter(|len| *len <= bytes.len())
            .ok_or_else(|| corrupt("a block's metadata reaches past its message"))?;
        let message = crate::ipc::message::parse_message(&bytes.as_slice()[..metadata_len])?;
        // Old files may leave the footer's version unset.
        if self.version != MetadataVersion::V1 && message.version() != self.version {
            return Err(corrupt(
                "a message's metadata version differs from the file's",
            ));
        }
        Ok(message)
    }

    /// Loads the dictionary message `bytes` (its block `block`).
    pub fn read_dictionary(&mut self, block: &Block, bytes: &Buffer) -> Result<()> {
        let message = self.message(block, bytes)?;
        let dictionary = message
            .header_as_dictionary_batch()
            .ok_or_else(|| corrupt("a dictionary block holds another kind of message"))?;
        let body = bytes.slice(block.metaDataLength() as usize);
        let compressed = dictionary
            .data()
            .is_some_and(|data| data.compression().is_some());
        let result = if compressed {
            let inflated = inflate_dictionary(&dictionary, body.as_slice())?;
            read_dictionary_impl(
                &inflated.body,
                inflated.dictionary()?,
                &self.schema,
                &mut self.dictionaries,
                &message.version(),
                true,
                UnsafeFlag::new(),
            )
        } else {
            read_dictionary_impl(
                &body,
                dictionary,
                &self.schema,
                &mut self.dictionaries,
                &message.version(),
                false,
                UnsafeFlag::new(),
            )
        };
        result.map_err(|e| corrupt(format!("bad dictionary: {e}")))
    }

    /// Decodes the record batch message `bytes` (its block `block`); None for an empty
    /// message.
    pub fn read_record_batch(&self, block: &Block, bytes: &Buffer) -> Result<Option<RecordBatch>> {
        let message = self.message(block, bytes)?;
        match message.header_type() {
            MessageHeader::RecordBatch => {}
            MessageHeader::NONE => return Ok(None),
            other => {
                return Err(corrupt(format!(
                    "expected a record batch, found a {:?} message",
                    other.variant_name().unwrap_or("unknown")
                )))
            }
        }
        let batch = message
            .header_as_record_batch()
            .ok_or_else(|| corrupt("a record batch message has no header"))?;
        let body = bytes.slice(block.metaDataLength() as usize);
        let version = message.version();
        let kept = self.kept.as_deref();
        let decoded = if batch.compression().is_some() {
            let inflated = inflate_batch(&batch, body.as_slice(), kept)?;
            self.decode(&inflated.body, inflated.batch()?, &version, true)
        } else if let Some(kept) = kept.filter(|_| self.compact) {
            let compacted = compact_batch(&batch, body.as_slice(), kept)?;
            self.decode(&compacted.body, compacted.batch()?, &version, true)
        } else {
            self.decode(&body, batch, &version, false)
        };
        decoded.map(Some)
    }

    fn decode(
        &self,
        body: &Buffer,
        batch: arrow_ipc::RecordBatch<'_>,
        version: &MetadataVersion,
        require_alignment: bool,
    ) -> Result<RecordBatch> {
        RecordBatchDecoder::try_new(
            body,
            batch,
            self.schema.clone(),
            &self.dictionaries,
            version,
        )
        .and_then(|decoder| {
            let mut checked_here = UnsafeFlag::new();
            // Safety: every column is validated below, as arrow-ipc would validate it, before
            // the batch leaves this function; nothing reads its values before that.
            unsafe { checked_here.set(true) };
            let batch = decoder
                .with_projection(self.projection.as_deref())
                .with_require_alignment(require_alignment)
                .with_skip_validation(checked_here)
                .read_record_batch()?;
            for column in batch.columns() {
                // Unvalidated, arrow-ipc builds the batch without comparing these.
                if column.len() != batch.num_rows() {
                    return Err(ArrowError::InvalidArgumentError(format!(
                        "a column of {} rows in a batch of {} rows",
                        column.len(),
                        batch.num_rows()
                    )));
                }
                validate_column(&column.to_data())?;
            }
            Ok(batch)
        })
        .map_err(|e| corrupt(e.to_string()))
    }
}

fn corrupt(message: impl Into<String>) -> FastIoError {
    FastIoError::Corrupt(message.into())
}
