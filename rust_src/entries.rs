//! Native entry points of the built-in kernels, for the Rust front (see
//! [`crate::native_abi`]). Plain Rust: the binding puts them in capsules.

use crate::cancel::{Cancelled, Deadline};
use crate::dispatch::Method;
use crate::native_abi::{entry, NativeEntry, NativeKernel, Outcome};
use crate::{pool, primesum};

/// Below this `n` a call runs on the calling thread: the whole sieve takes well under a
/// millisecond there, less than handing it to the pool would add.
const POOL_FROM_N: u64 = 1 << 21;

/// `sum_of_primes` for the front: arguments `{"n": integer}`, the sum as a JSON integer.
/// The refusals read as the Python binding's.
#[must_use]
pub fn sum_of_primes_json(args: &str, deadline: &Deadline<'_>) -> Outcome {
    let parsed: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(args) {
        Ok(map) => map,
        Err(err) => return Outcome::BadInput(format!("arguments are not a JSON object: {err}")),
    };
    let Some(value) = parsed.get("n") else {
        return Outcome::BadInput("missing argument 'n'".into());
    };
    let max_n = primesum::MAX_N;
    let Some(n) = value.as_u64().filter(|&n| n <= max_n) else {
        return Outcome::BadInput(format!(
            "n must be between 0 and {max_n} inclusive, got {value}"
        ));
    };
    let pool = if n < POOL_FROM_N {
        None
    } else {
        match pool::process_pool() {
            Ok(pool) => Some(pool),
            Err(err) => {
                return Outcome::Failed(format!("could not start the Rust thread pool: {err}"))
            }
        }
    };
    match Method::Auto.run(n, pool.as_deref(), deadline) {
        Ok(sum) => Outcome::Ok(sum.to_string()),
        Err(Cancelled) => Outcome::Deadline,
    }
}

/// `sum_of_primes`'s native door. Its refusals keep the Python binding's words, so
/// it reads its argument itself rather than through `#[rustpath::kernel]`.
struct SumOfPrimes;

impl NativeKernel for SumOfPrimes {
    fn call(args: &str, deadline: &Deadline<'_>) -> Outcome {
        sum_of_primes_json(args, deadline)
    }
}

/// The entries `_native.__rustpath_native__` exports, by function name.
#[must_use]
pub fn builtin_entries() -> Vec<(&'static str, NativeEntry)> {
    vec![("sum_of_primes", entry::<SumOfPrimes>())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native_abi::Entry;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    fn entry() -> Entry {
        let (_, native) = builtin_entries().remove(0);
        let leaked: &'static NativeEntry = Box::leak(Box::new(native));
        // SAFETY: a live version-1 entry for the rest of the test process.
        #[allow(unsafe_code)]
        unsafe { Entry::from_pointer(leaked) }.unwrap()
    }

    #[test]
    fn answers_through_the_abi() {
        let flag = AtomicBool::new(false);
        let entry = entry();
        assert_eq!(
            entry.call(r#"{"n":100000}"#, None, &flag),
            Outcome::Ok("454396537".into())
        );
        assert_eq!(
            entry.call(r#"{"n":0}"#, None, &flag),
            Outcome::Ok("0".into())
        );
        assert_eq!(
            entry.call(
                r#"{"n":10000000000000}"#,
                Some(Duration::from_secs(60)),
                &flag
            ),
            Outcome::Ok("1699246443377779418889494".into())
        );
    }

    #[test]
    fn refuses_bad_arguments_with_the_bindings_words() {
        let flag = AtomicBool::new(false);
        let entry = entry();
        for args in [
            r#"{"n":-1}"#,
            r#"{"n":1000000000000000001}"#,
            r#"{"n":"7"}"#,
        ] {
            match entry.call(args, None, &flag) {
                Outcome::BadInput(message) => {
                    assert!(message.starts_with("n must be between 0 and "), "{message}");
                }
                other => panic!("{args}: {other:?}"),
            }
        }
        assert!(matches!(
            entry.call("[1]", None, &flag),
            Outcome::BadInput(_)
        ));
        assert!(matches!(
            entry.call("{}", None, &flag),
            Outcome::BadInput(_)
        ));
    }

    #[test]
    fn stops_at_its_deadline_or_when_cancelled() {
        let entry = entry();
        let flag = AtomicBool::new(false);
        let big = r#"{"n":1000000000000000000}"#;
        assert_eq!(
            entry.call(big, Some(Duration::from_millis(20)), &flag),
            Outcome::Deadline
        );
        let raised = AtomicBool::new(true);
        assert_eq!(entry.call(big, None, &raised), Outcome::Deadline);
    }
}
