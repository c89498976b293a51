//! How a kernel says it gave no result, for both of its callers.

use std::fmt;

use crate::cancel::Cancelled;

/// Why a kernel returned no result. A kernel returns `Result<T, Error>` (or any
/// error that converts into one); `?` on [`Deadline::check`](crate::Deadline::check)
/// gives [`Error::Deadline`], and `Err("message".into())` gives [`Error::BadInput`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The input was refused: `ValueError` in Python, HTTP 400 at the front, both
    /// saying `"KERNEL: message"`.
    BadInput(String),
    /// The deadline passed or the call was cancelled: `TimeoutError`, HTTP 504.
    Deadline,
    /// The kernel could not run (its threads would not start, say): `RuntimeError`,
    /// HTTP 500, the message going to the log.
    Failed(String),
}

impl Error {
    /// The text both callers show for this outcome of `kernel`.
    #[must_use]
    pub fn message(&self, kernel: &str) -> String {
        match self {
            Self::BadInput(message) | Self::Failed(message) => format!("{kernel}: {message}"),
            Self::Deadline => format!("{kernel} stopped at its deadline"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadInput(message) | Self::Failed(message) => f.write_str(message),
            Self::Deadline => Cancelled.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<Cancelled> for Error {
    fn from(_: Cancelled) -> Self {
        Self::Deadline
    }
}

impl From<rayon::ThreadPoolBuildError> for Error {
    fn from(err: rayon::ThreadPoolBuildError) -> Self {
        Self::Failed(format!("could not start the Rust thread pool: {err}"))
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::BadInput(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::BadInput(message.to_owned())
    }
}
