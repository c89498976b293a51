//! Filling an answer the Flask side rendered ([`Template`]) with one call's values.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

use super::body::Body;
use super::config::Template;

/// A value for a `{slot}`.
#[derive(Clone, Copy, Debug)]
pub enum Slot<'a> {
    /// Inserted as it is: JSON text in a body, or a header's text.
    Raw(&'a str),
    /// Inserted JSON-escaped, for a slot inside a JSON string.
    Text(&'a str),
}

/// `template` with `{{`/`}}` as braces and each `{name}` replaced by its slot; a name
/// with no slot stays as written.
#[must_use]
pub fn fill(template: &str, slots: &[(&str, Slot<'_>)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        let slot = tail.strip_prefix('{').and_then(|inner| {
            let end = inner.find('}')?;
            let name = &inner[..end];
            slots
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (end + 2, *value))
        });
        match slot {
            Some((length, Slot::Raw(value))) => {
                out.push_str(value);
                rest = &tail[length..];
            }
            Some((length, Slot::Text(value))) => {
                let quoted = serde_json::to_string(value).unwrap_or_else(|_| "\"\"".into());
                out.push_str(&quoted[1..quoted.len() - 1]);
                rest = &tail[length..];
            }
            None => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The response `template` describes, with its slots filled.
#[must_use]
pub fn respond(template: &Template, slots: &[(&str, Slot<'_>)]) -> Response<Body> {
    let body = fill(&template.body, slots);
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() =
        StatusCode::from_u16(template.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in &template.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&fill(value, slots)),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_slots_and_keeps_literal_braces() {
        let slots = [
            ("result", Slot::Raw("[1,2]")),
            ("message", Slot::Text("say \"no\"\n")),
        ];
        assert_eq!(
            fill("{{\"result\":{result}}}\n", &slots),
            "{\"result\":[1,2]}\n"
        );
        assert_eq!(
            fill("{{\"message\":\"{message}\"}}", &slots),
            "{\"message\":\"say \\\"no\\\"\\n\"}"
        );
        // A name with no slot, or a lone brace, stays as written.
        assert_eq!(fill("{other} { x", &slots), "{other} { x");
    }

    #[test]
    fn a_response_has_the_templates_status_headers_and_body() {
        let template = Template {
            status: 503,
            headers: vec![
                ("Retry-After".into(), "1".into()),
                ("Server-Timing".into(), "rust;dur={ms}".into()),
                ("Bad Name".into(), "skipped".into()),
            ],
            body: "{{}}".into(),
        };
        let response = respond(&template, &[("ms", Slot::Raw("1.500"))]);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(response.headers()["server-timing"], "rust;dur=1.500");
        assert_eq!(response.headers().len(), 2);
    }
}
