//! Shadow mode at the front: for a sampled native answer on a plain URL whose kernel's
//! backend is "shadow", the same request goes to the app's `/python` URL in the
//! background and the two JSON results are compared. Mismatches are logged (at a
//! bounded rate) and counted. The client's answer never waits for it, and a sample that
//! finds `shadow_in_flight` comparisons running is dropped and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::metrics::FrontMetrics;
use super::proxy::Upstream;

/// The Python logger of shadow mismatches (`flask_rustpath.front.shadow`): warnings, as
/// the Flask side logs its own mismatches, which Python writes to stderr even with no
/// logging configured.
const LOG: &str = "flask_rustpath::front::shadow";

/// Python references are slow by nature: a comparison may take this long.
const SHADOW_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Shadow {
    upstream: Arc<Upstream>,
    metrics: Arc<FrontMetrics>,
    python_prefix: String,
    in_flight: Arc<Semaphore>,
    sampler: AtomicU64,
    log: LimitedLog,
}

impl Shadow {
    #[must_use]
    pub fn new(
        upstream: Arc<Upstream>,
        metrics: Arc<FrontMetrics>,
        python_prefix: String,
        in_flight: usize,
        log_interval: Duration,
    ) -> Self {
        Self {
            upstream,
            metrics,
            python_prefix,
            in_flight: Arc::new(Semaphore::new(in_flight)),
            sampler: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
            log: LimitedLog::new(log_interval),
        }
    }

    /// Whether this answer is sampled, at `rate` (0 to 1).
    pub fn sampled(&self, rate: f64) -> bool {
        rate > 0.0
            && (rate >= 1.0 || unit_interval(self.sampler.fetch_add(1, Ordering::Relaxed)) < rate)
    }

    /// Compares `rust_result` (JSON text) with the app's answer at `/python<path>`, in
    /// the background.
    ///
    /// `request` is the method and JSON body of a route whose arguments come from its
    /// body, sent again as they were; `None` sends a GET.
    pub fn offer(
        self: &Arc<Self>,
        kernel: &str,
        path_and_query: &str,
        rust_result: String,
        request: Option<(Method, Bytes)>,
    ) {
        let Ok(permit) = Arc::clone(&self.in_flight).try_acquire_owned() else {
            self.metrics.shadow(kernel, "dropped");
            return;
        };
        let this = Arc::clone(self);
        let kernel = kernel.to_owned();
        let target = format!("{}{path_and_query}", self.python_prefix);
        tokio::spawn(async move {
            let (method, json) = request.map_or((Method::GET, None), |(m, b)| (m, Some(b)));
            let fetched = this
                .upstream
                .fetch(method, &target, json, SHADOW_TIMEOUT)
                .await;
            let outcome = match fetched {
                Ok((StatusCode::OK, _, body)) => match python_result(&body) {
                    Some(python) if json_equal(&python, &rust_result) => "match",
                    Some(python) => {
                        this.log.line(&format!(
                            "shadow mismatch in kernel {kernel:?} at {target}: python {python}, rust {rust_result}"
                        ));
                        "mismatch"
                    }
                    None => "error",
                },
                // The Python side refused (its limits are lower) or was busy: not a verdict.
                Ok(_) => "skipped",
                Err(_) => "error",
            };
            this.metrics.shadow(&kernel, outcome);
            drop(permit);
        });
    }
}

/// The `result` of a JSON shorthand answer, as JSON text.
fn python_result(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("result").map(ToString::to_string)
}

/// JSON equality with numbers compared by value (`1` and `1.0` as Python compares them).
fn json_equal(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => values_equal(&a, &b),
        _ => false,
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.to_string(), y.to_string());
            match (x.parse::<i128>(), y.parse::<i128>()) {
                (Ok(x), Ok(y)) => x == y,
                _ => x.parse::<f64>().ok() == y.parse::<f64>().ok() && x.parse::<f64>().is_ok(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| values_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// A well-mixed value in [0, 1) from a counter (splitmix64).
fn unit_interval(counter: u64) -> f64 {
    let mut z = counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// One line per interval; lines in between are counted and reported with the next.
pub struct LimitedLog {
    interval: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl LimitedLog {
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    pub fn line(&self, text: &str) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        if state
            .0
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            state.1 += 1;
            return;
        }
        let suppressed = std::mem::take(&mut state.1);
        state.0 = Some(now);
        let more = if suppressed > 0 {
            format!(" ({suppressed} more since the last line)")
        } else {
            String::new()
        };
        log::warn!(
            target: LOG,
            "[flask-rustpath front pid {}] {text}{more}",
            std::process::id()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_numbers_by_value() {
        assert!(json_equal(
            "1699246443377779418889494",
            "1699246443377779418889494"
        ));
        assert!(!json_equal(
            "1699246443377779418889494",
            "1699246443377779418889495"
        ));
        assert!(json_equal("1", "1.0"));
        assert!(json_equal(r#"{"a":[1,"x"]}"#, r#"{"a":[1.0,"x"]}"#));
        assert!(!json_equal(r#"{"a":[1,"x"]}"#, r#"{"a":[1,"y"]}"#));
        assert!(!json_equal("\"1\"", "1"));
        assert_eq!(python_result(b"{\"result\":12}\n").as_deref(), Some("12"));
        assert_eq!(python_result(b"<html>"), None);
    }

    #[test]
    fn samples_at_about_the_rate() {
        let hits = (0..100_000u64).filter(|&i| unit_interval(i) < 0.1).count();
        assert!((9_000..11_000).contains(&hits), "{hits}");
    }
}
