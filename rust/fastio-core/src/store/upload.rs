//! Streaming uploads: bytes written to an [`UploadSink`] leave in parts while the encoder is
//! still producing the rest, with a bounded number in flight.
//!
//! Memory stays near `part_size * (max_concurrency + 1)` for the sink, whatever the object's
//! size: one part filling, at most `max_concurrency` uploading, and `write` blocks (releasing
//! nothing but time) until the oldest upload finishes. An object that fits in one part is sent
//! with a single PUT and never starts a multipart upload. Any failure, and dropping the sink
//! before `commit`, aborts the multipart upload: the key keeps its previous version.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::{MultipartUpload, ObjectStoreExt, PutPayload};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::error::{FastIoError, Result, SinkFailure};
use crate::store::plan::PartPlan;
use crate::store::{runtime, RemoteObject, UploadOptions};

/// How long an abort waits for the parts in flight before cancelling them.
const ABORT_GRACE: Duration = Duration::from_secs(30);

/// How often a commit waiting for its last parts asks whether to stop.
const INTERRUPT_POLL: Duration = Duration::from_millis(50);

/// An object being written; it appears in the store only on [`UploadSink::commit`].
pub struct UploadSink {
    target: RemoteObject,
    runtime: Arc<Runtime>,
    plan: PartPlan,
    max_concurrency: usize,
    /// The part being filled.
    part: Vec<u8>,
    /// Started when the first part is full, so small objects go up in one PUT.
    upload: Option<Box<dyn MultipartUpload>>,
    in_flight: VecDeque<JoinHandle<object_store::Result<()>>>,
    parts_sent: u64,
    /// Completed or aborted: nothing is left to clean up.
    settled: bool,
    /// The process that started the upload; a forked child cannot drive the parent's requests.
    owner: u32,
}

impl UploadSink {
    pub fn new(target: RemoteObject, options: UploadOptions) -> Result<Self> {
        Ok(UploadSink {
            target,
            runtime: runtime()?,
            plan: PartPlan::new(options.part_size),
            max_concurrency: options.max_concurrency,
            part: Vec::new(),
            upload: None,
            in_flight: VecDeque::new(),
            parts_sent: 0,
            settled: false,
            owner: std::process::id(),
        })
    }

    pub fn target(&self) -> &RemoteObject {
        &self.target
    }

    fn current_part_size(&self) -> usize {
        self.plan.part_size(self.parts_sent) as usize
    }

    /// Refuses to go on in a forked child: the upload's requests run on the parent's runtime,
    /// whose threads the child does not have.
    fn check_process(&self) -> Result<()> {
        if std::process::id() != self.owner {
            return Err(FastIoError::InvalidArgument(format!(
                "the upload of {} was started in another process; a writer cannot be carried \
                 across fork()",
                self.target.uri
            )));
        }
        Ok(())
    }

    fn push(&mut self, mut bytes: &[u8]) -> Result<()> {
        self.check_process()?;
        if self.settled {
            return Err(FastIoError::InvalidArgument(
                "the upload is already finished or aborted".into(),
            ));
        }
        while !bytes.is_empty() {
            let size = self.current_part_size();
            // A full part is sent only once more bytes arrive: if none do, the object may
            // still fit in a single PUT.
            if self.part.len() == size {
                self.send_part()?;
                continue;
            }
            if self.part.capacity() < size {
                self.part.reserve_exact(size - self.part.len());
            }
            let take = (size - self.part.len()).min(bytes.len());
            self.part.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    }

    /// Starts uploading the filled part, waiting first if `max_concurrency` are in flight.
    fn send_part(&mut self) -> Result<()> {
        self.collect_finished()?;
        if self.upload.is_none() {
            let store = self.target.store.clone();
            let path = self.target.path.clone();
            let upload = self
                .runtime
                .block_on(async move { store.put_multipart(&path).await })
                .map_err(|e| self.target.error(e))?;
            self.upload = Some(upload);
        }
        let data = std::mem::take(&mut self.part);
        self.spawn_part(data)
    }

    /// Queues one part once fewer than `max_concurrency` are in flight.
    fn spawn_part(&mut self, data: Vec<u8>) -> Result<()> {
        while self.in_flight.len() >= self.max_concurrency {
            self.wait_oldest()?;
        }
        let upload = self
            .upload
            .as_mut()
            .expect("the multipart upload is started");
        let request = upload.put_part(PutPayload::from(Bytes::from(data)));
        self.in_flight.push_back(self.runtime.spawn(request));
        self.parts_sent += 1;
        Ok(())
    }

    fn wait_oldest(&mut self) -> Result<()> {
        let Some(handle) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let joined = self.runtime.block_on(handle);
        self.part_result(joined)
    }

    fn part_result(
        &self,
        joined: std::result::Result<object_store::Result<()>, tokio::task::JoinError>,
    ) -> Result<()> {
        match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(self.target.error(error)),
            Err(join) => Err(self
                .target
                .failure(format!("a part upload did not finish: {join}"))),
        }
    }

    /// Surfaces a failed part as soon as it is known, rather than at the end.
    fn collect_finished(&mut self) -> Result<()> {
        while self.in_flight.front().is_some_and(|h| h.is_finished()) {
            self.wait_oldest()?;
        }
        Ok(())
    }

    /// Makes the object visible: one PUT if it fits in a part, else the last part and the
    /// multipart completion. Returns the number of parts (1 for a single PUT). On failure,
    /// or when `interrupt` fails while the last parts upload or just before the completion,
    /// the upload is aborted and the previous version of the object stays.
    pub fn commit(mut self, interrupt: &mut dyn FnMut() -> Result<()>) -> Result<u64> {
        let result = self.finish_upload(interrupt);
        if result.is_err() {
            self.abort();
        }
        result
    }

    fn finish_upload(&mut self, interrupt: &mut dyn FnMut() -> Result<()>) -> Result<u64> {
        self.check_process()?;
        if self.settled {
            return Err(FastIoError::InvalidArgument(
                "the upload is already finished or aborted".into(),
            ));
        }
        let Some(upload) = self.upload.take() else {
            interrupt()?;
            let payload = PutPayload::from(Bytes::from(std::mem::take(&mut self.part)));
            let store = self.target.store.clone();
            let path = self.target.path.clone();
            self.runtime
                .block_on(async move { store.put(&path, payload).await })
                .map_err(|e| self.target.error(e))?;
            self.settled = true;
            return Ok(1);
        };
        // Kept reachable so that a failure below still aborts it.
        self.upload = Some(upload);
        let last = std::mem::take(&mut self.part);
        if !last.is_empty() {
            self.spawn_part(last)?;
        }
        while let Some(handle) = self.in_flight.front_mut() {
            // Waiting for the last parts can take seconds on a slow link: a Ctrl-C meanwhile
            // must still keep the new version from being published.
            let waited = self
                .runtime
                .block_on(async { tokio::time::timeout(INTERRUPT_POLL, handle).await });
            match waited {
                Err(_still_uploading) => interrupt()?,
                Ok(joined) => {
                    self.in_flight.pop_front();
                    self.part_result(joined)?;
                }
            }
        }
        interrupt()?;
        let mut upload = self.upload.take().expect("put back above");
        let completed = self.runtime.block_on(async { upload.complete().await });
        self.upload = Some(upload);
        completed.map_err(|e| self.target.error(e))?;
        self.upload = None;
        self.settled = true;
        Ok(self.parts_sent)
    }

    /// Cancels the parts in flight and aborts the multipart upload, if one was started.
    pub fn abort(&mut self) {
        if self.settled {
            return;
        }
        self.settled = true;
        self.part = Vec::new();
        if std::process::id() != self.owner {
            // The parent's runtime threads are gone here; the parent still owns the upload.
            std::mem::forget(std::mem::take(&mut self.in_flight));
            std::mem::forget(self.upload.take());
            return;
        }
        let mut in_flight: Vec<_> = self.in_flight.drain(..).collect();
        let upload = self.upload.take();
        self.runtime.block_on(async move {
            // Parts still uploading finish first (within a grace period): a part the server
            // stores after the abort would be kept as an orphan, as S3 documents.
            let finished = futures::future::join_all(in_flight.iter_mut());
            if tokio::time::timeout(ABORT_GRACE, finished).await.is_err() {
                for handle in &in_flight {
                    handle.abort();
                }
                for handle in in_flight {
                    let _ = handle.await;
                }
            }
            if let Some(mut upload) = upload {
                // Best effort: the failure being reported matters more than this one.
                let _ = upload.abort().await;
            }
        });
    }
}

impl Drop for UploadSink {
    fn drop(&mut self) {
        self.abort();
    }
}

impl Write for UploadSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.push(buf).map_err(SinkFailure::into_io)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.push(buf).map_err(SinkFailure::into_io)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
