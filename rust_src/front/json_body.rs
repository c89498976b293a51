//! The arguments of a route whose kernel reads parameters from a JSON object body, as
//! the Flask side's `read_parameters` reads them; or `None`, and gunicorn answers.
//!
//! The front answers a request natively only where its answer cannot differ from
//! Flask's: a `Content-Type` of `application/json`, a body that is a JSON object in
//! UTF-8, and every parameter in it with a value its annotation takes (checked as
//! `core/parameters.py::_json_value` checks it, converted as it converts). Anything
//! else goes to gunicorn with the body already read, and the app answers it: another
//! content type (a form, a query string), a body Python reads and serde does not (a
//! byte-order mark, UTF-16, `NaN`, an integer beyond 64 bits, deep nesting), a body
//! that is not an object, a parameter missing (its default is Python's) or ill-typed,
//! and a limited value Python measures in its own words (a float, a bool).

use hyper::header::{HeaderMap, CONTENT_TYPE};
use serde_json::{Map, Value as Json};

use super::config::{Kind, KindType, RouteConfig};
use super::routes::Value;

/// The route's arguments: `url`'s, then its parameters' from `body`.
#[must_use]
pub fn arguments(
    route: &RouteConfig,
    headers: &HeaderMap,
    body: &[u8],
    mut url: Vec<(String, Value)>,
) -> Option<Vec<(String, Value)>> {
    if !is_json(headers) {
        return None;
    }
    let Json::Object(mut object) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    for parameter in &route.parameters {
        let value = checked(&parameter.kind, object.remove(&parameter.name)?)?;
        url.push((parameter.name.clone(), Value::Json(value)));
    }
    let measurable = |value: &Value| match value {
        Value::Json(Json::Number(n)) => n.is_i64() || n.is_u64(),
        Value::Json(Json::Bool(_)) => false,
        _ => true,
    };
    let limited = route.limits.iter().filter_map(|limit| {
        url.iter()
            .find(|(name, _)| *name == limit.argument)
            .map(|(_, value)| value)
    });
    limited.into_iter().all(measurable).then_some(url)
}

/// Whether the request's one `Content-Type` is `application/json` (any parameters), as
/// Werkzeug's `is_json` would say; `application/*+json` and the unusual go to gunicorn.
fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    value.to_str().is_ok_and(|text| {
        let mimetype = text.split(';').next().unwrap_or_default().trim();
        mimetype.eq_ignore_ascii_case("application/json")
    })
}

/// `value` as the kernel gets it from Python (an integer for a float parameter becomes
/// a float), or `None` if Python would refuse it.
fn checked(kind: &Kind, value: Json) -> Option<Json> {
    if kind.type_ == KindType::Any {
        return as_python_reads(value);
    }
    if value.is_null() {
        return kind.nullable.then_some(Json::Null);
    }
    let item = |value: Json| match &kind.item {
        Some(item) => checked(item, value),
        None => Some(value),
    };
    match (kind.type_, value) {
        (KindType::Bool, value @ Json::Bool(_)) | (KindType::Str, value @ Json::String(_)) => {
            Some(value)
        }
        // Written back in plain form: `-0` is the integer 0, as `json.loads` reads it.
        (KindType::Int, Json::Number(n)) => integer(&n),
        // An integer given for a float is converted from its value (`-0` is 0.0).
        (KindType::Float, Json::Number(n)) => match integer(&n) {
            Some(Json::Number(i)) => i.as_f64().map(Json::from),
            _ => n.as_f64().filter(|x| x.is_finite()).map(Json::from),
        },
        (KindType::List, Json::Array(items)) => items
            .into_iter()
            .map(item)
            .collect::<Option<Vec<_>>>()
            .map(Json::Array),
        (KindType::Dict, Json::Object(map)) => map
            .into_iter()
            .map(|(key, value)| Some((key, item(value)?)))
            .collect::<Option<Map<_, _>>>()
            .map(Json::Object),
        _ => None,
    }
}

/// `n` as a JSON integer in plain form, if it is one that fits 64 bits (a larger one
/// Python keeps exact, and Rust would not: such a request goes to gunicorn).
fn integer(n: &serde_json::Number) -> Option<Json> {
    if n.to_string().contains(['.', 'e', 'E']) {
        return None;
    }
    n.as_i64()
        .map(Json::from)
        .or_else(|| n.as_u64().map(Json::from))
}

/// A value of an unannotated parameter as Python reads it, numbers in plain form; `None`
/// for one the kernel would read differently (an integer beyond 64 bits, which Python
/// keeps exact, or a float that overflows to infinity).
fn as_python_reads(value: Json) -> Option<Json> {
    match value {
        Json::Number(n) => integer(&n).or_else(|| {
            n.as_f64()
                .filter(|x| x.is_finite() && n.to_string().contains(['.', 'e', 'E']))
                .map(Json::from)
        }),
        Json::Array(items) => items
            .into_iter()
            .map(as_python_reads)
            .collect::<Option<Vec<_>>>()
            .map(Json::Array),
        Json::Object(map) => map
            .into_iter()
            .map(|(key, value)| Some((key, as_python_reads(value)?)))
            .collect::<Option<Map<_, _>>>()
            .map(Json::Object),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn route(parameters: &serde_json::Value, limits: &serde_json::Value) -> RouteConfig {
        let answer = serde_json::json!({"status": 200, "headers": [], "body": ""});
        serde_json::from_value(serde_json::json!({
            "kernel": "k", "entry": "e", "segments": [], "plain_native": true,
            "shadow_rate": 0.0, "limits": limits, "concurrency": null, "inline_below": null,
            "methods": ["POST"], "parameters": parameters,
            "answers": {"ok": answer, "overloaded": answer, "bad_input": answer,
                "deadline_exceeded": answer, "rust_panic": answer, "invalid_result": answer},
        }))
        .unwrap()
    }

    fn words_and_n() -> RouteConfig {
        route(
            &serde_json::json!([
                {"name": "words", "kind": {"type": "list", "nullable": false,
                    "item": {"type": "str", "nullable": false}}},
                {"name": "n", "kind": {"type": "int", "nullable": false}},
                {"name": "x", "kind": {"type": "float", "nullable": true}},
            ]),
            &serde_json::json!([{"argument": "x", "limit_json": "1.5",
                "answer": {"status": 422, "headers": [], "body": ""}}]),
        )
    }

    fn json_headers(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
        headers
    }

    fn read(body: &str) -> Option<String> {
        let headers = json_headers("application/json");
        arguments(&words_and_n(), &headers, body.as_bytes(), vec![])
            .map(|args| super::super::routes::arguments_json(&args))
    }

    #[test]
    fn reads_checks_and_converts_as_python_does() {
        assert_eq!(
            read(r#"{"n": 2, "x": null, "words": ["a"], "extra": 1}"#).as_deref(),
            Some(r#"{"words":["a"],"n":2,"x":null}"#)
        );
        assert_eq!(
            read(r#"{"n": 1, "n": 2, "x": null, "words": []}"#).as_deref(),
            Some(r#"{"words":[],"n":2,"x":null}"#)
        );
    }

    #[test]
    fn leaves_whatever_python_answers_its_own_way_to_gunicorn() {
        for body in [
            "",
            "[]",
            "null",
            r#"{"words": ["a"], "n": 2}"#,              // x missing
            r#"{"words": ["a"], "n": 2.0, "x": null}"#, // not an int
            r#"{"words": ["a"], "n": true, "x": null}"#,
            r#"{"words": [1], "n": 2, "x": null}"#,
            r#"{"words": "a", "n": 2, "x": null}"#,
            r#"{"words": null, "n": 2, "x": null}"#,
            r#"{"words": [], "n": 100000000000000000000, "x": null}"#,
            r#"{"words": [], "n": 1, "x": NaN}"#,
            r#"{"words": [], "n": 1, "x": 1.0}"#, // a limited float: Python's words
            "\u{feff}{\"words\": [], \"n\": 1, \"x\": null}",
            r#"{"words": [], "n": 1, "x": null} x"#,
        ] {
            assert_eq!(read(body), None, "{body}");
        }
        let body = br#"{"words": [], "n": 1, "x": null}"#;
        for content_type in [
            "text/plain",
            "application/problem+json",
            "application/jsonx",
        ] {
            let headers = json_headers(content_type);
            assert!(arguments(&words_and_n(), &headers, body, vec![]).is_none());
        }
        assert!(arguments(&words_and_n(), &HeaderMap::new(), body, vec![]).is_none());
        let headers = json_headers("Application/JSON ; charset=utf-8");
        assert!(arguments(&words_and_n(), &headers, body, vec![]).is_some());
    }

    #[test]
    fn a_float_parameter_gets_a_float() {
        let config = route(
            &serde_json::json!([{"name": "x", "kind": {"type": "float", "nullable": false}}]),
            &serde_json::json!([]),
        );
        let headers = json_headers("application/json");
        let args = arguments(&config, &headers, br#"{"x": 3}"#, vec![]).unwrap();
        assert_eq!(super::super::routes::arguments_json(&args), r#"{"x":3.0}"#);
        // `-0` is the integer 0 to Python, so 0.0, not -0.0.
        let args = arguments(&config, &headers, br#"{"x": -0}"#, vec![]).unwrap();
        assert_eq!(super::super::routes::arguments_json(&args), r#"{"x":0.0}"#);
        // Seventeen digits survive exactly.
        let args = arguments(
            &config,
            &headers,
            br#"{"x": 1.889489264581564e-19}"#,
            vec![],
        );
        assert_eq!(
            super::super::routes::arguments_json(&args.unwrap()),
            r#"{"x":1.889489264581564e-19}"#
        );
    }

    #[test]
    fn numbers_are_written_as_python_reads_them() {
        assert_eq!(
            read(r#"{"words": [], "n": -0, "x": null}"#).as_deref(),
            Some(r#"{"words":[],"n":0,"x":null}"#)
        );
        let any = route(
            &serde_json::json!([{"name": "v", "kind": {"type": "any", "nullable": true}}]),
            &serde_json::json!([]),
        );
        let headers = json_headers("application/json");
        let read_any = |body: &str| {
            arguments(&any, &headers, body.as_bytes(), vec![])
                .map(|args| super::super::routes::arguments_json(&args))
        };
        assert_eq!(
            read_any(r#"{"v": [-0, 1e5, {"a": 2}]}"#).as_deref(),
            Some(r#"{"v":[0,100000.0,{"a":2}]}"#)
        );
        assert_eq!(read_any(r#"{"v": 1E400}"#), None); // inf to Python
        assert_eq!(read_any(r#"{"v": [100000000000000000000]}"#), None); // exact to Python
    }
}
