//! `rustpath`: the one definition of flask-rustpath's kernel glue.
//!
//! flask-rustpath's own `_native` module and every crate that `flask rustpath new`
//! scaffolds depend on this crate, so the glue between a kernel and its two callers is
//! written once:
//!
//! - [`abi`]: the native C ABI through which `flask rustpath serve`'s Rust front calls a
//!   kernel with no Python and no GIL (the capsule name is spelled there, and only
//!   there);
//! - [`cancel`]: the deadline and cancel token a kernel polls between chunks of work;
//! - [`pool`]: the rayon pool owned by this process and rebuilt after `fork`;
//! - [`Error`] and [`python`]: how a kernel's outcome reaches Python and the front,
//!   the same way from both: `Err(message)` is bad input (HTTP 400, naming the
//!   kernel), a panic is a failure (500), a passed deadline is a timeout (504);
//! - [`kernel`]: the attribute that writes both doors for a plain Rust function.
//!
//! ```ignore
//! use rustpath::{Deadline, Error};
//!
//! #[rustpath::kernel]
//! fn count_vowels(text: &str, deadline: &Deadline<'_>) -> Result<u64, Error> {
//!     deadline.check()?;
//!     Ok(text.chars().filter(|c| "aeiou".contains(*c)).count() as u64)
//! }
//!
//! rustpath::module!(my_kernels, [count_vowels]);
//! ```

// Here as well as in the [lints] table: a user's crate builds this one from a path, so
// `cargo clippy -- -W clippy::pedantic` there lints it too, and prose names (PyO3,
// rayon) read better without backticks.
#![allow(clippy::doc_markdown)]

pub mod abi;
pub mod cancel;
mod error;
pub mod pool;
pub mod python;

pub use cancel::{Cancelled, Deadline};
pub use error::Error;
pub use flask_rustpath_kernel_macros::kernel;

/// Re-exported for the code [`kernel`] and [`module!`] generate.
pub use pyo3;
/// Re-exported so that a kernel crate's parallel code uses the same rayon as
/// [`pool`].
pub use rayon;
#[doc(hidden)]
pub use serde;
#[doc(hidden)]
pub use serde_json;

/// This crate's version; `flask rustpath build` compares it with the installed
/// flask-rustpath's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One kernel, as [`kernel`] describes it: its name, its Python function and its
/// native entry point.
#[derive(Clone, Copy, Debug)]
pub struct Kernel {
    /// The function's name, in Python and in `__rustpath_native__`.
    pub name: &'static str,
    /// Adds the Python function to a module.
    pub add: fn(&pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()>,
    /// The native entry point.
    pub native: abi::NativeEntry,
}

/// The `#[pymodule]` of a crate of kernels: `module!(crate_name, [kernel, …])`.
///
/// `crate_name` must equal `[lib] name` in Cargo.toml. Each kernel is a function
/// marked [`kernel`]; the module gets its Python function and its native entry point
/// in `__rustpath_native__`.
#[macro_export]
macro_rules! module {
    ($name:ident, [$($kernel:ident),* $(,)?]) => {
        #[$crate::pyo3::pymodule]
        #[pyo3(crate = "::rustpath::pyo3")]
        fn $name(
            m: &$crate::pyo3::Bound<'_, $crate::pyo3::types::PyModule>,
        ) -> $crate::pyo3::PyResult<()> {
            $crate::python::export(m, &[$($kernel::KERNEL),*])
        }
    };
}
