//! The worker pool, rebuilt in a forked child.
//!
//! Threads do not survive `fork()`: a child that reused the parent's pool would queue work
//! for threads that no longer exist and wait forever. Dagster's multiprocess executor can fork,
//! so the pool remembers the process that built it.

use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

static POOL: Mutex<Option<(u32, Arc<ThreadPool>)>> = Mutex::new(None);

/// Sets the number of worker threads (default: one per core), for benchmarks that project
/// the scaling to other machines. Read when the pool is first built in a process.
pub const THREADS_VARIABLE: &str = "FASTIO_THREADS";

fn threads() -> usize {
    std::env::var(THREADS_VARIABLE)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0) // rayon's own default: one per core
}

/// The pool of this process, one thread per core unless `FASTIO_THREADS` says otherwise.
pub fn pool() -> Arc<ThreadPool> {
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match slot.as_ref() {
        Some((owner, pool)) if *owner == pid => pool.clone(),
        _ => {
            if let Some((_, inherited)) = slot.take() {
                // Dropping the parent's pool would signal threads that do not exist here, through
                // locks copied in whatever state the fork found them; it is leaked instead.
                std::mem::forget(inherited);
            }
            let pool = Arc::new(
                ThreadPoolBuilder::new()
                    .num_threads(threads())
                    .thread_name(|i| format!("fastio-worker-{i}"))
                    .build()
                    .expect("the operating system refused to start worker threads"),
            );
            *slot = Some((pid, pool.clone()));
            pool
        }
    }
}
