//! The one tokio runtime behind every store request, per process.

use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;

use crate::error::{FastIoError, Result};

/// Request tasks are I/O-bound; two threads keep dozens of parts in flight.
const RUNTIME_THREADS: usize = 2;

/// The runtime of this process, created on first use.
///
/// After `fork()` the child inherits the parent's runtime object but none of its threads, so
/// the child builds its own and leaks the inherited one: dropping it would wait for threads
/// that will never answer.
pub fn runtime() -> Result<Arc<Runtime>> {
    static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match slot.as_ref() {
        Some((owner, runtime)) if *owner == pid => return Ok(runtime.clone()),
        Some(_) => std::mem::forget(slot.take()),
        None => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_THREADS)
        .thread_name("fastio-io")
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| FastIoError::io("starting the I/O runtime", e))?;
    *slot = Some((pid, runtime.clone()));
    Ok(runtime)
}
