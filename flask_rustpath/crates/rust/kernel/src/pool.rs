//! A rayon thread pool owned by the current process and rebuilt after `fork`.
//!
//! rayon's global pool hangs in a child forked after the parent used it: the child
//! inherits the pool's bookkeeping but not its threads, so the first job waits for
//! workers that do not exist. gunicorn forks its workers from a master that may have
//! run a kernel already (`--preload`), so the pool records the process id it was
//! built in and any other process builds its own.

use rayon::{ThreadPool, ThreadPoolBuildError, ThreadPoolBuilder};
use std::sync::{Arc, Mutex};

/// Environment variable that caps the pool's thread count.
pub const THREADS_ENV: &str = "RUSTPATH_THREADS";

struct OwnedPool {
    pid: u32,
    pool: Arc<ThreadPool>,
}

// Held only for the few instructions of `process_pool`; a fork while another thread
// holds it would leave the child's copy locked, which gunicorn's single-threaded
// master never does.
static POOL: Mutex<Option<OwnedPool>> = Mutex::new(None);

/// Threads in the process pool: `RUSTPATH_THREADS` if set to a positive integer,
/// otherwise the parallelism available to this process (which honours CPU quotas).
#[must_use]
pub fn default_threads() -> usize {
    std::env::var(THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// The pool of this process, built on first use and again in every forked child.
///
/// # Errors
/// When the operating system refuses the threads.
pub fn process_pool() -> Result<Arc<ThreadPool>, ThreadPoolBuildError> {
    let pid = std::process::id();
    // A panic while the lock was held cannot leave the Option half-written.
    let mut slot = POOL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(owned) = slot.as_ref().filter(|owned| owned.pid == pid) {
        return Ok(Arc::clone(&owned.pool));
    }
    if let Some(inherited) = slot.take() {
        // Built by the parent: its threads do not exist here and dropping it would
        // signal them through locks the fork may have copied mid-use. Leak it.
        std::mem::forget(inherited);
    }
    let pool = Arc::new(build(default_threads())?);
    *slot = Some(OwnedPool {
        pid,
        pool: Arc::clone(&pool),
    });
    Ok(pool)
}

/// Most threads a caller may ask for: far beyond any useful count, far below what
/// would exhaust the process's thread limit.
pub const MAX_THREADS: usize = 256;

/// A pool of exactly `threads` threads (at most [`MAX_THREADS`]): the process pool when
/// the size matches, otherwise a private one that lives as long as the caller keeps it.
///
/// # Errors
/// When the operating system refuses the threads.
///
/// # Panics
/// If `threads` is outside `1..=MAX_THREADS`.
pub fn pool_with(threads: usize) -> Result<Arc<ThreadPool>, ThreadPoolBuildError> {
    assert!(
        (1..=MAX_THREADS).contains(&threads),
        "threads = {threads} is outside 1..={MAX_THREADS}"
    );
    let shared = process_pool()?;
    if shared.current_num_threads() == threads {
        Ok(shared)
    } else {
        build(threads).map(Arc::new)
    }
}

/// Panics with `message` on a worker of `pool`; the panic resumes on the caller.
///
/// The test hook behind `_native._panic`: a panic must cross the pool and leave it
/// working.
///
/// # Panics
/// Always, by design.
pub fn panic_in(pool: &ThreadPool, message: &str) {
    pool.install(|| -> () { panic!("{message}") });
}

fn build(threads: usize) -> Result<ThreadPool, ThreadPoolBuildError> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("rustpath-{i}"))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_pool_is_reused_within_a_process() {
        let a = process_pool().unwrap();
        let b = process_pool().unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn a_panic_reaches_the_caller_and_the_pool_survives() {
        let pool = process_pool().unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            panic_in(&pool, "deliberate");
        }));
        let payload = caught.expect_err("the panic must reach the caller");
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        assert_eq!(text, Some("deliberate"));
        assert_eq!(pool.install(|| 6 * 7), 42);
    }

    #[test]
    fn pool_with_builds_the_requested_size() {
        let pool = pool_with(3).unwrap();
        assert_eq!(pool.current_num_threads(), 3);
    }
}
