//! A Parquet file's metadata, read from its last bytes, and the Arrow schema it decodes to.

use std::sync::Arc;

use arrow_buffer::Buffer;
use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData, ParquetMetaDataReader};

use crate::batch::is_file_entry;
use crate::bytes::{RangeRead, TAIL_BYTES};
use crate::error::{guarded, FastIoError, Result};
use crate::parquet::{read_error, unreadable, PARQUET_MAGIC};

/// What a Parquet file's footer says, without reading any row group.
pub struct ParquetFooter {
    pub schema: SchemaRef,
    /// The file's key-value pairs, except the encoded Arrow schema.
    pub metadata: Vec<(String, String)>,
    pub rows: u64,
    pub row_groups: usize,
}

/// The footer of the Parquet file in `source`, whose last bytes (`tail`) were read already;
/// one more range is read when the metadata is longer than the tail.
pub(crate) fn footer_from_tail(source: &dyn RangeRead, tail: &Buffer) -> Result<ParquetFooter> {
    let metadata = decode_metadata(source, tail)?;
    let file = metadata.metadata().file_metadata();
    let pairs = file
        .key_value_metadata()
        .map(|pairs| {
            pairs
                .iter()
                .filter(|pair| pair.key != parquet::arrow::ARROW_SCHEMA_META_KEY)
                .map(|pair| (pair.key.clone(), pair.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    Ok(ParquetFooter {
        schema: Arc::new(writer_schema(&metadata)),
        metadata: pairs,
        rows: file.num_rows().max(0) as u64,
        row_groups: metadata.metadata().num_row_groups(),
    })
}

/// The metadata of the Parquet file in `source`, from its last bytes.
pub(crate) fn read_metadata(source: &dyn RangeRead) -> Result<ArrowReaderMetadata> {
    let size = source.size();
    let tail = source.read_range(size.saturating_sub(TAIL_BYTES)..size)?;
    decode_metadata(source, &tail)
}

/// The file's metadata and the Arrow schema it decodes to, from its last bytes (`tail`).
fn decode_metadata(source: &dyn RangeRead, tail: &Buffer) -> Result<ArrowReaderMetadata> {
    let bytes = metadata_bytes(source, tail)?;
    guarded(unreadable, || {
        let metadata = ParquetMetaDataReader::decode_metadata(&bytes).map_err(read_error)?;
        let metadata = without_misplaced_dictionary_offsets(metadata)?;
        ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
            .map_err(read_error)
    })
}

/// `metadata` with every dictionary page offset that cannot be where a column chunk starts
/// dropped, so the chunk is read from its first data page.
///
/// Some writers record the offset as 0 (parquet-mr and Impala for chunks without a
/// dictionary, others with the dictionary page written first at the data page offset); a
/// chunk's pages are read in order from where it starts, and a dictionary page found first is
/// taken as the dictionary wherever it is. Parquet C++ (so pyarrow) starts a chunk at the
/// dictionary page offset only when it lies after the file's magic and before the first data
/// page; this does the same.
fn without_misplaced_dictionary_offsets(metadata: ParquetMetaData) -> Result<ParquetMetaData> {
    let misplaced = |chunk: &ColumnChunkMetaData| {
        chunk.dictionary_page_offset().is_some_and(|offset| {
            offset < PARQUET_MAGIC.len() as i64 || offset >= chunk.data_page_offset()
        })
    };
    let any = metadata
        .row_groups()
        .iter()
        .any(|group| group.columns().iter().any(misplaced));
    if !any {
        return Ok(metadata);
    }
    let mut builder = metadata.into_builder();
    let groups = builder
        .take_row_groups()
        .into_iter()
        .map(|group| {
            let columns = group
                .columns()
                .iter()
                .map(|chunk| match misplaced(chunk) {
                    true => chunk
                        .clone()
                        .into_builder()
                        .set_dictionary_page_offset(None)
                        .build(),
                    false => Ok(chunk.clone()),
                })
                .collect::<parquet::errors::Result<Vec<_>>>()?;
            group.into_builder().set_column_metadata(columns).build()
        })
        .collect::<parquet::errors::Result<Vec<_>>>()
        .map_err(read_error)?;
    Ok(builder.set_row_groups(groups).build())
}

/// The thrift-encoded metadata: before the last 8 bytes (its length and the magic).
fn metadata_bytes(source: &dyn RangeRead, tail: &Buffer) -> Result<Buffer> {
    let size = source.size();
    if size < 12 || tail.len() < 8 {
        return Err(FastIoError::CorruptParquet(
            "too short to be a Parquet file".into(),
        ));
    }
    let trailer = &tail[tail.len() - 8..];
    if &trailer[4..] != PARQUET_MAGIC {
        return Err(FastIoError::CorruptParquet(
            "not a Parquet file: it does not end with PAR1 (truncated, or another format)".into(),
        ));
    }
    let length = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes")) as u64;
    if length + 12 > size {
        return Err(FastIoError::CorruptParquet(format!(
            "the footer claims {length} bytes of metadata in a file of {size}"
        )));
    }
    let start = size - 8 - length;
    let tail_start = size - tail.len() as u64;
    if start >= tail_start {
        Ok(tail.slice_with_length((start - tail_start) as usize, length as usize))
    } else {
        source.read_range(start..size - 8)
    }
}

/// The schema the writer gave: the fields arrow-rs restores (from ARROW:schema when there),
/// with the Arrow schema's own metadata rather than every key-value pair of the file, so a
/// table read back and written again does not carry the old file's row count or hash.
pub(crate) fn writer_schema(metadata: &ArrowReaderMetadata) -> Schema {
    let decoded = metadata.schema();
    let embedded = metadata
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|pairs| {
            pairs
                .iter()
                .find(|pair| pair.key == parquet::arrow::ARROW_SCHEMA_META_KEY)
        });
    match embedded {
        Some(_) => {
            let mut own = decoded.metadata().clone();
            let file_pairs = metadata.metadata().file_metadata().key_value_metadata();
            // The file's pairs were merged in by arrow-rs; keep those the Arrow schema itself
            // carried (pyarrow and this writer both repeat "pandas" in the two places).
            for pair in file_pairs.into_iter().flatten() {
                if is_file_entry(&pair.key) {
                    own.remove(&pair.key);
                }
            }
            own.remove(parquet::arrow::ARROW_SCHEMA_META_KEY);
            Schema::new_with_metadata(decoded.fields().clone(), own)
        }
        None => decoded.as_ref().clone(),
    }
}
