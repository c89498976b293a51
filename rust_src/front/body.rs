//! The body of every response the front writes, and the JSON of its own answers: the
//! error bodies as the Flask side writes them, and JSON responses.
//!
//! The bottom of the front's modules: it imports none of them, and all of them may
//! import it.

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

/// Why a response body stopped short: the app's connection broke, or the temporary file
/// a proxied response was buffered in failed.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response the front writes.
pub type Body = UnsyncBoxBody<Bytes, BodyError>;

/// A JSON string literal.
#[must_use]
pub fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// `{"error": code, "message": message, ...extra}` plus a newline, as the Flask side
/// writes errors. `extra` holds `(key, JSON text)` pairs.
#[must_use]
pub fn error_body(code: &str, message: &str, extra: &[(&str, String)]) -> String {
    let mut body = format!(
        "{{\"error\":{},\"message\":{}",
        quoted(code),
        quoted(message)
    );
    for (key, json) in extra {
        body.push(',');
        body.push_str(&quoted(key));
        body.push(':');
        body.push_str(json);
    }
    body.push_str("}\n");
    body
}

/// A JSON response.
#[must_use]
pub fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A JSON error from the front itself.
#[must_use]
pub fn front_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, error_body(code, message, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_read_like_flasks() {
        assert_eq!(
            error_body("overloaded", "busy \"now\"", &[("kernel", quoted("k")), ("limit", "3".into())]),
            "{\"error\":\"overloaded\",\"message\":\"busy \\\"now\\\"\",\"kernel\":\"k\",\"limit\":3}\n"
        );
    }
}
