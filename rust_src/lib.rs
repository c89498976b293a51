//! `flask_rustpath._native`: the thin PyO3 layer over the Rust kernels.
//!
//! Each function here checks its arguments, releases the GIL for the whole
//! computation and maps failures to Python exceptions. The kernels themselves live
//! in plain Rust modules ([`sieve`], [`primesum`], [`cancel`], [`pool`]) with no PyO3
//! in them; so do the native entry points ([`native_abi`], [`entries`]) and the HTTP
//! front ([`front`]) that `flask rustpath serve` runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict};
use rayon::ThreadPool;

pub mod cancel;
pub mod entries;
pub mod front;
pub mod native_abi;
pub mod pool;
pub mod primesum;
pub mod sieve;

use cancel::{Cancelled, Deadline};

/// From this `n` on, `method="auto"` uses the sublinear method. Measured on this
/// 2-core machine through Python, best of 25 calls, sieve vs sublinear in ms (1 thread;
/// 2 threads): 10^6: 0.057 vs 0.183 (0.059 vs 0.228); 2·10^6: 0.134 vs 0.209 (0.137
/// vs 0.285); 3·10^6: 0.220 vs 0.221 (0.221 vs 0.315); 4·10^6: 0.321 vs 0.229 (0.342
/// vs 0.317); 10^7: 0.83 vs 0.24 (0.65 vs 0.32). One thread crosses near 3·10^6, two
/// near 4·10^6.
/// Re-measure by timing `_native.sum_of_primes(n, threads=t, method=m)` for both
/// methods around this n; the kernel suite's `rust` and `rust-sublinear` columns show it
/// too (10^6: sieve faster, 10^7: sublinear faster).
pub const CROSSOVER_N: u64 = 3_000_000;

/// Which algorithm `sum_of_primes` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The sieve below [`CROSSOVER_N`], the sublinear method from there on.
    Auto,
    /// The segmented sieve ([`sieve`]), up to [`sieve::MAX_N`].
    Sieve,
    /// The combinatorial method ([`primesum`]), up to [`primesum::MAX_N`].
    Sublinear,
}

impl Method {
    /// Parses the Python-side name.
    ///
    /// # Errors
    /// A message naming the accepted values.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "auto" => Ok(Self::Auto),
            "sieve" => Ok(Self::Sieve),
            "sublinear" => Ok(Self::Sublinear),
            other => Err(format!(
                "method must be \"auto\", \"sieve\" or \"sublinear\", got {other:?}"
            )),
        }
    }

    /// Largest `n` this method accepts.
    #[must_use]
    pub fn max_n(self) -> u64 {
        match self {
            Self::Sieve => sieve::MAX_N,
            Self::Auto | Self::Sublinear => primesum::MAX_N,
        }
    }

    /// Sum of the primes below `n` (`n <= self.max_n()`).
    ///
    /// # Errors
    /// [`Cancelled`] once `deadline` expires.
    pub fn run(
        self,
        n: u64,
        pool: Option<&ThreadPool>,
        deadline: &Deadline,
    ) -> Result<u128, Cancelled> {
        let sieve = match self {
            Self::Sieve => true,
            Self::Sublinear => false,
            Self::Auto => n < CROSSOVER_N,
        };
        if sieve {
            sieve::sum_of_primes_until(n, pool, deadline)
        } else {
            primesum::sum_of_primes_on(n, pool, deadline)
        }
    }
}

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
    let deadline = match timeout {
        None => Deadline::never(),
        Some(t) if t.is_finite() && t > 0.0 => {
            Duration::try_from_secs_f64(t).map_or_else(|_| Deadline::never(), Deadline::after)
        }
        Some(t) => {
            return Err(PyValueError::new_err(format!(
                "timeout must be a positive number of seconds, got {t}"
            )))
        }
    };
    let threads = checked_threads(threads)?;
    // Starting a pool's threads is work too: it happens with the GIL released.
    py.detach(|| {
        let pool = pool_for(threads)?;
        method
            .run(n, pool.as_deref(), &deadline)
            .map_err(|Cancelled| Stopped::Deadline)
    })
    .map_err(|stopped| match stopped {
        Stopped::Pool(err) => pool_error(err),
        Stopped::Deadline => PyTimeoutError::new_err(format!(
            "sum_of_primes({n}) stopped after its timeout of {} s",
            timeout.unwrap_or_default()
        )),
    })
}

/// Why a computation ended without a sum (a Python exception is made once the GIL is
/// held again).
enum Stopped {
    Pool(rayon::ThreadPoolBuildError),
    Deadline,
}

impl From<rayon::ThreadPoolBuildError> for Stopped {
    fn from(err: rayon::ThreadPoolBuildError) -> Self {
        Self::Pool(err)
    }
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

/// The pool for a checked `threads` (`None`: run on the calling thread).
fn pool_for(
    threads: Option<usize>,
) -> Result<Option<Arc<ThreadPool>>, rayon::ThreadPoolBuildError> {
    match threads {
        None => pool::process_pool().map(Some),
        Some(1) => Ok(None),
        Some(t) => pool::pool_with(t).map(Some),
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
        let capsule = capsule
            .cast::<PyCapsule>()
            .map_err(|_| PyValueError::new_err(format!("native entry {key:?} is not a capsule")))?;
        let pointer = capsule.pointer_checked(Some(native_abi::CAPSULE_NAME))?;
        // SAFETY: a capsule of that name holds a `NativeEntry`; `entries` keeps it alive
        // while the front runs, and extension modules are never unloaded.
        #[allow(unsafe_code)]
        let entry = unsafe { native_abi::Entry::from_pointer(pointer.cast().as_ptr()) }
            .map_err(|err| PyValueError::new_err(format!("native entry {key:?}: {err}")))?;
        table.insert(key, entry);
    }
    py.detach(|| front::run(config, &table))
        .map_err(PyRuntimeError::new_err)
}

/// `{name: capsule}` of this module's native entry points.
fn native_entries(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let entries = PyDict::new(py);
    for (name, entry) in entries::builtin_entries() {
        entries.set_item(
            name,
            PyCapsule::new_with_value(py, entry, native_abi::CAPSULE_NAME)?,
        )?;
    }
    Ok(entries)
}

#[allow(clippy::needless_pass_by_value)] // shaped for `map_err`
fn pool_error(err: rayon::ThreadPoolBuildError) -> PyErr {
    PyRuntimeError::new_err(format!("could not start the Rust thread pool: {err}"))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sum_of_primes, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(serve_front, m)?)?;
    m.add("__rustpath_native__", native_entries(m.py())?)?;
    m.add("NATIVE_ABI_VERSION", native_abi::ABI_VERSION)?;
    #[cfg(feature = "test-hooks")]
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    m.add("MAX_N", primesum::MAX_N)?;
    m.add("SIEVE_MAX_N", sieve::MAX_N)?;
    m.add("CROSSOVER_N", CROSSOVER_N)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_and_agree() {
        assert_eq!(Method::parse("auto"), Ok(Method::Auto));
        assert_eq!(Method::parse("sieve"), Ok(Method::Sieve));
        assert_eq!(Method::parse("sublinear"), Ok(Method::Sublinear));
        assert!(Method::parse("Sieve")
            .unwrap_err()
            .contains("\"sublinear\""));
        assert!(Method::Sieve.max_n() < Method::Auto.max_n());
        let never = Deadline::never();
        for n in [
            0,
            1,
            2,
            3,
            CROSSOVER_N - 1,
            CROSSOVER_N,
            CROSSOVER_N + 1,
            10_000_019,
        ] {
            let sums: Vec<u128> = [Method::Auto, Method::Sieve, Method::Sublinear]
                .iter()
                .map(|m| m.run(n, None, &never).unwrap())
                .collect();
            assert!(sums.windows(2).all(|w| w[0] == w[1]), "n = {n}: {sums:?}");
        }
    }
}
