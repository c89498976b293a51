//! One native call, under the Flask side's contract: the Rust side's limits (422), the
//! admission bound (503 with `Retry-After`), the deadline (504), a refusal (400), a
//! failure (500), and `{"result": ...}` with `X-RustPath-Backend` and `Server-Timing`.

use std::cmp::Ordering;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::{HeaderName, HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

use super::body::{error_body, json_response, quoted, Body};
use super::config::{LimitConfig, RouteConfig};
use super::routes::Value;
use crate::native_abi::{Entry, Outcome};

/// The Python logger of failed native calls (`flask_rustpath.front.native`): errors,
/// which Python writes to stderr even with no logging configured.
const LOG: &str = "flask_rustpath::front::native";

pub const BACKEND_HEADER: HeaderName = HeaderName::from_static("x-rustpath-backend");
pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

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
    if let Some(limit) = config.limits.iter().find(|limit| above(limit, arguments)) {
        let value = arguments
            .iter()
            .find(|(name, _)| *name == limit.argument)
            .map(|(_, value)| match value {
                Value::Int(digits) => digits.clone(),
                Value::Text(text) => text.clone(),
            })
            .unwrap_or_default();
        let message = format!(
            "{}={value} is above the rust limit of {} for {}",
            limit.argument, limit.limit_text, config.kernel_repr
        );
        let body = error_body(
            "limit_exceeded",
            &message,
            &[
                ("argument", quoted(&limit.argument)),
                ("limit", limit.limit_json.clone()),
                ("backend", quoted("rust")),
            ],
        );
        return failed(config, StatusCode::UNPROCESSABLE_ENTITY, body);
    }
    let Some(_permits) = admit(route, admission).await else {
        let body = error_body(
            "overloaded",
            &config.refusal_message,
            &kernel_and_backend(config),
        );
        let mut answer = failed(config, StatusCode::SERVICE_UNAVAILABLE, body);
        answer
            .response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return answer;
    };
    let args = super::routes::arguments_json(arguments);
    let inline = config.inline_below.is_some_and(|bound| {
        arguments.iter().find_map(|(_, value)| match value {
            Value::Int(digits) => {
                Some(digits.len() <= 19 && digits.parse::<u64>().is_ok_and(|n| n < bound))
            }
            Value::Text(_) => None,
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
                "[flask-rustpath front pid {}] native kernel {} returned invalid JSON: {:.200}",
                std::process::id(),
                config.kernel_repr,
                result
            );
            let message = format!(
                "kernel {} returned a value strict JSON cannot encode",
                config.kernel_repr
            );
            failed(
                config,
                StatusCode::INTERNAL_SERVER_ERROR,
                error_body(
                    "implementation_error",
                    &message,
                    &[("kernel", quoted(&config.kernel))],
                ),
            )
        }
        Outcome::Ok(result) => {
            let mut response = json_response(StatusCode::OK, format!("{{\"result\":{result}}}\n"));
            let timing = format!(
                "rust;dur={:.3};desc={}",
                seconds * 1000.0,
                quoted(&config.kernel)
            );
            add_kernel_headers(&mut response, &timing);
            Answer {
                response,
                result: Some(result),
                status: StatusCode::OK,
            }
        }
        Outcome::BadInput(message) => failed(
            config,
            StatusCode::BAD_REQUEST,
            error_body("bad_input", &message, &kernel_and_backend(config)),
        ),
        Outcome::Deadline => {
            let message = format!(
                "the rust side of {} ran past its deadline and was stopped",
                config.kernel_repr
            );
            failed(
                config,
                StatusCode::GATEWAY_TIMEOUT,
                error_body("deadline_exceeded", &message, &kernel_and_backend(config)),
            )
        }
        Outcome::Failed(reason) => {
            log::error!(
                target: LOG,
                "[flask-rustpath front pid {}] native kernel {} failed: {reason}",
                std::process::id(),
                config.kernel_repr
            );
            let message = format!(
                "the Rust side of {} panicked; see the server log",
                config.kernel_repr
            );
            failed(
                config,
                StatusCode::INTERNAL_SERVER_ERROR,
                error_body(
                    "rust_panic",
                    &message,
                    &[("kernel", quoted(&config.kernel))],
                ),
            )
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

fn kernel_and_backend(config: &RouteConfig) -> [(&'static str, String); 2] {
    [
        ("kernel", quoted(&config.kernel)),
        ("backend", quoted("rust")),
    ]
}

/// An error answer; like Flask's, it names the side and the kernel, without a duration.
fn failed(config: &RouteConfig, status: StatusCode, body: String) -> Answer {
    let mut response = json_response(status, body);
    add_kernel_headers(
        &mut response,
        &format!("rust;desc={}", quoted(&config.kernel)),
    );
    Answer {
        response,
        result: None,
        status,
    }
}

fn add_kernel_headers(response: &mut Response<Body>, timing: &str) {
    let headers = response.headers_mut();
    headers.insert(BACKEND_HEADER, HeaderValue::from_static("rust"));
    if let Ok(value) = HeaderValue::from_str(timing) {
        headers.insert(SERVER_TIMING, value);
    }
}

/// Whether an argument is above its limit ("not <=", as the Flask side compares).
fn above(limit: &LimitConfig, arguments: &[(String, Value)]) -> bool {
    let Some((_, Value::Int(digits))) = arguments.iter().find(|(name, _)| *name == limit.argument)
    else {
        return false;
    };
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
