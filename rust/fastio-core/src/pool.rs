//! The worker pool, rebuilt in a forked child.
//!
//! Threads do not survive `fork()`: a child that reused the parent's pool would queue work
//! for threads that no longer exist and wait forever. Dagster's multiprocess executor can fork,
//! so the pool remembers the process that built it.

use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

static POOL: Mutex<Option<(u32, Arc<ThreadPool>)>> = Mutex::new(None);

/// The pool of this process, one thread per core.
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
                    .thread_name(|i| format!("fastio-worker-{i}"))
                    .build()
                    .expect("the operating system refused to start worker threads"),
            );
            *slot = Some((pid, pool.clone()));
            pool
        }
    }
}
