//! Proxying to gunicorn on its Unix socket, as the buffering proxy its documentation
//! asks for: a request reaches gunicorn only once the front has all of it, so a slow
//! client never holds a worker thread. Responses stream back as gunicorn writes them.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;

use super::body::{front_error, Body};

/// The Python logger of an unreachable gunicorn (`flask_rustpath.front.proxy`): an
/// error, which Python writes to stderr even with no logging configured.
const LOG: &str = "flask_rustpath::front::proxy";

/// gunicorn behind the front.
pub struct Upstream {
    client: Client<UnixConnector, Full<Bytes>>,
    /// `unix://<hex of the socket path>:0`, the authority hyperlocal dials.
    authority: String,
    max_body_bytes: usize,
    body_timeout: Duration,
    response_timeout: Duration,
}

/// Why a proxied request got no answer from gunicorn.
#[derive(Debug)]
pub enum UpstreamError {
    /// gunicorn did not start answering in time.
    Timeout,
    /// The socket refused or the connection broke.
    Unavailable(String),
}

impl Upstream {
    #[must_use]
    pub fn new(
        socket: &Path,
        max_body_bytes: usize,
        body_timeout: Duration,
        response_timeout: Duration,
    ) -> Self {
        let hex = socket
            .to_string_lossy()
            .bytes()
            .fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            });
        // Idle connections close before gunicorn's keep-alive would close them under us.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(256)
            .set_host(false)
            .build(UnixConnector);
        Self {
            client,
            authority: format!("unix://{hex}:0"),
            max_body_bytes,
            body_timeout,
            response_timeout,
        }
    }

    /// Buffers `request` and forwards it; every failure is a JSON answer.
    pub async fn forward(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> (Response<Body>, &'static str) {
        let (parts, body) = request.into_parts();
        if let Some((status, code, message)) = gunicorn_refuses(&parts) {
            let response = front_error(status, code, &message);
            return (close(response), "malformed");
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_body_bytes as u64) {
            return (too_large(self.max_body_bytes), "too_large");
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
                return (close(response), "body_timeout");
            }
            Ok(Err(err))
                if err
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return (close(too_large(self.max_body_bytes)), "too_large");
            }
            Ok(Err(_)) => {
                let response = front_error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the request body is malformed",
                );
                return (close(response), "malformed");
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let Ok(uri) = format!("{}{target}", self.authority).parse::<Uri>() else {
            let response = front_error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request target is not a path",
            );
            return (response, "malformed");
        };
        let mut upstream = Request::new(Full::new(body));
        *upstream.method_mut() = parts.method;
        *upstream.uri_mut() = uri;
        *upstream.headers_mut() = parts.headers;
        let headers = upstream.headers_mut();
        strip_hop_by_hop(headers);
        add_forwarded(headers, peer);
        match self.send(upstream).await {
            Ok(mut response) => {
                strip_hop_by_hop(response.headers_mut());
                (response.map(BodyExt::boxed), "proxied")
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

    /// A GET of `path_and_query` from the front itself (health, metrics, shadow).
    ///
    /// # Errors
    /// No answer within `timeout`.
    pub async fn get(
        &self,
        path_and_query: &str,
        timeout: Duration,
    ) -> Result<(StatusCode, HeaderMap, Bytes), UpstreamError> {
        let uri = format!("{}{path_and_query}", self.authority)
            .parse::<Uri>()
            .map_err(|err| UpstreamError::Unavailable(err.to_string()))?;
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.uri_mut() = uri;
        request
            .headers_mut()
            .insert(header::HOST, HeaderValue::from_static("localhost"));
        let work = async {
            let response = self.send(request).await?;
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(|err| UpstreamError::Unavailable(err.to_string()))?
                .to_bytes();
            Ok((parts.status, parts.headers, bytes))
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| UpstreamError::Timeout)?
    }

    async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        match tokio::time::timeout(self.response_timeout, self.client.request(request)).await {
            Err(_) => Err(UpstreamError::Timeout),
            Ok(Err(err)) => Err(UpstreamError::Unavailable(err.to_string())),
            Ok(Ok(response)) => Ok(response),
        }
    }
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
