//! Arrow IPC decoding from memory: parallel for files, sequential for streams, zero-copy when
//! the batches are uncompressed.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_buffer::Buffer;
use arrow_ipc::convert::fb_to_schema;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::{Block, MessageHeader, MetadataVersion};
use arrow_schema::{ArrowError, Schema, SchemaRef};
use rayon::prelude::*;

use crate::bytes::{map_file, LocalFile, RangeRead};
use crate::error::{guarded, FastIoError, Result};
use crate::ipc::batch_decoder::BatchDecoder;
use crate::ipc::layout::{self, block_range, check_block, footer_len, footer_start, opens_a_file};
use crate::ipc::message::{check_byte_order, parse_message};
use crate::ipc::{corrupt, truncated, LocalRead, FILE_HEADER_LEN, FILE_TRAILER_LEN};

/// Where the bytes to decode live.
pub enum IpcSource<'a> {
    /// Bytes already in memory (a Python buffer, a download).
    Memory(Buffer),
    /// A local file, read into memory: safe whatever another program does to the file.
    Path(&'a Path),
    /// A local file, memory-mapped: uncompressed columns point into its pages (zero-copy),
    /// at the risk described in `bytes::local`.
    MappedPath(&'a Path),
}

impl<'a> IpcSource<'a> {
    /// A local file, read or mapped as `local` says.
    pub(crate) fn local(path: &'a Path, local: LocalRead) -> Self {
        match local {
            LocalRead::Copy => IpcSource::Path(path),
            LocalRead::Map => IpcSource::MappedPath(path),
        }
    }
}

pub(super) enum Layout {
    /// The file format: a footer indexes every batch, so batches decode independently.
    File {
        decoder: BatchDecoder,
        blocks: Vec<Block>,
        /// End of the batch area; no block may reach past it.
        data_end: usize,
    },
    /// A stream that replaces a dictionary mid-way cannot be indexed like a file; it is
    /// decoded front to back when opened.
    Stream { batches: Vec<RecordBatch> },
}

/// An opened Arrow IPC file or stream, with the column projection already applied.
pub struct IpcContents {
    /// A local IPC file is read block by block: a compressed batch's bytes are only needed
    /// until it is decompressed, so the file is never held whole in memory.
    pub(super) bytes: Arc<dyn RangeRead>,
    schema: SchemaRef,
    pub(super) layout: Layout,
}

impl IpcContents {
    /// Opens `source`, keeping only `columns` (by name, in the given order) when set.
    pub fn open(source: IpcSource<'_>, columns: Option<&[String]>) -> Result<Self> {
        // Blocks read from a file are ours alone: a projection copies its columns out of them.
        // A caller's buffer or a memory map is left where it is.
        let compact = matches!(source, IpcSource::Path(_));
        let bytes: Arc<dyn RangeRead> = match source {
            IpcSource::Memory(buffer) => Arc::new(buffer),
            IpcSource::Path(path) => {
                let file = LocalFile::open(path)?;
                let is_file = file.size() >= (FILE_HEADER_LEN + FILE_TRAILER_LEN) as u64
                    && opens_a_file(file.read_range(0..FILE_HEADER_LEN as u64)?.as_slice());
                if is_file {
                    Arc::new(file)
                } else {
                    // A stream has no index: it is read whole.
                    Arc::new(file.read_all()?)
                }
            }
            IpcSource::MappedPath(path) => Arc::new(map_file(path)?),
        };
        let mut contents = guarded(
            |panic| FastIoError::Corrupt(format!("decoder failed: {panic}")),
            || Self::open_bytes(bytes, columns),
        )?;
        if let Layout::File { decoder, .. } = &mut contents.layout {
            decoder.compact_projections(compact);
        }
        Ok(contents)
    }

    fn open_bytes(bytes: Arc<dyn RangeRead>, columns: Option<&[String]>) -> Result<Self> {
        let size = bytes.size() as usize;
        if size == 0 {
            return Err(FastIoError::Corrupt("the input is empty".into()));
        }
        let head = bytes.read_range(0..size.min(FILE_HEADER_LEN) as u64)?;
        if opens_a_file(head.as_slice()) {
            Self::open_file(bytes, columns)
        } else {
            // A stream is only ever opened from memory (see `open`): this reads no file.
            Self::open_stream(bytes.read_range(0..size as u64)?, columns)
        }
    }

    fn open_file(bytes: Arc<dyn RangeRead>, columns: Option<&[String]>) -> Result<Self> {
        let len = bytes.size() as usize;
        if len < FILE_HEADER_LEN + FILE_TRAILER_LEN {
            return Err(truncated("shorter than an empty Arrow file"));
        }
        let trailer = bytes.read_range((len - FILE_TRAILER_LEN) as u64..len as u64)?;
        let footer_len = footer_len(trailer.as_slice())?;
        let footer_start = footer_start(len as u64, footer_len as u64)? as usize;
        let footer = bytes.read_range(footer_start as u64..(footer_start + footer_len) as u64)?;
        let FileFooter {
            mut decoder,
            schema,
            dictionaries,
            batches,
            ..
        } = FileFooter::parse(footer.as_slice(), columns)?;
        for block in &dictionaries {
            let message = block_buffer(bytes.as_ref(), block, footer_start)?;
            load_dictionary(&mut decoder, block, &message)?;
        }
        Ok(IpcContents {
            bytes,
            schema,
            layout: Layout::File {
                decoder,
                blocks: batches,
                data_end: footer_start,
            },
        })
    }

    fn open_stream(buffer: Buffer, columns: Option<&[String]>) -> Result<Self> {
        let index = layout::index_stream(buffer.as_slice())?;
        if let Some(contents) = Self::open_indexed_stream(&buffer, &index, columns)? {
            return Ok(contents);
        }
        let mut decoder = StreamDecoder::new();
        let mut rest = buffer.clone();
        let mut batches = Vec::new();
        while !rest.is_empty() {
            let before = rest.len();
            if let Some(batch) = decoder
                .decode(&mut rest)
                .map_err(|e| corrupt(e.to_string()))?
            {
                batches.push(batch);
            }
            if rest.len() == before {
                return Err(corrupt("the stream decoder made no progress"));
            }
        }
        decoder.finish().map_err(|e| truncated(e.to_string()))?;
        let schema = decoder
            .schema()
            .ok_or_else(|| corrupt("neither an Arrow IPC file nor a stream"))?;
        let (schema, batches) = match projection(&schema, columns)? {
            Some(indices) => {
                let batches = batches
                    .iter()
                    .map(|batch| batch.project(&indices))
                    .collect::<Result<Vec<_>, ArrowError>>()?;
                (Arc::new(schema.project(&indices)?), batches)
            }
            None => (schema, batches),
        };
        Ok(IpcContents {
            bytes: Arc::new(buffer),
            schema,
            layout: Layout::Stream { batches },
        })
    }

    /// A whole stream whose dictionaries all precede its first batch is laid out like a file:
    /// its batches then decode lazily and in parallel. Anything else (a dictionary replaced
    /// mid-stream, a truncated stream) goes through the sequential stream decoder.
    fn open_indexed_stream(
        buffer: &Buffer,
        index: &layout::StreamIndex,
        columns: Option<&[String]>,
    ) -> Result<Option<Self>> {
        let Some((first, rest)) = index.messages.split_first() else {
            return Ok(None);
        };
        if !index.complete || first.header != MessageHeader::Schema {
            return Ok(None);
        }
        let message =
            parse_message(&buffer.as_slice()[first.offset..first.offset + first.metadata_len])?;
        let ipc_schema = message
            .header_as_schema()
            .ok_or_else(|| corrupt("the stream's schema message has no schema"))?;
        let full_schema = Arc::new(fb_to_schema(ipc_schema));
        let (mut decoder, schema, _) = projected_decoder(full_schema, message.version(), columns)?;
        let mut blocks = Vec::new();
        for message in rest {
            let block = Block::new(
                message.offset as i64,
                message.metadata_len as i32,
                message.body_len as i64,
            );
            match message.header {
                MessageHeader::RecordBatch => blocks.push(block),
                MessageHeader::DictionaryBatch if blocks.is_empty() => {
                    let bytes = block_buffer(buffer, &block, buffer.len())?;
                    load_dictionary(&mut decoder, &block, &bytes)?;
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(IpcContents {
            bytes: Arc::new(buffer.clone()),
            schema,
            layout: Layout::File {
                decoder,
                blocks,
                data_end: buffer.len(),
            },
        }))
    }

    /// The schema of the decoded batches (after projection).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Size of the encoded input in bytes.
    pub fn encoded_len(&self) -> usize {
        self.bytes.size() as usize
    }

    pub fn num_batches(&self) -> usize {
        match &self.layout {
            Layout::File { blocks, .. } => blocks.len(),
            Layout::Stream { batches } => batches.len(),
        }
    }

    /// Decodes batch `index`; bad bytes (and any panic while decoding them) become `Corrupt`.
    pub fn read_batch(&self, index: usize) -> Result<RecordBatch> {
        match &self.layout {
            Layout::Stream { batches } => Ok(batches[index].clone()),
            Layout::File {
                decoder,
                blocks,
                data_end,
            } => {
                let block = &blocks[index];
                let message = block_buffer(self.bytes.as_ref(), block, *data_end)?;
                decode_batch(decoder, index, block, &message)
            }
        }
    }

    /// Decodes every batch, in parallel on the rayon pool, keeping their order.
    pub fn read_all(&self) -> Result<Vec<RecordBatch>> {
        crate::pool::pool().install(|| {
            (0..self.num_batches())
                .into_par_iter()
                .map(|index| self.read_batch(index))
                .collect()
        })
    }

    /// A lazy reader that decodes one batch at a time on the calling thread.
    pub fn into_reader(self) -> IpcBatchReader {
        IpcBatchReader {
            contents: self,
            next: 0,
        }
    }
}

/// Streams the batches of an [`IpcContents`] in order.
pub struct IpcBatchReader {
    contents: IpcContents,
    next: usize,
}

impl Iterator for IpcBatchReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.contents.num_batches() {
            return None;
        }
        let index = self.next;
        self.next += 1;
        Some(
            self.contents
                .read_batch(index)
                .map_err(|e| ArrowError::IpcError(e.to_string())),
        )
    }
}

impl RecordBatchReader for IpcBatchReader {
    fn schema(&self) -> SchemaRef {
        self.contents.schema()
    }
}

/// A parsed file footer: a decoder for the requested columns (its dictionaries still to be
/// loaded), the projected schema, and where the dictionaries and batches are.
pub(crate) struct FileFooter {
    pub decoder: BatchDecoder,
    pub schema: SchemaRef,
    pub dictionaries: Vec<Block>,
    pub batches: Vec<Block>,
    /// The file's schema before projection, and the projected columns' indices in it.
    pub full_schema: SchemaRef,
    pub projection: Option<Vec<usize>>,
    /// The footer's key-value pairs (our writer records the row count, codec, hash there).
    pub metadata: Vec<(String, String)>,
}

impl FileFooter {
    /// Parses the footer flatbuffer, without its length and magic.
    pub(crate) fn parse(footer: &[u8], columns: Option<&[String]>) -> Result<Self> {
        let footer = arrow_ipc::root_as_footer(footer)
            .map_err(|e| corrupt(format!("unreadable footer: {e}")))?;
        let ipc_schema = footer
            .schema()
            .ok_or_else(|| corrupt("the footer has no schema"))?;
        check_byte_order(ipc_schema)?;
        let full_schema = Arc::new(fb_to_schema(ipc_schema));
        let (decoder, schema, projection) =
            projected_decoder(full_schema.clone(), footer.version(), columns)?;
        let dictionaries = footer
            .dictionaries()
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let batches = footer
            .recordBatches()
            .ok_or_else(|| corrupt("the footer lists no record batches"))?
            .iter()
            .copied()
            .collect();
        let metadata = footer
            .custom_metadata()
            .into_iter()
            .flatten()
            .filter_map(|pair| Some((pair.key()?.to_string(), pair.value()?.to_string())))
            .collect();
        Ok(FileFooter {
            decoder,
            schema,
            dictionaries,
            batches,
            full_schema,
            projection,
            metadata,
        })
    }
}

/// Loads the dictionary message `block` points to into `decoder`.
pub(crate) fn load_dictionary(
    decoder: &mut BatchDecoder,
    block: &Block,
    message: &Buffer,
) -> Result<()> {
    check_block(message.as_slice(), block)?;
    decoder.read_dictionary(block, message)
}

/// Decodes batch `index` from its message; bad bytes (and any panic while decoding them)
/// become `Corrupt`.
pub(crate) fn decode_batch(
    decoder: &BatchDecoder,
    index: usize,
    block: &Block,
    message: &Buffer,
) -> Result<RecordBatch> {
    guarded(
        |panic| corrupt(format!("batch {index} failed to decode: {panic}")),
        || {
            check_block(message.as_slice(), block)?;
            decoder
                .read_record_batch(block, message)
                .map_err(|e| match e {
                    FastIoError::Corrupt(cause) => corrupt(format!("batch {index}: {cause}")),
                    other => other,
                })
        },
    )?
    .ok_or_else(|| corrupt(format!("batch {index} is not a record batch")))
}

/// A file decoder for `schema` that decodes only `columns`, with the projected schema and the
/// projected columns' indices (None when every column is read).
fn projected_decoder(
    schema: SchemaRef,
    version: MetadataVersion,
    columns: Option<&[String]>,
) -> Result<(BatchDecoder, SchemaRef, Option<Vec<usize>>)> {
    let decoder = BatchDecoder::new(schema.clone(), version);
    let indices = projection(&schema, columns)?;
    Ok(match &indices {
        Some(indices) => (
            decoder.with_projection(indices.clone()),
            Arc::new(schema.project(indices)?),
            Some(indices.clone()),
        ),
        None => (decoder, schema, None),
    })
}

fn projection(schema: &Schema, columns: Option<&[String]>) -> Result<Option<Vec<usize>>> {
    let Some(columns) = columns else {
        return Ok(None);
    };
    columns
        .iter()
        .map(|name| {
            schema.index_of(name).map_err(|_| {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                FastIoError::InvalidArgument(format!(
                    "no column named {name:?}; the columns are {names:?}"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

pub(super) fn block_buffer(
    bytes: &dyn RangeRead,
    block: &Block,
    data_end: usize,
) -> Result<Buffer> {
    bytes.read_range(block_range(block, data_end as u64)?)
}
