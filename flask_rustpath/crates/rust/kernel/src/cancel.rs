//! Cooperative cancellation for the kernels: a deadline and/or a shared flag.
//!
//! Plain Rust with no PyO3 in it. A kernel calls [`Deadline::check`] between units
//! of work that take well under a millisecond to a few milliseconds (a sieve segment,
//! a chunk of leaves), never per element, and returns [`Cancelled`] as soon as the
//! deadline has passed or the flag was raised. The binding turns that into Python's
//! `TimeoutError`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// When a computation must stop: an optional instant and an optional flag that any
/// thread (the front, when a client went away) may raise while the computation runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Deadline<'flag> {
    at: Option<Instant>,
    flag: Option<&'flag AtomicBool>,
}

/// The computation stopped early because its [`Deadline`] expired or was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the computation was cancelled: its deadline passed")
    }
}

impl std::error::Error for Cancelled {}

impl<'flag> Deadline<'flag> {
    /// A deadline that never expires.
    #[must_use]
    pub fn never() -> Self {
        Self::default()
    }

    /// Expires `timeout` from now. A timeout too large to represent never expires.
    #[must_use]
    pub fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now().checked_add(timeout),
            flag: None,
        }
    }

    /// Also expires once `flag` is set (to `true`, by any thread).
    #[must_use]
    pub fn with_flag(mut self, flag: &'flag AtomicBool) -> Self {
        self.flag = Some(flag);
        self
    }

    /// `Err(Cancelled)` once the deadline has passed or the flag is raised.
    ///
    /// Costs a clock read and an atomic load: call it between chunks of work.
    ///
    /// # Errors
    /// [`Cancelled`] when the computation should stop.
    #[inline]
    pub fn check(&self) -> Result<(), Cancelled> {
        if self
            .flag
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
        {
            return Err(Cancelled);
        }
        match self.at {
            Some(at) if Instant::now() >= at => Err(Cancelled),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_expires() {
        assert_eq!(Deadline::never().check(), Ok(()));
        assert_eq!(Deadline::after(Duration::MAX).check(), Ok(()));
    }

    #[test]
    fn expires_after_its_timeout() {
        let deadline = Deadline::after(Duration::from_millis(20));
        assert_eq!(deadline.check(), Ok(()));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(deadline.check(), Err(Cancelled));
        assert_eq!(Deadline::after(Duration::ZERO).check(), Err(Cancelled));
    }

    #[test]
    fn flag_cancels_from_another_thread() {
        let flag = AtomicBool::new(false);
        let deadline = Deadline::never().with_flag(&flag);
        assert_eq!(deadline.check(), Ok(()));
        std::thread::scope(|scope| {
            scope.spawn(|| flag.store(true, Ordering::Relaxed));
        });
        assert_eq!(deadline.check(), Err(Cancelled));
        assert!(Cancelled.to_string().contains("cancelled"));
    }
}
