//! Ranged reads of one object: each request held to the pinned version, large ranges split
//! into several requests in flight, the pieces joined into one 64-byte-aligned buffer.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use arrow_buffer::{Buffer, MutableBuffer};
use futures::StreamExt;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::error::{FastIoError, Result};
use crate::store::RemoteObject;

/// Neighbouring ranges are fetched together up to about this many bytes per request.
pub(crate) const REQUEST_BYTES: u64 = 8 << 20;
/// Requests in flight while reading.
pub(crate) const DEFAULT_FETCH_CONCURRENCY: usize = 8;

/// A download running on the runtime.
pub(crate) type Download = JoinHandle<Result<Buffer>>;

/// Downloads `range` into one 64-byte-aligned buffer, so uncompressed columns need no
/// realignment copy when decoded.
/// The bytes come from the pinned version of `target` or the download fails.
pub(crate) async fn download(target: RemoteObject, range: Range<u64>) -> Result<Buffer> {
    let length = (range.end - range.start) as usize;
    let options = target.get_options(range);
    let reply = target
        .store
        .get_opts(&target.path, options)
        .await
        .map_err(|e| target.error(e))?;
    target.check_version(&reply.meta)?;
    let mut chunks = reply.into_stream();
    let mut buffer = MutableBuffer::with_capacity(length);
    while let Some(chunk) = chunks.next().await {
        buffer.extend_from_slice(&chunk.map_err(|e| target.error(e))?);
    }
    Ok(buffer.into())
}

pub(crate) fn join(runtime: &Runtime, target: &RemoteObject, download: Download) -> Result<Buffer> {
    match runtime.block_on(download) {
        Ok(result) => result,
        Err(join) => Err(target.failure(format!("a read did not finish: {join}"))),
    }
}

/// Fetches `range` as `concurrency` requests at once, joined into one buffer.
pub(crate) fn fetch_range(
    runtime: &Arc<Runtime>,
    target: &RemoteObject,
    range: Range<u64>,
    concurrency: usize,
) -> Result<Buffer> {
    let length = range.end - range.start;
    if concurrency <= 1 || length <= REQUEST_BYTES {
        let download = runtime.spawn(download(target.clone(), range.clone()));
        return check_length(join(runtime, target, download)?, length);
    }
    let mut pieces = VecDeque::new();
    let mut whole = MutableBuffer::with_capacity(length as usize);
    let mut next = range.start;
    while next < range.end || !pieces.is_empty() {
        while pieces.len() < concurrency && next < range.end {
            let end = (next + REQUEST_BYTES).min(range.end);
            pieces.push_back(runtime.spawn(download(target.clone(), next..end)));
            next = end;
        }
        let piece = pieces.pop_front().expect("one was queued");
        whole.extend_from_slice(join(runtime, target, piece)?.as_slice());
    }
    check_length(whole.into(), length)
}

async fn checked_download(target: RemoteObject, range: Range<u64>) -> Result<Buffer> {
    let expected = range.end - range.start;
    check_length(download(target, range).await?, expected)
}

/// Downloads each of `ranges` (large ones in pieces), `concurrency` requests in flight, all
/// from the pinned version of `target`; the buffers come back in the order of `ranges`.
pub(crate) async fn download_ranges(
    target: RemoteObject,
    ranges: Vec<Range<u64>>,
    concurrency: usize,
) -> Result<Vec<Buffer>> {
    let mut pieces = Vec::new();
    for (index, range) in ranges.iter().enumerate() {
        let mut start = range.start;
        while start < range.end {
            let end = (start + REQUEST_BYTES).min(range.end);
            pieces.push((index, start..end));
            start = end;
        }
    }
    let requests: Vec<_> = pieces
        .iter()
        .map(|(_, range)| checked_download(target.clone(), range.clone()))
        .collect();
    let downloads = futures::stream::iter(requests).buffered(concurrency.max(1));
    let downloaded: Vec<Buffer> = futures::TryStreamExt::try_collect(downloads).await?;
    let mut joined: Vec<Vec<Buffer>> = ranges.iter().map(|_| Vec::new()).collect();
    for ((index, _), buffer) in pieces.iter().zip(downloaded) {
        joined[*index].push(buffer);
    }
    Ok(joined
        .into_iter()
        .map(|mut parts| match parts.len() {
            0 => Buffer::from_vec(Vec::<u8>::new()),
            1 => parts.pop().expect("one part"),
            _ => {
                let length = parts.iter().map(Buffer::len).sum();
                let mut whole = MutableBuffer::with_capacity(length);
                for part in &parts {
                    whole.extend_from_slice(part.as_slice());
                }
                whole.into()
            }
        })
        .collect())
}

fn check_length(buffer: Buffer, expected: u64) -> Result<Buffer> {
    if buffer.len() as u64 != expected {
        return Err(FastIoError::Corrupt(format!(
            "truncated or not an Arrow IPC file: expected {expected} bytes from the store, got {}",
            buffer.len()
        )));
    }
    Ok(buffer)
}
