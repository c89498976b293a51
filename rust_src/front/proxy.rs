//! Proxying to gunicorn on its Unix socket, as the buffering proxy its documentation
//! asks for: a request reaches gunicorn only once the front has all of it, so a slow
//! client never holds a worker thread; and the response is read from gunicorn as fast
//! as gunicorn writes it ([`super::spool`]), so a slow reader never holds one either.
//!
//! Connections to gunicorn are the front's own pool: at most one per gunicorn thread
//! (workers × threads) is busy at once, a connection is opened only for a request that
//! is sent on it at once (gthread would hold a thread for seconds on a connection that
//! carries no request), and an idle one is kept alive for the next request.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::body::{front_error, Body};
use super::spool::{Spool, SpoolBody, MEMORY_BYTES};

/// The Python logger of an unreachable gunicorn (`flask_rustpath.front.proxy`): an
/// error, which Python writes to stderr even with no logging configured.
const LOG: &str = "flask_rustpath::front::proxy";

/// An idle connection is closed after this long, well before gunicorn's keep-alive
/// (`flask rustpath serve` sets 60 s) would close it under a request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// gunicorn behind the front.
pub struct Upstream {
    pool: Arc<Pool>,
    max_body_bytes: usize,
    body_timeout: Duration,
    response_timeout: Duration,
}

/// The front's connections to gunicorn.
struct Pool {
    socket: PathBuf,
    /// One per gunicorn thread: held from sending a request until its response is read.
    busy: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
    /// Bumped on a reload: idle connections of an older generation are not reused.
    generation: AtomicU64,
}

struct Idle {
    sender: SendRequest<Full<Bytes>>,
    since: Instant,
    generation: u64,
}

/// A connection in use and its slot: back to the pool once its response is read.
struct Lease {
    pool: Arc<Pool>,
    sender: SendRequest<Full<Bytes>>,
    generation: u64,
    _slot: OwnedSemaphorePermit,
}

impl Lease {
    /// The response was read in full: the connection may carry the next request.
    fn release(self) {
        if self.sender.is_closed() || self.generation != self.pool.generation() {
            return;
        }
        let mut idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        idle.push(Idle {
            sender: self.sender,
            since: Instant::now(),
            generation: self.generation,
        });
    }
}

impl Pool {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The most recently used idle connection still open, if any.
    fn checkout(&self) -> Option<(SendRequest<Full<Bytes>>, u64)> {
        let generation = self.generation();
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some(found) = idle.pop() {
            if found.generation == generation
                && !found.sender.is_closed()
                && found.since.elapsed() < IDLE_TIMEOUT
            {
                return Some((found.sender, found.generation));
            }
        }
        None
    }

    /// Idle connections past the timeout are closed (dropping the sender ends the
    /// connection's task, which closes the socket).
    fn sweep(&self) {
        let generation = self.generation();
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        idle.retain(|found| {
            found.generation == generation
                && !found.sender.is_closed()
                && found.since.elapsed() < IDLE_TIMEOUT
        });
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|err| err.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|err| err.to_string())?;
        tokio::spawn(async move {
            // Ends when gunicorn or the pool closes it; its error is the request's.
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// Why a proxied request got no answer from gunicorn.
#[derive(Debug)]
pub enum UpstreamError {
    /// gunicorn did not start answering in time.
    Timeout,
    /// The socket refused or the connection broke.
    Unavailable(String),
}

/// A request as sent to gunicorn, kept so that it can be sent again.
struct Outgoing {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Outgoing {
    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

impl Upstream {
    /// `connections` is gunicorn's workers × threads: requests sent to it at once.
    #[must_use]
    pub fn new(
        socket: &Path,
        connections: usize,
        max_body_bytes: usize,
        body_timeout: Duration,
        response_timeout: Duration,
    ) -> Self {
        let pool = Arc::new(Pool {
            socket: socket.to_path_buf(),
            busy: Arc::new(Semaphore::new(connections.max(1))),
            idle: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
        });
        let sweeper = Arc::downgrade(&pool);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(IDLE_TIMEOUT / 4);
            loop {
                tick.tick().await;
                let Some(pool) = sweeper.upgrade() else { break };
                pool.sweep();
            }
        });
        Self {
            pool,
            max_body_bytes,
            body_timeout,
            response_timeout,
        }
    }

    /// The app reloads (new gunicorn workers): close every idle connection, which
    /// belongs to an old worker, and reuse none that is busy now.
    pub fn reload(&self) {
        self.pool.generation.fetch_add(1, Ordering::Relaxed);
        self.pool.sweep();
    }

    /// Buffers `request` and forwards it; every failure is a JSON answer.
    pub async fn forward(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> (Response<Body>, &'static str) {
        match self.read(request).await {
            Ok((parts, body)) => self.forward_read(parts, body, peer).await,
            Err(refused) => refused,
        }
    }

    /// `request`'s head and its whole body, read within the body limit and timeout the
    /// proxied requests have; or the JSON answer that refuses it and why.
    ///
    /// # Errors
    /// The answer for a request gunicorn would refuse, a body too large, late or
    /// malformed.
    pub async fn read(
        &self,
        request: Request<Incoming>,
    ) -> Result<(Parts, Bytes), (Response<Body>, &'static str)> {
        let (parts, body) = request.into_parts();
        if let Some((status, code, message)) = gunicorn_refuses(&parts) {
            let response = front_error(status, code, &message);
            return Err((close(response), "malformed"));
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_body_bytes as u64) {
            return Err((too_large(self.max_body_bytes), "too_large"));
        }
        let collected = tokio::time::timeout(
            self.body_timeout,
            Limited::new(body, self.max_body_bytes).collect(),
        )
        .await;
        let body = match collected {
            Err(_) => {
                let response = front_error(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the request body was not received in time",
                );
                return Err((close(response), "body_timeout"));
            }
            Ok(Err(err))
                if err
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err((close(too_large(self.max_body_bytes)), "too_large"));
            }
            Ok(Err(_)) => {
                let response = front_error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the request body is malformed",
                );
                return Err((close(response), "malformed"));
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        Ok((parts, body))
    }

    /// Forwards a request [`Self::read`] has read.
    pub async fn forward_read(
        &self,
        parts: Parts,
        body: Bytes,
        peer: SocketAddr,
    ) -> (Response<Body>, &'static str) {
        // Origin form, or `*` for `OPTIONS *`: [`refused_target`] let nothing else by.
        let uri = match parts.uri.path_and_query() {
            Some(target) => Uri::from(target.clone()),
            None => Uri::from_static("/"),
        };
        let mut outgoing = Outgoing {
            method: parts.method,
            uri,
            headers: parts.headers,
            body,
        };
        strip_hop_by_hop(&mut outgoing.headers);
        add_forwarded(&mut outgoing.headers, peer);
        match self.send(&outgoing).await {
            Ok((mut response, lease)) => {
                strip_hop_by_hop(response.headers_mut());
                let response = self.buffered(response, lease).await;
                (response, "proxied")
            }
            Err(UpstreamError::Timeout) => (
                front_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream_timeout",
                    "the app did not answer in time",
                ),
                "upstream_timeout",
            ),
            Err(UpstreamError::Unavailable(reason)) => {
                log::error!(
                    target: LOG,
                    "[flask-rustpath front pid {}] gunicorn unreachable: {reason}",
                    std::process::id()
                );
                (
                    front_error(
                        StatusCode::BAD_GATEWAY,
                        "upstream_unavailable",
                        "the app is not reachable",
                    ),
                    "upstream_unavailable",
                )
            }
        }
    }

    /// The response with its body buffered: read from gunicorn at gunicorn's pace by a
    /// task of its own, which gives the connection back once the body is in.
    async fn buffered(&self, response: Response<Incoming>, lease: Lease) -> Response<Body> {
        let (parts, mut incoming) = response.into_parts();
        let size = incoming.size_hint();
        if incoming.is_end_stream() {
            lease.release();
            let empty = Full::new(Bytes::new()).map_err(|never| match never {});
            return Response::from_parts(parts, empty.boxed_unsync());
        }
        let read_timeout = self.response_timeout;
        if size.exact().is_some_and(|len| len <= MEMORY_BYTES as u64) {
            // Small and of known length, the usual case: read it here, with no task.
            return match tokio::time::timeout(read_timeout, incoming.collect()).await {
                Ok(Ok(collected)) => {
                    lease.release();
                    let full = Full::new(collected.to_bytes()).map_err(|never| match never {});
                    Response::from_parts(parts, full.boxed_unsync())
                }
                _ => front_error(
                    StatusCode::BAD_GATEWAY,
                    "upstream_unavailable",
                    "the app's response broke off",
                ),
            };
        }
        let spool = Spool::new();
        let body = SpoolBody::new(&spool, size);
        tokio::spawn(async move {
            loop {
                match tokio::time::timeout(read_timeout, incoming.frame()).await {
                    Err(_) => {
                        spool.finish(Some("the app stopped sending its response".into()));
                        return;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(err))) => {
                        spool.finish(Some(err.to_string()));
                        return;
                    }
                    Ok(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            if spool.push(data).await.is_err() {
                                return; // the client left: this connection closes
                            }
                        }
                    }
                }
            }
            spool.finish(None);
            lease.release();
        });
        Response::from_parts(parts, BodyExt::boxed_unsync(body))
    }

    /// A GET of `path_and_query` from the front itself (health, metrics, shadow).
    ///
    /// # Errors
    /// No answer within `timeout`.
    pub async fn get(
        &self,
        path_and_query: &str,
        timeout: Duration,
    ) -> Result<(StatusCode, HeaderMap, Bytes), UpstreamError> {
        self.fetch(Method::GET, path_and_query, None, timeout).await
    }

    /// A request of `path_and_query` from the front itself, with a JSON body when
    /// `json` holds one (the shadow of a JSON-body route).
    ///
    /// # Errors
    /// No answer within `timeout`.
    pub async fn fetch(
        &self,
        method: Method,
        path_and_query: &str,
        json: Option<Bytes>,
        timeout: Duration,
    ) -> Result<(StatusCode, HeaderMap, Bytes), UpstreamError> {
        let uri = path_and_query
            .parse::<Uri>()
            .map_err(|err| UpstreamError::Unavailable(err.to_string()))?;
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("localhost"));
        let body = json.unwrap_or_default();
        if !body.is_empty() {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let outgoing = Outgoing {
            method,
            uri,
            headers,
            body,
        };
        let work = async {
            let (response, lease) = self.send(&outgoing).await?;
            let (parts, body) = response.into_parts();
            let bytes = Limited::new(body, 64 * MEMORY_BYTES)
                .collect()
                .await
                .map_err(|err| UpstreamError::Unavailable(err.to_string()))?
                .to_bytes();
            lease.release();
            Ok((parts.status, parts.headers, bytes))
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| UpstreamError::Timeout)?
    }

    /// Sends `outgoing` on an idle connection, or on a new one, once one of gunicorn's
    /// threads is free. A request that fails on a reused connection before any answer
    /// (gunicorn closed it as it went idle, or a stopping worker closed it) is sent
    /// again once, on a new connection: gunicorn reads a request only to answer it.
    async fn send(
        &self,
        outgoing: &Outgoing,
    ) -> Result<(Response<Incoming>, Lease), UpstreamError> {
        let work = async {
            let slot = Arc::clone(&self.pool.busy)
                .acquire_owned()
                .await
                .expect("the pool's semaphore is never closed");
            let mut reused = self.pool.checkout();
            loop {
                let was_reused = reused.is_some();
                let (mut sender, generation) = match reused.take() {
                    Some(found) => found,
                    None => (
                        self.pool
                            .connect()
                            .await
                            .map_err(UpstreamError::Unavailable)?,
                        self.pool.generation(),
                    ),
                };
                let sent = match sender.ready().await {
                    Ok(()) => sender
                        .try_send_request(outgoing.request())
                        .await
                        .map_err(hyper::client::conn::TrySendError::into_error),
                    Err(err) => Err(err),
                };
                match sent {
                    Ok(response) => {
                        let lease = Lease {
                            pool: Arc::clone(&self.pool),
                            sender,
                            generation,
                            _slot: slot,
                        };
                        return Ok((response, lease));
                    }
                    Err(err) if was_reused && went_stale(&err) => {
                        // Try the next idle one, or a new connection.
                        reused = self.pool.checkout();
                    }
                    Err(err) => return Err(UpstreamError::Unavailable(err.to_string())),
                }
            }
        };
        match tokio::time::timeout(self.response_timeout, work).await {
            Err(_) => Err(UpstreamError::Timeout),
            Ok(result) => result,
        }
    }
}

/// Whether a request failed because its reused connection had closed under it: hyper
/// did not send it, or gunicorn closed or reset the connection with no answer.
fn went_stale(err: &hyper::Error) -> bool {
    if err.is_canceled() || err.is_incomplete_message() || err.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            );
        }
        source = cause.source();
    }
    false
}

/// The front's refusal of a request with more than one `Transfer-Encoding` field.
/// hyper reads `chunked` in each as one chunked coding; gunicorn and h11 refuse the
/// request (chunked may be applied once only, RFC 9112 7), and so does the front, so
/// that no peer could read its body another way.
#[must_use]
pub fn refused_framing(headers: &HeaderMap) -> Option<Response<Body>> {
    let mut codings = headers.get_all(header::TRANSFER_ENCODING).iter();
    if codings.next().is_some() && codings.next().is_some() {
        let message = "the request repeats the Transfer-Encoding header";
        return Some(close(front_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            message,
        )));
    }
    None
}

/// The front's refusal of a request target it does not pass on: `CONNECT` (the front
/// tunnels nothing), the authority form (`GET host:port`), which only `CONNECT` may
/// use, and the asterisk form (`*`) but for `OPTIONS *`, which goes to the app as `*`.
/// An absolute form (`GET http://host/path`) goes on as its path. gunicorn and nginx
/// answer these with 400 too.
#[must_use]
pub fn refused_target(method: &Method, uri: &Uri) -> Option<Response<Body>> {
    let refuse = |status, code, message| Some(close(front_error(status, code, message)));
    if method == Method::CONNECT {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the front does not tunnel: CONNECT is not served",
        );
    }
    let asterisk = uri.path() == "*";
    if uri.scheme().is_none() && uri.authority().is_some() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request target is an authority, which only CONNECT takes",
        );
    }
    if asterisk && (method != Method::OPTIONS || uri.scheme().is_some() || uri.query().is_some()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request target * is only for OPTIONS",
        );
    }
    if !asterisk && !uri.path().starts_with('/') {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request target is not a path",
        );
    }
    None
}

/// What gunicorn would refuse with an HTML page, beyond what hyper already refused:
/// the front answers those itself, in JSON.
fn gunicorn_refuses(
    parts: &hyper::http::request::Parts,
) -> Option<(StatusCode, &'static str, String)> {
    let refuse = |status, code, message: String| Some((status, code, message));
    let bad = |message: String| refuse(StatusCode::BAD_REQUEST, "bad_request", message);
    let method = parts.method.as_str();
    if !gunicorn_takes_method(method) {
        return bad(format!("{method:?} is not an HTTP method the app accepts"));
    }
    // Whether any value of header `name` is other than `accepted`.
    let unaccepted = |name, accepted: &[u8]| {
        parts
            .headers
            .get_all(name)
            .iter()
            .any(|value| !value.as_bytes().eq_ignore_ascii_case(accepted))
    };
    if unaccepted(header::EXPECT, b"100-continue") {
        let message = "the only expectation the front meets is 100-continue";
        return refuse(
            StatusCode::EXPECTATION_FAILED,
            "expectation_failed",
            message.into(),
        );
    }
    if unaccepted(header::TRANSFER_ENCODING, b"chunked") {
        // A client error, not the server's (no 501): the request cannot be read.
        let message = "the only transfer coding the front accepts is chunked";
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_transfer_coding",
            message.into(),
        );
    }
    let target = parts.uri.path_and_query().map_or("", |pq| pq.as_str());
    if !target.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return bad("the request target has bytes that must be percent-encoded".into());
    }
    for singleton in [header::HOST, header::CONTENT_TYPE] {
        if parts.headers.get_all(&singleton).iter().count() > 1 {
            return bad(format!("the request repeats the {singleton} header"));
        }
    }
    if parts.headers.values().any(|v| v.as_bytes().contains(&0x7f)) {
        return bad("a header value has a control character".into());
    }
    None
}

/// gunicorn's rule: no lowercase letter or `#`, 3 to 20 characters.
fn gunicorn_takes_method(method: &str) -> bool {
    (3..=20).contains(&method.len()) && !method.bytes().any(|b| b.is_ascii_lowercase() || b == b'#')
}

fn too_large(limit: usize) -> Response<Body> {
    front_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        &format!("the request body is above the front's limit of {limit} bytes"),
    )
}

/// The client may still be sending: do not read on into the next request.
fn close(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Headers that describe one connection, not the message (RFC 9110, 7.6.1).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

/// `X-Forwarded-For` (appended to any the client sent) and `X-Forwarded-Proto`.
fn add_forwarded(headers: &mut HeaderMap, peer: SocketAddr) {
    const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    // gunicorn trusts scheme headers from its socket (the front): only the front sets
    // one, or a client's would contradict it and gunicorn would answer HTML.
    for scheme in ["x-forwarded-ssl", "x-forwarded-protocol", "front-end-https"] {
        headers.remove(scheme);
    }
    let ip = peer.ip().to_string();
    let value = match headers.get(&FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {ip}"),
        None => ip,
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(FORWARDED_FOR, value);
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("http"),
    );
    if !headers.contains_key(header::HOST) {
        headers.insert(header::HOST, HeaderValue::from_static("localhost"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_connection_headers_and_those_it_names() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key(header::CONTENT_TYPE));
    }

    #[test]
    fn refuses_the_methods_gunicorn_would_refuse() {
        for method in ["GET", "POST", "PROPFIND", "M-SEARCH", "X_Y.Z"] {
            assert!(gunicorn_takes_method(method), "{method}");
        }
        for method in ["get", "Get", "GE", "A#B", "ABCDEFGHIJKLMNOPQRSTU"] {
            assert!(!gunicorn_takes_method(method), "{method}");
        }
    }

    #[test]
    fn appends_the_peer_to_x_forwarded_for() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        add_forwarded(&mut headers, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers[header::HOST], "localhost");
    }
}
