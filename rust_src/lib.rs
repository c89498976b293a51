//! `flask_rustpath._native`: the thin PyO3 layer over the Rust kernels.
//!
//! Each function here checks its arguments, releases the GIL for the whole
//! computation and maps failures to Python exceptions. The kernels themselves live
//! in plain Rust modules ([`sieve`], [`primesum`]) with no PyO3 in them; so do the
//! choice of algorithm and pool ([`dispatch`]), the built-in native entry points
//! ([`entries`]) and the HTTP front ([`front`]) that `flask rustpath serve` runs.
//!
//! The glue every kernel crate shares — the native ABI, the deadline token, the
//! fork-safe pool — is defined once, in the `rustpath` crate (flask_rustpath/crates/rust/kernel), and
//! re-exported here as [`native_abi`], [`cancel`] and [`pool`].
//!
//! Modules import one way, each only from those listed before it: `rustpath`'s
//! [`cancel`], [`pool`] and [`native_abi`]; the kernels [`sieve`] and [`primesum`];
//! the kernel dispatch [`dispatch`]; the built-in entries [`entries`] and the
//! [`front`]; this binding, its `pylog` (the front's log lines into Python's
//! `logging`) and [`request_path`] (the pairing middleware's and a kernel call's
//! per-request work), which nothing else imports.

use std::collections::HashMap;

use pyo3::exceptions::{PyRuntimeError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub use rustpath::abi as native_abi;
pub use rustpath::{cancel, pool};

pub mod dispatch;
pub mod entries;
pub mod front;
pub mod primesum;
mod pylog;
pub mod request_path;
pub mod sieve;
pub mod timing;

use dispatch::{Method, Stopped, CROSSOVER_N};

/// Sum of all primes below `n`.
///
/// `method` picks the algorithm (`"auto"`, `"sieve"`, `"sublinear"`). Runs on this
/// process's rayon pool (rebuilt after fork) unless `threads` is given: `threads=1`
/// runs on the calling thread, any other count on a pool of that size. `timeout`
/// (seconds) stops the computation with `TimeoutError`. The GIL is released
/// throughout.
#[pyfunction]
#[pyo3(signature = (n, *, threads = None, method = "auto", timeout = None))]
fn sum_of_primes(
    py: Python<'_>,
    n: i128,
    threads: Option<i64>,
    method: &str,
    timeout: Option<f64>,
) -> PyResult<u128> {
    let method = Method::parse(method).map_err(PyValueError::new_err)?;
    let max_n = method.max_n();
    let n = u64::try_from(n)
        .ok()
        .filter(|&n| n <= max_n)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "n must be between 0 and {max_n} inclusive, got {n}"
            ))
        })?;
    let deadline = rustpath::python::deadline(timeout)?;
    let threads = checked_threads(threads)?;
    // Starting a pool's threads is work too: it happens with the GIL released.
    py.detach(|| dispatch::sum_of_primes(method, n, threads, &deadline))
        .map_err(|stopped| match stopped {
            Stopped::Pool(err) => pool_error(err),
            Stopped::Deadline => PyTimeoutError::new_err(format!(
                "sum_of_primes({n}) stopped after its timeout of {} s",
                timeout.unwrap_or_default()
            )),
        })
}

/// `threads` checked: `None` for the process pool, else a count in `1..=MAX_THREADS`.
fn checked_threads(threads: Option<i64>) -> PyResult<Option<usize>> {
    match threads {
        None => Ok(None),
        Some(t) if (1..=pool::MAX_THREADS as i64).contains(&t) => {
            Ok(Some(usize::try_from(t).expect("checked positive")))
        }
        Some(t) => Err(PyValueError::new_err(format!(
            "threads must be between 1 and {}, got {t}",
            pool::MAX_THREADS
        ))),
    }
}

/// Threads in this process's pool (`RUSTPATH_THREADS`, else the available cores).
#[pyfunction]
fn default_threads() -> usize {
    pool::default_threads()
}

/// Panics inside the thread pool with `message`.
///
/// Test-only (cargo feature `test-hooks`): the panic crosses a rayon worker and the
/// released GIL, and must reach Python as `PanicException`.
#[cfg(feature = "test-hooks")]
#[pyfunction]
fn _panic(py: Python<'_>, message: &str) -> PyResult<()> {
    let pool = pool::process_pool().map_err(pool_error)?;
    py.detach(|| pool::panic_in(&pool, message));
    Ok(())
}

/// A `#[rustpath::kernel]` for the tests (cargo feature `test-hooks`): both of its
/// doors, from Python and through the native ABI, with each way a call can end.
#[cfg(feature = "test-hooks")]
mod hooks {
    use rustpath::{Deadline, Error};

    /// The `limit` words with the most vowels, with their counts; a `limit` of
    /// `-1` panics, and a deadline is checked between words.
    #[rustpath::kernel]
    pub fn _rank_words(
        words: &[String],
        limit: i64,
        deadline: &Deadline<'_>,
    ) -> Result<Vec<(String, u64)>, Error> {
        assert!(limit != -1, "limit -1 panics, on purpose");
        let limit = usize::try_from(limit)
            .map_err(|_| format!("limit must not be negative, got {limit}"))?;
        let mut ranked = Vec::with_capacity(words.len());
        for word in words {
            deadline.check()?;
            let vowels = word.chars().filter(|c| "aeiouAEIOU".contains(*c)).count();
            ranked.push((word.clone(), vowels as u64));
        }
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(limit);
        Ok(ranked)
    }
}

/// Runs the Rust front until `SIGTERM` or `SIGINT` (see `flask rustpath serve`).
///
/// `config` is the front's settings and native routes as JSON; `entries` maps each
/// route's `entry` key to a native entry capsule. The GIL is released while serving.
#[pyfunction]
fn serve_front(py: Python<'_>, config: &str, entries: &Bound<'_, PyDict>) -> PyResult<()> {
    let config: front::Config = serde_json::from_str(config)
        .map_err(|err| PyValueError::new_err(format!("invalid front configuration: {err}")))?;
    let mut table = HashMap::new();
    for (key, capsule) in entries.iter() {
        let key: String = key.extract()?;
        // `entries` keeps the capsules alive while the front runs.
        let entry = rustpath::python::entry_from_capsule(&key, &capsule)?;
        table.insert(key, entry);
    }
    let served = py.detach(|| front::run(config, &table));
    // The front logs through Python, on this thread too (see `pylog`): an exception
    // raised meanwhile (a signal handler's, say) waits here, and is raised now, as it
    // would have been right after the call.
    if let Some(raised) = PyErr::take(py) {
        return Err(raised);
    }
    served.map_err(PyRuntimeError::new_err)
}

#[allow(clippy::needless_pass_by_value)] // shaped for `map_err`
fn pool_error(err: rayon::ThreadPoolBuildError) -> PyErr {
    PyRuntimeError::new_err(format!("could not start the Rust thread pool: {err}"))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The front logs to Python's `logging` (`flask_rustpath.front` and below).
    pylog::install(m.py())?;
    m.add_function(wrap_pyfunction!(sum_of_primes, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(serve_front, m)?)?;
    m.add_function(wrap_pyfunction!(request_path::configure_request_path, m)?)?;
    m.add_function(wrap_pyfunction!(request_path::timing_entry_py, m)?)?;
    m.add_class::<request_path::CallRecord>()?;
    m.add_class::<request_path::SidePaths>()?;
    m.add_class::<request_path::Start>()?;
    m.add_class::<request_path::KernelCall>()?;
    m.add(
        "__rustpath_native__",
        rustpath::python::native_entries(m.py(), entries::builtin_entries())?,
    )?;
    m.add("NATIVE_ABI_VERSION", native_abi::ABI_VERSION)?;
    #[cfg(feature = "test-hooks")]
    {
        m.add_function(wrap_pyfunction!(_panic, m)?)?;
        let kernel = hooks::_rank_words::KERNEL;
        (kernel.add)(m)?;
        let native = rustpath::python::native_entries(m.py(), [(kernel.name, kernel.native)])?;
        m.add("_test_native", native)?;
    }
    m.add("MAX_N", primesum::MAX_N)?;
    m.add("SIEVE_MAX_N", sieve::MAX_N)?;
    m.add("CROSSOVER_N", CROSSOVER_N)?;
    Ok(())
}
