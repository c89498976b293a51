//! Kernel dispatch: which algorithm and which pool run a `sum_of_primes` call.
//!
//! Plain Rust under the binding ([`crate`]'s `sum_of_primes`) and the native entry
//! ([`crate::entries`]): no PyO3 here.

use std::sync::Arc;

use rayon::ThreadPool;

use crate::cancel::{Cancelled, Deadline};
use crate::{pool, primesum, sieve};

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

/// Sum of the primes below `n` (`n <= method.max_n()`) with `method`, on the pool for a
/// checked `threads` (see [`pool_for`]).
///
/// # Errors
/// [`Stopped::Pool`] when the pool cannot start, [`Stopped::Deadline`] once `deadline`
/// expires.
pub fn sum_of_primes(
    method: Method,
    n: u64,
    threads: Option<usize>,
    deadline: &Deadline,
) -> Result<u128, Stopped> {
    let pool = pool_for(threads)?;
    method
        .run(n, pool.as_deref(), deadline)
        .map_err(|Cancelled| Stopped::Deadline)
}

/// Why a computation ended without a sum (the binding makes a Python exception of it
/// once the GIL is held again).
#[derive(Debug)]
pub enum Stopped {
    /// The pool's threads could not start.
    Pool(rayon::ThreadPoolBuildError),
    /// The deadline expired.
    Deadline,
}

impl From<rayon::ThreadPoolBuildError> for Stopped {
    fn from(err: rayon::ThreadPoolBuildError) -> Self {
        Self::Pool(err)
    }
}

/// The pool for a checked `threads`: `None` for this process's pool, `Some(1)` for the
/// calling thread (no pool), any other count for a pool of that size.
///
/// # Errors
/// The pool's threads could not start.
pub fn pool_for(
    threads: Option<usize>,
) -> Result<Option<Arc<ThreadPool>>, rayon::ThreadPoolBuildError> {
    match threads {
        None => pool::process_pool().map(Some),
        Some(1) => Ok(None),
        Some(t) => pool::pool_with(t).map(Some),
    }
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
