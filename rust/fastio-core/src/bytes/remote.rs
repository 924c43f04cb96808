//! A store object as a [`RangeRead`]: every range comes from the one version pinned when it
//! was opened, several requests in flight for large or many ranges.

use std::ops::Range;
use std::sync::Arc;

use arrow_buffer::Buffer;
use tokio::runtime::Runtime;

use crate::bytes::RangeRead;
use crate::error::Result;
use crate::store::{
    download_ranges, fetch_range, runtime, RemoteObject, DEFAULT_FETCH_CONCURRENCY,
};

/// One version of a store object (see [`RemoteObject::pin`]).
pub(crate) struct PinnedObject {
    object: RemoteObject,
    size: u64,
    runtime: Arc<Runtime>,
}

impl PinnedObject {
    /// Pins `object` to the version a HEAD sees now.
    pub(crate) fn pin(object: &RemoteObject) -> Result<Self> {
        let runtime = runtime()?;
        let (object, size) = object.pin()?;
        Ok(PinnedObject {
            object,
            size,
            runtime,
        })
    }
}

impl RangeRead for PinnedObject {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_range(&self, range: Range<u64>) -> Result<Buffer> {
        if range.is_empty() {
            // No request: a GET of no bytes is not a valid range.
            return Ok(Buffer::from_vec(Vec::<u8>::new()));
        }
        fetch_range(
            &self.runtime,
            &self.object,
            range,
            DEFAULT_FETCH_CONCURRENCY,
        )
    }

    fn read_ranges(&self, ranges: Vec<Range<u64>>) -> Result<Vec<Buffer>> {
        let download = self.runtime.spawn(download_ranges(
            self.object.clone(),
            ranges,
            DEFAULT_FETCH_CONCURRENCY,
        ));
        match self.runtime.block_on(download) {
            Ok(result) => result,
            Err(join) => Err(self
                .object
                .failure(format!("a read did not finish: {join}"))),
        }
    }

    fn name(&self) -> &str {
        &self.object.uri
    }
}
