//! Accepting, serving and draining: the front's HTTP/1.1 server.
//!
//! Each connection gets a header timeout and a head-size bound; a request is answered
//! natively when [`super::routes`] matches it, by the front itself at the health and
//! metrics URLs, and by gunicorn otherwise. At most [`Config::max_connections`] client
//! connections are open at once. On `SIGTERM` the front first drains for
//! [`Config::drain_delay_seconds`]: its health URL answers 503 `draining` at once, so
//! that load balancers and Kubernetes take it out of rotation, while it keeps accepting
//! and serving everything else (each answer then says `connection: close`, so no idle
//! keep-alive connection is left for a balancer to reuse). Then, or at once on `SIGINT`
//! or a second `SIGTERM`, it stops accepting (taking the connections the kernel already
//! completed), lets every request it has read finish, closes idle keep-alive
//! connections, and returns. On `SIGHUP` it keeps serving and passes the signal on to
//! gunicorn's master, which reloads the app.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::access_log::AccessLog;
use super::body::{json_response, Body};
use super::config::Config;
use super::json_body;
use super::metrics::FrontMetrics;
use super::native::{answer, Admission, NativeRoute};
use super::proxy::{refused_framing, refused_target, Upstream, UpstreamError};
use super::routes::{Match, Table, Value as Argument, Variant};
use super::shadow::Shadow;
use super::wire::{self, JsonIo, Tracked};
use crate::native_abi::Entry;

/// The Python logger (`flask_rustpath.front`, through pyo3-log) of the front's own
/// lines: starting, stopping, accept failures. They are warnings or errors on purpose:
/// with no logging configured, Python writes exactly those levels to stderr as the bare
/// message (`logging.lastResort`), the text `flask rustpath serve` has always printed
/// there. They are logged while the serving thread has the GIL released, so taking it
/// for a line only waits for Python's other threads.
const LOG: &str = "flask_rustpath::front";

/// Time the front's own GETs to the app (health, metrics) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

struct Front {
    table: Table,
    native: Vec<NativeRoute>,
    admission: Admission,
    deadline: Option<Duration>,
    upstream: Arc<Upstream>,
    metrics: Arc<FrontMetrics>,
    shadow: Arc<Shadow>,
    health_path: String,
    metrics_path: String,
    access_log: Option<AccessLog>,
    /// Set on `SIGTERM`, for the drain delay: the health URL answers 503 `draining`.
    draining: AtomicBool,
}

/// Serves until `SIGTERM` or `SIGINT` and a graceful drain; blocks the calling thread.
///
/// # Errors
/// A message when the configuration names an unknown entry, the runtime cannot start
/// or the address cannot be bound.
#[allow(clippy::implicit_hasher)] // built once, by the binding
pub fn run(config: Config, entries: &HashMap<String, Entry>) -> Result<(), String> {
    // One serving thread needs no work stealing: a current-thread runtime saves the
    // multi-thread scheduler's bookkeeping on every wake-up. The calling thread (the
    // binding's, with the GIL released) then serves, accepts and waits for signals,
    // and the thread name below names only the blocking threads.
    let mut builder = if config.io_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(config.io_threads);
        builder
    };
    let runtime = builder
        .thread_name("rustpath-front")
        .enable_all()
        .build()
        .map_err(|err| format!("could not start the front's runtime: {err}"))?;
    runtime.block_on(serve(config, entries))
}

fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
}

#[allow(clippy::implicit_hasher)]
async fn serve(config: Config, entries: &HashMap<String, Entry>) -> Result<(), String> {
    let metrics = Arc::new(FrontMetrics::default());
    let table = Table::new(&config.routes, config.rust_prefix.clone());
    let mut native = Vec::with_capacity(config.routes.len());
    for route in config.routes {
        let entry = *entries.get(&route.entry).ok_or_else(|| {
            format!(
                "no native entry {:?} for kernel {:?}",
                route.entry, route.kernel
            )
        })?;
        let (ok_count, seconds) = metrics.ok_handles(&route.kernel);
        native.push(NativeRoute {
            own_slots: route.concurrency.map(|n| Arc::new(Semaphore::new(n))),
            entry,
            config: route,
            ok_count,
            seconds,
        });
    }
    let upstream = Arc::new(Upstream::new(
        &config.upstream,
        config.upstream_connections,
        config.max_body_bytes,
        seconds(config.body_timeout_seconds),
        seconds(config.upstream_timeout_seconds),
    ));

    let shadow = Arc::new(Shadow::new(
        Arc::clone(&upstream),
        Arc::clone(&metrics),
        config.python_prefix.clone(),
        config.shadow_in_flight,
        seconds(config.log_interval_seconds),
    ));
    let access_log = if config.access_log {
        let log = AccessLog::start(metrics.access_log_dropped())
            .map_err(|err| format!("could not start the access log: {err}"))?;
        Some(log)
    } else {
        None
    };
    let front = Arc::new(Front {
        table,
        native,
        admission: Admission {
            slots: Arc::new(Semaphore::new(config.rust_slots.max(1))),
            waiting: Arc::new(Semaphore::new(config.queue)),
            wait: seconds(config.admission_wait_seconds),
        },
        deadline: config.deadline_seconds.map(seconds),
        upstream,
        metrics,
        shadow,
        health_path: config.health_path.clone(),
        metrics_path: config.metrics_path.clone(),
        access_log,
        draining: AtomicBool::new(false),
    });
    // Before anything slow: from here on the front, not Python, handles these.
    let mut terminate = signal(SignalKind::terminate()).map_err(|err| err.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|err| err.to_string())?;
    let mut hangup = signal(SignalKind::hangup()).map_err(|err| err.to_string())?;
    let listener = listen(&config.bind)
        .await
        .map_err(|err| format!("could not listen on {}: {err}", config.bind))?;
    let local = listener.local_addr().map_err(|err| err.to_string())?;
    log::warn!(
        target: LOG,
        "[flask-rustpath front pid {}] listening on http://{local}, {} native route(s), app on {}",
        std::process::id(),
        front.native.len(),
        config.upstream.display()
    );
    let connection = ConnectionSettings {
        header_timeout: seconds(config.header_timeout_seconds),
        max_buf: config.max_header_bytes.max(8192),
        send_timeout: seconds(config.send_timeout_seconds),
    };
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut connections = JoinSet::new();
    // Armed by the first SIGTERM when a drain delay is configured.
    let mut drain: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    loop {
        tokio::select! {
            (slot, accepted) = accept_bounded(&listener, &slots) => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(Arc::clone(&front), stream, peer, connection, graceful.watcher(), slot));
                }
                Err(err) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    log::error!(target: LOG, "[flask-rustpath front pid {}] accept failed: {err}", std::process::id());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = terminate.recv() => {
                if drain.is_some() || config.drain_delay_seconds <= 0.0 {
                    break;
                }
                front.draining.store(true, Ordering::SeqCst);
                log::warn!(
                    target: LOG,
                    "[flask-rustpath front pid {}] draining: {} answers 503 for {} s while serving the rest, then stopping",
                    std::process::id(),
                    front.health_path,
                    config.drain_delay_seconds
                );
                drain = Some(Box::pin(tokio::time::sleep(seconds(config.drain_delay_seconds))));
            }
            () = async { drain.as_mut().expect("guarded").await }, if drain.is_some() => break,
            _ = interrupt.recv() => break,
            _ = hangup.recv() => reload(&front.upstream, config.app_pid),
        }
        while connections.try_join_next().is_some() {}
    }
    // Connections the kernel completed before we stopped listening get served too, as
    // far as the bound allows.
    while let Ok(slot) = Arc::clone(&slots).try_acquire_owned() {
        let Ok(Ok((stream, peer))) = tokio::time::timeout(Duration::ZERO, listener.accept()).await
        else {
            break;
        };
        connections.spawn(serve_connection(
            Arc::clone(&front),
            stream,
            peer,
            connection,
            graceful.watcher(),
            slot,
        ));
    }
    drop(listener);
    let open = connections.len();
    log::warn!(
        target: LOG,
        "[flask-rustpath front pid {}] stopping: {open} connection(s) to finish",
        std::process::id()
    );
    let drained = tokio::time::timeout(seconds(config.graceful_timeout_seconds), async {
        // Every connection finishes the request in flight (its answer says
        // `connection: close`) and closes; idle ones close at once.
        graceful.shutdown().await;
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        log::warn!(
            target: LOG,
            "[flask-rustpath front pid {}] {} connection(s) still busy after {} s: closed",
            std::process::id(),
            connections.len(),
            config.graceful_timeout_seconds
        );
    }
    Ok(())
}

/// Connections the kernel completes and queues before the front accepts them:
/// gunicorn's `backlog` (the kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 2048;

/// A listener on the first address `bind` resolves to, with [`LISTEN_BACKLOG`].
async fn listen(bind: &str) -> io::Result<TcpListener> {
    let address = tokio::net::lookup_host(bind)
        .await?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::AddrNotAvailable, "no address"))?;
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std and tokio's own `bind` do: a restart may listen while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// `SIGHUP`: the app reloads and the front keeps serving. Idle connections to the old
/// workers close, and gunicorn's master gets the `SIGHUP` (gunicorn's graceful reload:
/// new workers start, the old ones finish what they were given and stop).
fn reload(upstream: &Upstream, app_pid: Option<u32>) {
    upstream.reload();
    let Some(pid) = app_pid.and_then(|pid| libc::pid_t::try_from(pid).ok()) else {
        log::warn!(target: LOG, "[flask-rustpath front pid {}] SIGHUP: no app process to reload", std::process::id());
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    #[allow(unsafe_code)]
    let sent = unsafe { libc::kill(pid, libc::SIGHUP) };
    if sent == 0 {
        log::warn!(target: LOG, "[flask-rustpath front pid {}] SIGHUP: reloading the app (gunicorn pid {pid})", std::process::id());
    } else {
        let err = io::Error::last_os_error();
        log::error!(target: LOG, "[flask-rustpath front pid {}] SIGHUP: could not signal gunicorn pid {pid}: {err}", std::process::id());
    }
}

/// A slot of `slots` (waiting while all are taken), then the next connection. The
/// connection keeps the slot until it closes; a failed accept gives it back.
async fn accept_bounded(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (OwnedSemaphorePermit, io::Result<(TcpStream, SocketAddr)>) {
    let slot = Arc::clone(slots)
        .acquire_owned()
        .await
        .expect("the connection bound is never closed");
    (slot, listener.accept().await)
}

#[derive(Clone, Copy)]
struct ConnectionSettings {
    header_timeout: Duration,
    max_buf: usize,
    send_timeout: Duration,
}

async fn serve_connection(
    front: Arc<Front>,
    stream: TcpStream,
    peer: SocketAddr,
    settings: ConnectionSettings,
    graceful: Watcher,
    // Released as the connection closes (or its task is dropped).
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let io = JsonIo::new(stream, settings.send_timeout);
    let closed = Arc::clone(&io.closed);
    let metrics = Arc::clone(&front.metrics);
    let busy = Arc::clone(&io.busy);
    let service = service_fn(move |request| {
        let front = Arc::clone(&front);
        let busy = Arc::clone(&busy);
        async move {
            // Logged as 499 if this future is dropped unanswered.
            let entry = front
                .access_log
                .as_ref()
                .map(|log| log.begin(peer.ip(), &request));
            let response = Arc::clone(&front).handle(request, peer).await;
            if let Some(entry) = entry {
                entry.finish(
                    response.status().as_u16(),
                    response.body().size_hint().exact(),
                );
            }
            let mut response = response.map(|body| Tracked::new(body, &busy));
            if front.draining.load(Ordering::Relaxed) {
                // hyper closes the connection after this answer: a balancer sends the
                // next request on a new connection, to a replica that is not draining.
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        // A client may shut its sending side once its request is out: still answer it.
        .half_close(true)
        .max_buf_size(settings.max_buf);
    // On shutdown: finish the request in flight (its answer says `connection: close`),
    // then close. Pinned here so that the connection outlives the error's record below.
    let mut conn = pin!(graceful.watch(builder.serve_connection(TokioIo::new(io), service)));
    let result = conn.as_mut().await;
    if let Err(err) = result {
        let (kind, reason) = if err.is_timeout() {
            (wire::CLOSED_TIMED_OUT, "header_timeout")
        } else if err.is_parse() || err.is_parse_too_large() || err.is_parse_status() {
            (wire::CLOSED_MALFORMED, "malformed")
        } else {
            (wire::CLOSED_CLEANLY, "connection_error")
        };
        closed.store(kind, Ordering::Relaxed);
        metrics.refused(reason);
    }
    // The connection, and the socket in it, drop here: see `JsonIo`'s `Drop`.
}

impl Front {
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        let started = Instant::now();
        if let Some(refused) = refused_target(request.method(), request.uri())
            .or_else(|| refused_framing(request.headers()))
        {
            self.metrics.refused("malformed");
            return refused;
        }
        let readable = matches!(*request.method(), Method::GET | Method::HEAD);
        let path = request.uri().path();
        let (response, handler) = if readable && path == self.health_path {
            (self.health().await, "health".to_owned())
        } else if readable && path == self.metrics_path {
            (self.metrics_page().await, "metrics".to_owned())
        } else if let Some(found) = self.table.find(path).filter(|found| {
            let config = &self.native[found.route].config;
            if config.parameters.is_empty() {
                readable
            } else {
                config
                    .methods
                    .iter()
                    .any(|m| m == request.method().as_str())
            }
        }) {
            let route = &self.native[found.route];
            let Match {
                variant, arguments, ..
            } = found;
            if route.config.parameters.is_empty() {
                let target = request
                    .uri()
                    .path_and_query()
                    .map_or(path, |pq| pq.as_str());
                return self
                    .native_answer(route, variant, arguments, target, None, started)
                    .await;
            }
            let target = request
                .uri()
                .path_and_query()
                .map_or(path, |pq| pq.as_str())
                .to_owned();
            // Read as a proxied body is (its limit and timeout), then answered here, or
            // handed to gunicorn as read when Flask's answer is the app's to word.
            match self.upstream.read(request).await {
                Err((response, outcome)) => {
                    self.metrics.refused(outcome);
                    (response, "proxied".to_owned())
                }
                Ok((parts, body)) => {
                    let arguments =
                        json_body::arguments(&route.config, &parts.headers, &body, arguments);
                    if let Some(arguments) = arguments {
                        let request = Some((parts.method, body));
                        return self
                            .native_answer(route, variant, arguments, &target, request, started)
                            .await;
                    }
                    let (response, outcome) = self.upstream.forward_read(parts, body, peer).await;
                    if outcome != "proxied" {
                        self.metrics.refused(outcome);
                    }
                    (response, "proxied".to_owned())
                }
            }
        } else {
            let (response, outcome) = self.upstream.forward(request, peer).await;
            if outcome != "proxied" {
                self.metrics.refused(outcome);
            }
            (response, "proxied".to_owned())
        };
        self.metrics.request(
            &handler,
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
        response
    }

    /// One native call of `route` and its metrics; a plain-rule success is offered to
    /// the shadow, with the method and body of a JSON-body route (`request`).
    async fn native_answer(
        &self,
        route: &NativeRoute,
        variant: Variant,
        arguments: Vec<(String, Argument)>,
        target: &str,
        request: Option<(Method, Bytes)>,
        started: Instant,
    ) -> Response<Body> {
        let answer = answer(route, &arguments, &self.admission, self.deadline).await;
        let Some(result) = answer.result else {
            let status = answer.response.status().as_u16();
            let seconds = started.elapsed().as_secs_f64();
            self.metrics.request(&route.config.kernel, status, seconds);
            return answer.response;
        };
        if variant == Variant::Plain && self.shadow.sampled(route.config.shadow_rate) {
            self.shadow
                .offer(&route.config.kernel, target, result, request);
        }
        route.ok_count.inc();
        route.seconds.observe(started.elapsed().as_secs_f64());
        answer.response
    }

    /// The front's health and the app's own answer at the same URL; while draining, 503
    /// `draining` at once, without asking the app.
    async fn health(&self) -> Response<Body> {
        if self.draining.load(Ordering::Relaxed) {
            let body = json!({
                "status": "draining",
                "front": {"status": "draining", "pid": std::process::id()},
            });
            return json_response(StatusCode::SERVICE_UNAVAILABLE, format!("{body}\n"));
        }
        let (app, healthy) = match self.upstream.get(&self.health_path, PROBE_TIMEOUT).await {
            // Any answer below 500 means the app serves (an app without this URL
            // answers 404); its own JSON is shown when it has some.
            Ok((status, _, body)) => {
                let answer = serde_json::from_slice::<Value>(&body)
                    .unwrap_or_else(|_| json!({"http_status": status.as_u16()}));
                (answer, status.as_u16() < 500)
            }
            Err(UpstreamError::Timeout) => (
                json!({"status": "unavailable", "reason": "no answer in time"}),
                false,
            ),
            Err(UpstreamError::Unavailable(reason)) => {
                (json!({"status": "unavailable", "reason": reason}), false)
            }
        };
        let status = if healthy {
            app.get("status").cloned().unwrap_or_else(|| json!("ok"))
        } else {
            json!("unavailable")
        };
        let kernels: Vec<&str> = self
            .native
            .iter()
            .map(|route| route.config.kernel.as_str())
            .collect();
        let body = json!({
            "status": status,
            "front": {"status": "ok", "pid": std::process::id(), "native_kernels": kernels},
            "app": app,
        });
        let code = if healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        json_response(code, format!("{body}\n"))
    }

    /// The app's Prometheus text (all workers), then the front's.
    async fn metrics_page(&self) -> Response<Body> {
        let mut text = match self.upstream.get(&self.metrics_path, PROBE_TIMEOUT).await {
            Ok((StatusCode::OK, _, body)) => String::from_utf8_lossy(&body).into_owned(),
            Ok((status, _, _)) => format!("# the app answered {status} at {}\n", self.metrics_path),
            Err(err) => format!("# the app's metrics are unavailable: {err:?}\n"),
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&self.metrics.render());
        let mut response = Response::new(
            Full::new(Bytes::from(text))
                .map_err(|never| match never {})
                .boxed_unsync(),
        );
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepts_no_more_connections_than_the_bound() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let slots = Arc::new(Semaphore::new(1));
        let _first = TcpStream::connect(address).await.unwrap();
        let _second = TcpStream::connect(address).await.unwrap();
        let (slot, accepted) = accept_bounded(&listener, &slots).await;
        assert!(accepted.is_ok());
        // The second client waits in the backlog while the first holds the only slot.
        let waiting = tokio::time::timeout(
            Duration::from_millis(100),
            accept_bounded(&listener, &slots),
        )
        .await;
        assert!(waiting.is_err());
        drop(slot);
        let (_slot, accepted) =
            tokio::time::timeout(Duration::from_secs(10), accept_bounded(&listener, &slots))
                .await
                .unwrap();
        assert!(accepted.is_ok());
        assert_eq!(slots.available_permits(), 0);
    }
}
