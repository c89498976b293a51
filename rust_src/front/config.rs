//! What `flask rustpath serve` hands the front: settings and the native route table,
//! as JSON. Every value was read and checked on the Python side from the app's
//! `RUSTPATH_*` configuration.

use std::path::PathBuf;

use serde::Deserialize;

/// The front's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Public address, `host:port`.
    pub bind: String,
    /// gunicorn's private Unix socket.
    pub upstream: PathBuf,
    /// Routes answered natively.
    pub routes: Vec<RouteConfig>,
    /// `RUSTPATH_RUST_PREFIX` and `RUSTPATH_PYTHON_PREFIX`.
    pub rust_prefix: String,
    pub python_prefix: String,
    /// Native calls running at once over all routes: `RUSTPATH_CONCURRENCY["rust"]`
    /// when the app caps them, else the server's concurrency (workers × threads).
    pub rust_slots: usize,
    /// Calls that may wait for a slot before the front answers 503 `overloaded`.
    pub queue: usize,
    /// `RUSTPATH_ADMISSION_WAIT`: how long a call waits for a slot before that 503.
    pub admission_wait_seconds: f64,
    /// `RUSTPATH_DEADLINE` in seconds (`None`: no deadline).
    pub deadline_seconds: Option<f64>,
    /// Answered by the front, reporting itself and the app's own answer there.
    pub health_path: String,
    /// Where the app serves Prometheus metrics; the front appends its own.
    pub metrics_path: String,
    /// Threads serving HTTP (the kernels use the Rust pool or blocking threads).
    pub io_threads: usize,
    /// Largest request head and body the front accepts.
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
    /// Time a client has to send a request's head, and then its body.
    pub header_timeout_seconds: f64,
    pub body_timeout_seconds: f64,
    /// Time gunicorn has to start answering a proxied request.
    pub upstream_timeout_seconds: f64,
    /// Time requests in flight have to finish once the front stops accepting.
    pub graceful_timeout_seconds: f64,
    /// Time the front keeps serving after `SIGTERM`, with its health URL answering 503
    /// `draining`, before it stops accepting (0: it stops at once, as on `SIGINT`).
    #[serde(default)]
    pub drain_delay_seconds: f64,
    /// Shadow requests in flight at most; a sample beyond is dropped and counted.
    pub shadow_in_flight: usize,
    /// Seconds between two log lines of one kind.
    pub log_interval_seconds: f64,
    /// Whether the front writes an access log line per request to stdout.
    pub access_log: bool,
    /// Client connections open at once, at most: Python sends 4096, or fewer under a
    /// lower open-files limit; [`DEFAULT_MAX_CONNECTIONS`] when the key is absent.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Requests sent to gunicorn at once, at most: its workers × threads.
    #[serde(default = "default_upstream_connections")]
    pub upstream_connections: usize,
    /// gunicorn's master, which `SIGHUP` is passed on to (it reloads the app).
    #[serde(default)]
    pub app_pid: Option<u32>,
    /// Time a client has to take more of a response before the front closes it.
    #[serde(default = "default_send_timeout")]
    pub send_timeout_seconds: f64,
}

/// gunicorn's threads when Python names none: the shipped config's 2 workers × 4.
fn default_upstream_connections() -> usize {
    8
}

/// nginx's `send_timeout`.
fn default_send_timeout() -> f64 {
    60.0
}

/// The bound on open client connections when the configuration names none: 4096.
///
/// The front takes a slot of this bound before each `accept()` and the connection
/// holds it until it closes, so at the bound new clients wait in the listen backlog
/// instead of costing the front a descriptor, a task and buffers each. It is far above
/// the requests the front serves at once (native calls wait for `rust_slots`, proxied
/// ones for gunicorn's workers × threads): only idle keep-alive connections and slow
/// clients add up to it. A lower `ulimit -n` bounds sooner: `accept()` then fails,
/// and the front backs off and retries.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}

/// One hot route with a native entry point.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The kernel's name.
    pub kernel: String,
    /// Every answer the route can give, rendered by the Flask side.
    pub answers: Answers,
    /// Key of its entry point in the entries given to [`super::run`].
    pub entry: String,
    /// The rule, split into literal text and variables.
    pub segments: Vec<Segment>,
    /// Whether the plain rule runs Rust (backend "rust" or "shadow"); `/rust<rule>`
    /// always does.
    pub plain_native: bool,
    /// Fraction of plain-rule answers checked against `/python<rule>` ("shadow").
    pub shadow_rate: f64,
    /// The Rust side's argument limits.
    pub limits: Vec<LimitConfig>,
    /// The kernel's own bound on concurrent calls, within `rust_slots`.
    pub concurrency: Option<usize>,
    /// Calls whose first integer argument is below this run on the serving thread;
    /// others run on a blocking thread. `None`: always a blocking thread.
    pub inline_below: Option<u64>,
    /// The methods the route answers; empty: GET (and HEAD).
    #[serde(default)]
    pub methods: Vec<String>,
    /// The kernel's arguments read from a JSON object body, after the URL's; empty:
    /// the URL holds them all.
    #[serde(default)]
    pub parameters: Vec<ParameterConfig>,
}

/// A kernel argument read from the request's JSON body.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ParameterConfig {
    pub name: String,
    pub kind: Kind,
}

/// What JSON a parameter's annotation takes, as `core/parameters.py::_json_value`
/// checks it: the type, whether `null` is taken, and the type of a list's items or a
/// dict's values.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Kind {
    #[serde(rename = "type")]
    pub type_: KindType,
    pub nullable: bool,
    #[serde(default)]
    pub item: Option<Box<Kind>>,
}

/// The JSON types a parameter's annotation names.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KindType {
    Any,
    Bool,
    Int,
    Float,
    Str,
    List,
    Dict,
}

/// A piece of a rule.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Segment {
    /// Text matched as is.
    Literal { text: String },
    /// `<int:name>`: ASCII digits.
    Int { name: String },
    /// `<name>` or `<string:name>`: any text up to the next `/`.
    String { name: String },
}

/// `argument` may be at most `limit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    pub argument: String,
    /// The limit as Python's `json.dumps` writes it.
    pub limit_json: String,
    /// The 422 above it; `{value}` is the argument's value.
    pub answer: Template,
}

/// A native route's answers, one per way a call can end, as the Flask side renders
/// them (`flask_rustpath/serving/answers.py`): the front fills their slots and adds
/// nothing of its own, so the two sides cannot drift.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    // The answers above a limit are each limit's own: see [`LimitConfig`].
    /// `{result}` (JSON text) in the body, `{ms}` in `Server-Timing`.
    pub ok: Template,
    pub overloaded: Template,
    /// `{message}` is what the kernel said.
    pub bad_input: Template,
    pub deadline_exceeded: Template,
    pub rust_panic: Template,
    /// The entry point wrote a result that is not JSON.
    pub invalid_result: Template,
}

/// One answer: a status, headers and a body, whose `{slot}`s are filled per call
/// (Python's `str.format` syntax: `{{` and `}}` are literal braces).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_has_a_default_when_python_sends_none() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "bind": "127.0.0.1:0", "upstream": "/nonexistent.sock", "routes": [],
            "rust_prefix": "/rust", "python_prefix": "/python", "rust_slots": 1, "queue": 0,
            "admission_wait_seconds": 1.0, "deadline_seconds": null, "health_path": "/healthz",
            "metrics_path": "/metrics", "io_threads": 1, "max_header_bytes": 8192,
            "max_body_bytes": 1024, "header_timeout_seconds": 1.0, "body_timeout_seconds": 1.0,
            "upstream_timeout_seconds": 1.0, "graceful_timeout_seconds": 1.0,
            "shadow_in_flight": 1, "log_interval_seconds": 60.0, "access_log": false,
        }))
        .unwrap();
        assert_eq!(config.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(config.drain_delay_seconds.to_bits(), 0_f64.to_bits()); // no drain unless asked
    }
}
