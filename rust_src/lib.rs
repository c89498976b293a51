//! `flask_rustpath._native`: the thin PyO3 layer over the Rust kernels.
//!
//! Each function here checks its arguments, releases the GIL for the whole
//! computation and maps failures to Python exceptions. The kernels themselves live
//! in plain Rust modules ([`sieve`], [`pool`]) with no PyO3 in them.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

pub mod cancel;
pub mod pool;
pub mod primesum;
pub mod sieve;

/// Sum of all primes below `n`.
///
/// Runs on this process's rayon pool (rebuilt after fork) unless `threads` is given:
/// `threads=1` runs on the calling thread, any other count on a pool of that size.
/// The GIL is released throughout.
#[pyfunction]
#[pyo3(signature = (n, *, threads = None))]
fn sum_of_primes(py: Python<'_>, n: i128, threads: Option<i64>) -> PyResult<u128> {
    let n = u64::try_from(n)
        .ok()
        .filter(|&n| n <= sieve::MAX_N)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "n must be between 0 and {} inclusive, got {n}",
                sieve::MAX_N
            ))
        })?;
    let pool = match threads {
        None => Some(pool::process_pool().map_err(pool_error)?),
        Some(1) => None,
        Some(t) if t > 1 && t as usize <= pool::MAX_THREADS => {
            Some(pool::pool_with(t as usize).map_err(pool_error)?)
        }
        Some(t) => {
            return Err(PyValueError::new_err(format!(
                "threads must be between 1 and {}, got {t}",
                pool::MAX_THREADS
            )))
        }
    };
    Ok(py.detach(|| sieve::sum_of_primes_on(n, pool.as_deref())))
}

/// Threads in this process's pool (`RUSTPATH_THREADS`, else the available cores).
#[pyfunction]
fn default_threads() -> usize {
    pool::default_threads()
}

/// Panics inside the thread pool with `message`.
///
/// Exists so the panic path can be exercised end to end: the panic crosses a rayon
/// worker and the released GIL, and must reach Python as `PanicException`.
#[pyfunction]
fn _panic(py: Python<'_>, message: String) -> PyResult<()> {
    let pool = pool::process_pool().map_err(pool_error)?;
    py.detach(|| pool.install(|| -> () { panic!("{message}") }));
    Ok(())
}

fn pool_error(err: rayon::ThreadPoolBuildError) -> PyErr {
    PyRuntimeError::new_err(format!("could not start the Rust thread pool: {err}"))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sum_of_primes, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    m.add("MAX_N", sieve::MAX_N)?;
    Ok(())
}
