//! Reads from a store: the footer first, then the batches' byte ranges, several requests in
//! flight, each decoded as soon as it arrives while later ones are still downloading.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_buffer::{Buffer, MutableBuffer};
use arrow_ipc::Block;
use arrow_schema::{ArrowError, SchemaRef};
use rayon::prelude::*;
use tokio::runtime::Runtime;

use crate::bytes::TAIL_BYTES;
use crate::error::{guarded, Result};
use crate::ipc::batch_decoder::BatchDecoder;
use crate::ipc::column_ranges::ColumnRanges;
use crate::ipc::layout::{block_range, footer_len, footer_start};
use crate::ipc::reader::{decode_batch, load_dictionary, FileFooter};
use crate::ipc::{corrupt, IpcContents, IpcSource, ARROW_FILE_MAGIC, FILE_TRAILER_LEN};
use crate::store::{
    download, fetch_range, join, retry_if_changed, runtime, Download, RemoteObject,
    DEFAULT_FETCH_CONCURRENCY, REQUEST_BYTES,
};

/// An object opened for reading.
pub(crate) enum RemoteContents {
    /// An Arrow IPC file, read batch range by batch range.
    File(RemoteFile),
    /// A stream, or an object small enough to have arrived whole with the footer.
    Whole(IpcContents),
}

/// A file in a store whose footer and dictionaries are loaded.
pub(crate) struct RemoteFile {
    target: RemoteObject,
    runtime: Arc<Runtime>,
    decoder: Arc<BatchDecoder>,
    schema: SchemaRef,
    blocks: Arc<Vec<Block>>,
    concurrency: usize,
    /// Set when only some columns are read and the schema tells which buffers are theirs:
    /// each batch then downloads its header and those columns' byte ranges only.
    columns_only: Option<Arc<ColumnRanges>>,
}

impl RemoteContents {
    /// Fetches the footer (and dictionaries) of `target`, keeping only `columns` when set.
    pub fn open(target: RemoteObject, columns: Option<&[String]>) -> Result<Self> {
        let concurrency = DEFAULT_FETCH_CONCURRENCY;
        let runtime = runtime()?;
        // The size comes first: a suffix range longer than the object is an error on some
        // S3 implementations, where the HTTP rules say it returns the whole object. The HEAD
        // also pins the version that every later request of this read must come from.
        let (target, size) = target.pin()?;
        if size == 0 {
            return Err(corrupt(format!("{} is empty", target.uri)));
        }
        let tail_start = size.saturating_sub(TAIL_BYTES);
        let tail = fetch_range(&runtime, &target, tail_start..size, 1)?;
        if tail_start == 0 {
            return open_whole(tail, columns).map(RemoteContents::Whole);
        }
        if !tail.ends_with(ARROW_FILE_MAGIC) {
            // A stream has no index: it is read whole, in concurrent ranges.
            let whole = fetch_range(&runtime, &target, 0..size, concurrency)?;
            return open_whole(whole, columns).map(RemoteContents::Whole);
        }
        let trailer_start = tail.len() - FILE_TRAILER_LEN;
        let footer_len = footer_len(&tail[trailer_start..])? as u64;
        let data_end = footer_start(size, footer_len)?;
        let footer = if footer_len as usize <= trailer_start {
            tail.slice_with_length(trailer_start - footer_len as usize, footer_len as usize)
        } else {
            fetch_range(&runtime, &target, data_end..data_end + footer_len, 1)?
        };
        let FileFooter {
            mut decoder,
            schema,
            dictionaries,
            batches,
            full_schema,
            projection,
            ..
        } = guarded(
            |panic| corrupt(format!("unreadable footer: {panic}")),
            || FileFooter::parse(footer.as_slice(), columns),
        )?;
        let columns_only = projection
            .as_deref()
            .and_then(|indices| ColumnRanges::new(&full_schema, indices))
            .map(Arc::new);
        for block in &dictionaries {
            let range = block_range(block, data_end)?;
            let message = fetch_range(&runtime, &target, range, 1)?;
            guarded(
                |panic| corrupt(format!("bad dictionary: {panic}")),
                || load_dictionary(&mut decoder, &rebased(block), &message),
            )?;
        }
        for block in &batches {
            block_range(block, data_end)?;
        }
        Ok(RemoteContents::File(RemoteFile {
            target,
            runtime,
            decoder: Arc::new(decoder),
            schema,
            blocks: Arc::new(batches),
            concurrency: concurrency.max(1),
            columns_only,
        }))
    }

    /// Opens and reads all of `target`, from one version: when another writer replaces the
    /// object during the read, the read starts again (see [`retry_if_changed`]).
    pub fn read_whole(
        target: &RemoteObject,
        columns: Option<&[String]>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        retry_if_changed(|| {
            let contents = Self::open(target.clone(), columns)?;
            let schema = contents.schema();
            Ok((schema, contents.read_all()?))
        })
    }

    pub fn schema(&self) -> SchemaRef {
        match self {
            RemoteContents::File(file) => file.schema.clone(),
            RemoteContents::Whole(contents) => contents.schema(),
        }
    }

    /// Every batch, in order: requests overlap, and each group of batches is decoded in
    /// parallel as it arrives while the next ones download.
    pub fn read_all(self) -> Result<Vec<RecordBatch>> {
        match self {
            RemoteContents::Whole(contents) => contents.read_all(),
            RemoteContents::File(file) => {
                let mut fetcher = file.fetcher(file.concurrency);
                let mut batches = Vec::with_capacity(file.blocks.len());
                while let Some((group, message)) = fetcher.next_group()? {
                    let decoded: Result<Vec<_>> = crate::pool::pool().install(|| {
                        group
                            .clone()
                            .into_par_iter()
                            .map(|index| file.decode(index, &message, group.start))
                            .collect()
                    });
                    batches.extend(decoded?);
                }
                Ok(batches)
            }
        }
    }

    /// A reader that decodes one batch at a time, with the next requests already in flight.
    pub fn into_reader(self) -> Box<dyn RecordBatchReader + Send> {
        match self {
            RemoteContents::Whole(contents) => Box::new(contents.into_reader()),
            RemoteContents::File(file) => Box::new(RemoteBatchReader {
                // Starts with one request and doubles up to the limit, so reading the first
                // rows (`fastio head`) does not download the next 64 MB.
                fetcher: file.fetcher(1),
                file,
                current: None,
            }),
        }
    }
}

fn open_whole(buffer: Buffer, columns: Option<&[String]>) -> Result<IpcContents> {
    IpcContents::open(IpcSource::Memory(buffer), columns)
}

/// The block as it sits at the start of its own fetched message.
fn rebased(block: &Block) -> Block {
    Block::new(0, block.metaDataLength(), block.bodyLength())
}

impl RemoteFile {
    /// A fetcher that keeps `window` requests in flight at first, growing to `concurrency`.
    fn fetcher(&self, window: usize) -> GroupFetcher {
        let mut groups = VecDeque::new();
        let mut start = 0;
        let mut group_start_offset = 0;
        for (index, block) in self.blocks.iter().enumerate() {
            let block_end =
                (block.offset() + block.metaDataLength() as i64 + block.bodyLength()) as u64;
            let previous_end = index.checked_sub(1).map(|previous| {
                let b = &self.blocks[previous];
                (b.offset() + b.metaDataLength() as i64 + b.bodyLength()) as u64
            });
            // Column ranges are fetched batch by batch, so then every batch is its own group.
            let contiguous =
                previous_end == Some(block.offset() as u64) && self.columns_only.is_none();
            let too_big = block_end.saturating_sub(group_start_offset) > REQUEST_BYTES;
            if index > start && (!contiguous || too_big) {
                groups.push_back(start..index);
                start = index;
            }
            if index == start {
                group_start_offset = block.offset() as u64;
            }
        }
        if start < self.blocks.len() {
            groups.push_back(start..self.blocks.len());
        }
        GroupFetcher {
            columns_only: self.columns_only.clone(),
            target: self.target.clone(),
            runtime: self.runtime.clone(),
            blocks: self.blocks.clone(),
            groups,
            in_flight: VecDeque::new(),
            window: window.clamp(1, self.concurrency),
            concurrency: self.concurrency,
        }
    }

    /// Decodes batch `index` from the fetched bytes of its group, which start at the block
    /// `group_start`.
    fn decode(&self, index: usize, message: &Buffer, group_start: usize) -> Result<RecordBatch> {
        let block = &self.blocks[index];
        let base = self.blocks[group_start].offset();
        let offset = (block.offset() - base) as usize;
        let length = block.metaDataLength() as usize + block.bodyLength() as usize;
        let bytes = message.slice_with_length(offset, length);
        decode_batch(&self.decoder, index, &rebased(block), &bytes)
    }
}

/// Downloads one batch's message header, then only the projected columns' byte ranges of its
/// body, into a zero-filled buffer of the message's size: the columns left out are never
/// read by the decoder, and their untouched zero pages cost no memory.
async fn download_columns(
    target: RemoteObject,
    block: Block,
    columns: Arc<ColumnRanges>,
) -> Result<Buffer> {
    let offset = block.offset() as u64;
    let metadata_len = block.metaDataLength() as u64;
    let body_len = block.bodyLength() as u64;
    let metadata = download(target.clone(), offset..offset + metadata_len).await?;
    let Some(ranges) = columns.body_ranges(&metadata, body_len) else {
        return download(target, offset..offset + metadata_len + body_len).await;
    };
    let body_start = offset + metadata_len;
    let pieces = futures::future::try_join_all(ranges.iter().map(|range| {
        download(
            target.clone(),
            body_start + range.start..body_start + range.end,
        )
    }))
    .await?;
    let mut message = MutableBuffer::from_len_zeroed((metadata_len + body_len) as usize);
    let bytes = message.as_slice_mut();
    bytes[..metadata.len()].copy_from_slice(&metadata);
    for (range, piece) in ranges.iter().zip(pieces) {
        let at = (metadata_len + range.start) as usize;
        bytes[at..at + piece.len()].copy_from_slice(&piece);
    }
    Ok(message.into())
}

/// Keeps up to `concurrency` group requests in flight and hands them back in order.
struct GroupFetcher {
    target: RemoteObject,
    runtime: Arc<Runtime>,
    blocks: Arc<Vec<Block>>,
    groups: VecDeque<Range<usize>>,
    in_flight: VecDeque<(Range<usize>, Download)>,
    /// Requests kept in flight now; doubles after each group until `concurrency`.
    window: usize,
    concurrency: usize,
    columns_only: Option<Arc<ColumnRanges>>,
}

impl GroupFetcher {
    fn next_group(&mut self) -> Result<Option<(Range<usize>, Buffer)>> {
        while self.in_flight.len() < self.window {
            let Some(group) = self.groups.pop_front() else {
                break;
            };
            let first = &self.blocks[group.start];
            let last = &self.blocks[group.end - 1];
            let start = first.offset() as u64;
            let end = (last.offset() + last.metaDataLength() as i64 + last.bodyLength()) as u64;
            let target = self.target.clone();
            let download = match &self.columns_only {
                Some(columns) => {
                    self.runtime
                        .spawn(download_columns(target, *first, columns.clone()))
                }
                None => self.runtime.spawn(download(target, start..end)),
            };
            self.in_flight.push_back((group, download));
        }
        let Some((group, download)) = self.in_flight.pop_front() else {
            return Ok(None);
        };
        let message = join(&self.runtime, &self.target, download)?;
        self.window = (self.window * 2).min(self.concurrency);
        Ok(Some((group, message)))
    }
}

impl Drop for GroupFetcher {
    fn drop(&mut self) {
        for (_, download) in &self.in_flight {
            download.abort();
        }
    }
}

/// Streams the batches of a [`RemoteFile`] in order.
struct RemoteBatchReader {
    file: RemoteFile,
    fetcher: GroupFetcher,
    /// The group being decoded: its next batch, its end, its first batch and its bytes.
    current: Option<(usize, Range<usize>, Buffer)>,
}

impl RemoteBatchReader {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if let Some((next, group, message)) = &mut self.current {
                if *next < group.end {
                    let index = *next;
                    *next += 1;
                    return self.file.decode(index, message, group.start).map(Some);
                }
            }
            match self.fetcher.next_group()? {
                Some((group, message)) => self.current = Some((group.start, group, message)),
                None => return Ok(None),
            }
        }
    }
}

impl Iterator for RemoteBatchReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
            .map_err(|e| ArrowError::IpcError(e.to_string()))
            .transpose()
    }
}

impl RecordBatchReader for RemoteBatchReader {
    fn schema(&self) -> SchemaRef {
        self.file.schema.clone()
    }
}
