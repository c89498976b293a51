//! One native call, under the Flask side's contract: the Rust side's limits (422), the
//! admission bound (503 with `Retry-After`), the deadline (504), a refusal (400), a
//! failure (500), and `{"result": ...}` with `X-RustPath-Backend` and `Server-Timing`.
//! Each answer is one the Flask side rendered for the route ([`super::config::Answers`]);
//! this module decides which, and fills in the call's values.

use std::cmp::Ordering;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::{Response, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

use super::body::Body;
use super::config::{LimitConfig, RouteConfig, Template};
use super::routes::Value;
use super::template::{respond, Slot};
use crate::native_abi::{Entry, Outcome};

/// The Python logger of failed native calls (`flask_rustpath.front.native`): errors,
/// which Python writes to stderr even with no logging configured.
const LOG: &str = "flask_rustpath::front::native";

/// A native route ready to serve: its settings, entry point and own admission bound.
pub struct NativeRoute {
    pub config: RouteConfig,
    pub entry: Entry,
    pub own_slots: Option<Arc<Semaphore>>,
    /// This kernel's 200 counter and latency histogram, looked up once.
    pub ok_count: Counter,
    pub seconds: Histogram,
}

/// Admission over all native routes: `slots` calls run, up to `queue` more wait, each
/// for at most `wait`.
pub struct Admission {
    pub slots: Arc<Semaphore>,
    pub waiting: Arc<Semaphore>,
    pub wait: Duration,
}

/// How a native call ended, for metrics and shadowing.
pub struct Answer {
    pub response: Response<Body>,
    /// The result's JSON text, when the call succeeded.
    pub result: Option<String>,
    pub status: StatusCode,
}

/// Runs `route` on `arguments` and answers as the Flask side would.
pub async fn answer(
    route: &NativeRoute,
    arguments: &[(String, Value)],
    admission: &Admission,
    deadline: Option<Duration>,
) -> Answer {
    let config = &route.config;
    let answers = &config.answers;
    if let Some(limit) = config.limits.iter().find(|limit| above(limit, arguments)) {
        let value = arguments
            .iter()
            .find(|(name, _)| *name == limit.argument)
            .map(|(_, value)| measure(value))
            .unwrap_or_default();
        return failed(&limit.answer, &[("value", Slot::Text(&value))]);
    }
    let Some(_permits) = admit(route, admission).await else {
        return failed(&answers.overloaded, &[]);
    };
    let args = super::routes::arguments_json(arguments);
    let inline = config.inline_below.is_some_and(|bound| {
        arguments.iter().find_map(|(_, value)| match value {
            Value::Int(digits) => {
                Some(digits.len() <= 19 && digits.parse::<u64>().is_ok_and(|n| n < bound))
            }
            Value::Text(_) | Value::Json(_) => None,
        }) == Some(true)
    });
    let entry = route.entry;
    let started = Instant::now();
    let outcome = if inline {
        entry.call(&args, deadline, &AtomicBool::new(false))
    } else {
        // Dropped with the request (its connection failed, or the front stopped past its
        // graceful timeout): the flag tells the kernel to stop.
        let cancelled = Arc::new(AtomicBool::new(false));
        // Raising it once the call is over changes nothing.
        let _guard = CancelOnDrop(Arc::clone(&cancelled));
        tokio::task::spawn_blocking(move || entry.call(&args, deadline, &cancelled))
            .await
            .unwrap_or_else(|err| Outcome::Failed(format!("the native call failed: {err}")))
    };
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Outcome::Ok(result) if serde_json::from_str::<serde::de::IgnoredAny>(&result).is_err() => {
            log::error!(
                target: LOG,
                "[flask-rustpath front pid {}] native kernel '{}' returned invalid JSON: {:.200}",
                std::process::id(),
                config.kernel,
                result
            );
            failed(&answers.invalid_result, &[])
        }
        Outcome::Ok(result) => {
            let mut ms = String::with_capacity(12);
            crate::timing::push_millis(&mut ms, seconds);
            let response = respond(
                &answers.ok,
                &[("result", Slot::Raw(&result)), ("ms", Slot::Raw(&ms))],
            );
            Answer {
                status: response.status(),
                response,
                result: Some(result),
            }
        }
        Outcome::BadInput(message) => {
            failed(&answers.bad_input, &[("message", Slot::Text(&message))])
        }
        Outcome::Deadline => failed(&answers.deadline_exceeded, &[]),
        Outcome::Failed(reason) => {
            log::error!(
                target: LOG,
                "[flask-rustpath front pid {}] native kernel '{}' failed: {reason}",
                std::process::id(),
                config.kernel
            );
            failed(&answers.rust_panic, &[])
        }
    }
}

/// Raises the cancel flag if the request's future is dropped mid-call.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// An error answer: no result to shadow.
fn failed(template: &Template, slots: &[(&str, Slot<'_>)]) -> Answer {
    let response = respond(template, slots);
    Answer {
        status: response.status(),
        response,
        result: None,
    }
}

/// What a limit bounds, as decimal digits: an integer's value, and a text's length in
/// characters (code points, as Python's `len`; a native match is plain ASCII text, see
/// `routes.rs`), as the Flask side's `check_limits` measures them.
///
/// A JSON body's value is an integer, text or a list here (`json_body.rs` leaves the
/// others, whose limits Python words or skips its own way, to gunicorn): a list is
/// measured by its length, as Python's `len`.
fn measure(value: &Value) -> String {
    match value {
        Value::Int(digits) => digits.clone(),
        Value::Text(text) | Value::Json(serde_json::Value::String(text)) => {
            text.chars().count().to_string()
        }
        Value::Json(serde_json::Value::Array(items)) => items.len().to_string(),
        Value::Json(other) => other.to_string(),
    }
}

/// Whether an argument is above its limit ("not <=", as the Flask side compares).
fn above(limit: &LimitConfig, arguments: &[(String, Value)]) -> bool {
    let Some((_, value)) = arguments.iter().find(|(name, _)| *name == limit.argument) else {
        return false;
    };
    if let Value::Json(serde_json::Value::Null | serde_json::Value::Object(_)) = value {
        return false; // Python's check_limits bounds neither None nor a dict
    }
    let digits = measure(value);
    if let Ok(bound) = limit.limit_json.parse::<i128>() {
        return digits.parse::<i128>().map_or(true, |value| value > bound);
    }
    match limit.limit_json.parse::<f64>() {
        // Digits always parse as f64 (huge ones as infinity), as Python compares int to float.
        Ok(bound) => digits.parse::<f64>().map_or(true, |value| {
            !matches!(
                value.partial_cmp(&bound),
                Some(Ordering::Less | Ordering::Equal)
            )
        }),
        Err(_) => false,
    }
}

/// Slots for one call, or `None` when every slot is taken and the queue is full, or
/// none freed within one [`Admission::wait`] for all of them together.
async fn admit(route: &NativeRoute, admission: &Admission) -> Option<Vec<OwnedSemaphorePermit>> {
    let mut permits = Vec::with_capacity(2);
    let mut give_up = None;
    for slots in route
        .own_slots
        .iter()
        .chain(std::iter::once(&admission.slots))
    {
        if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
            permits.push(permit);
            continue;
        }
        let _waiting = Arc::clone(&admission.waiting).try_acquire_owned().ok()?;
        // `checked_add`: a wait too long for an Instant is a wait with no end.
        let until = *give_up.get_or_insert_with(|| Instant::now().checked_add(admission.wait));
        let acquire = Arc::clone(slots).acquire_owned();
        let permit = match until {
            Some(until) => tokio::time::timeout_at(until.into(), acquire).await.ok()?,
            None => acquire.await,
        };
        permits.push(permit.ok()?);
    }
    Some(permits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(limit_json: &str) -> LimitConfig {
        serde_json::from_value(serde_json::json!({
            "argument": "s",
            "limit_json": limit_json,
            "answer": {"status": 422, "headers": [], "body": "{value}"},
        }))
        .unwrap()
    }

    fn text(value: &str) -> Vec<(String, Value)> {
        vec![("s".to_string(), Value::Text(value.into()))]
    }

    #[test]
    fn a_limit_on_text_bounds_its_length() {
        assert!(!above(&limit("3"), &text("abc")));
        assert!(above(&limit("3"), &text("abcd")));
        assert!(above(&limit("0"), &text("a")));
        assert!(!above(&limit("3.5"), &text("abc")));
        assert!(above(&limit("3.5"), &text("abcd")));
    }

    #[test]
    fn a_limit_on_an_integer_bounds_its_value() {
        let digits = |d: &str| vec![("s".to_string(), Value::Int(d.into()))];
        assert!(!above(&limit("10"), &digits("10")));
        assert!(above(&limit("10"), &digits("11")));
        assert!(above(&limit("10"), &text("12345678901")));
        assert_eq!(measure(&Value::Text("héé".into())), "3");
    }
}
