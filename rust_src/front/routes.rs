//! Matching a request path to a native route, as Flask's router would.
//!
//! Only the unambiguous cases are matched: an exact rule with ASCII digits for `int`
//! (no leading zero) and plain text for `string`. Anything else (percent-escapes, a
//! trailing slash, another converter) is not a native match and goes to gunicorn,
//! which answers exactly as the app does.

use super::config::{RouteConfig, Segment};

/// Which URL of a paired route a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// `/rust<rule>`: always native.
    Rust,
    /// `<rule>`: native when the kernel's backend runs Rust.
    Plain,
}

/// A matched variable's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Canonical decimal digits.
    Int(String),
    Text(String),
    /// A value read from a JSON body, checked against its parameter's annotation.
    Json(serde_json::Value),
}

/// A native match: the route's index, the variant and the arguments in rule order.
#[derive(Debug, PartialEq, Eq)]
pub struct Match {
    pub route: usize,
    pub variant: Variant,
    pub arguments: Vec<(String, Value)>,
}

/// What a native route's URLs look like.
#[derive(Debug)]
struct Pattern {
    segments: Vec<Segment>,
    plain_native: bool,
}

/// The native routes' patterns, in the order of the routes, and the prefix of the Rust
/// variants.
#[derive(Debug)]
pub struct Table {
    patterns: Vec<Pattern>,
    rust_prefix: String,
}

impl Table {
    #[must_use]
    pub fn new(routes: &[RouteConfig], rust_prefix: String) -> Self {
        let patterns = routes
            .iter()
            .map(|route| Pattern {
                segments: route.segments.clone(),
                plain_native: route.plain_native,
            })
            .collect();
        Self {
            patterns,
            rust_prefix,
        }
    }

    /// The native route `path` (raw, as sent) names, if any.
    #[must_use]
    pub fn find(&self, path: &str) -> Option<Match> {
        if path.contains('%') {
            return None; // escapes: Flask's decoding rules are gunicorn's to apply
        }
        let (variant, rest) = match path.strip_prefix(self.rust_prefix.as_str()) {
            Some(rest) if rest.starts_with('/') => (Variant::Rust, rest),
            _ => (Variant::Plain, path),
        };
        self.patterns
            .iter()
            .enumerate()
            .find_map(|(index, pattern)| {
                if variant == Variant::Plain && !pattern.plain_native {
                    return None;
                }
                let arguments = match_segments(&pattern.segments, rest)?;
                Some(Match {
                    route: index,
                    variant,
                    arguments,
                })
            })
    }
}

fn match_segments(segments: &[Segment], mut rest: &str) -> Option<Vec<(String, Value)>> {
    let mut arguments = Vec::new();
    for segment in segments {
        match segment {
            Segment::Literal { text } => rest = rest.strip_prefix(text.as_str())?,
            Segment::Int { name } => {
                let end = rest.find('/').unwrap_or(rest.len());
                let digits = &rest[..end];
                // Python refuses to convert more than 4300 digits: Flask answers 404.
                let canonical = !digits.is_empty()
                    && digits.len() <= 4300
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && (digits == "0" || !digits.starts_with('0'));
                if !canonical {
                    return None;
                }
                arguments.push((name.clone(), Value::Int(digits.to_owned())));
                rest = &rest[end..];
            }
            Segment::String { name } => {
                let end = rest.find('/').unwrap_or(rest.len());
                if end == 0 {
                    return None;
                }
                arguments.push((name.clone(), Value::Text(rest[..end].to_owned())));
                rest = &rest[end..];
            }
        }
    }
    rest.is_empty().then_some(arguments)
}

/// The arguments as the JSON object a native entry takes.
#[must_use]
pub fn arguments_json(arguments: &[(String, Value)]) -> String {
    let mut json = String::from("{");
    for (i, (name, value)) in arguments.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&serde_json::to_string(name).unwrap_or_default());
        json.push(':');
        match value {
            Value::Int(digits) => json.push_str(digits),
            Value::Text(text) => json.push_str(&serde_json::to_string(text).unwrap_or_default()),
            Value::Json(value) => json.push_str(&value.to_string()),
        }
    }
    json.push('}');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(plain_native: bool) -> Table {
        let route = RouteConfig {
            kernel: "sum_of_primes".into(),
            answers: serde_json::from_value(serde_json::json!({
                "ok": {"status": 200, "headers": [], "body": "{result}"},
                "overloaded": {"status": 503, "headers": [], "body": ""},
                "bad_input": {"status": 400, "headers": [], "body": "{message}"},
                "deadline_exceeded": {"status": 504, "headers": [], "body": ""},
                "rust_panic": {"status": 500, "headers": [], "body": ""},
                "invalid_result": {"status": 500, "headers": [], "body": ""},
            }))
            .unwrap(),
            entry: "e".into(),
            segments: vec![
                Segment::Literal {
                    text: "/sum_of_primes/".into(),
                },
                Segment::Int { name: "n".into() },
            ],
            plain_native,
            shadow_rate: 0.0,
            limits: vec![],
            concurrency: None,
            inline_below: None,
            methods: vec![],
            parameters: vec![],
        };
        Table::new(&[route], "/rust".into())
    }

    #[test]
    fn matches_the_rust_and_plain_variants() {
        let found = table(true).find("/rust/sum_of_primes/100").unwrap();
        assert_eq!(found.variant, Variant::Rust);
        assert_eq!(
            found.arguments,
            vec![("n".into(), Value::Int("100".into()))]
        );
        assert_eq!(
            table(true).find("/sum_of_primes/0").unwrap().variant,
            Variant::Plain
        );
        assert!(table(false).find("/sum_of_primes/7").is_none());
        assert!(table(false).find("/rust/sum_of_primes/7").is_some());
    }

    #[test]
    fn leaves_everything_unusual_to_gunicorn() {
        let t = table(true);
        for path in [
            "/python/sum_of_primes/7",
            "/rust/sum_of_primes/007",
            "/rust/sum_of_primes/7/",
            "/rust/sum_of_primes/",
            "/rust/sum_of_primes/-7",
            "/rust/sum_of_primes/%37",
            "/rust/sum_of_primes/\u{0663}",
            "/rust//sum_of_primes/7",
            "/rustsum_of_primes/7",
            "/rust/sum_of_primes/7/8",
        ] {
            assert!(t.find(path).is_none(), "{path}");
        }
    }

    #[test]
    fn builds_a_json_object() {
        let args = vec![
            ("n".to_string(), Value::Int("12".into())),
            ("s".to_string(), Value::Text("a\"b".into())),
        ];
        assert_eq!(arguments_json(&args), r#"{"n":12,"s":"a\"b"}"#);
    }
}
